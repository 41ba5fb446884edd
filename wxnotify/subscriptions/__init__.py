"""Templates, activities, subscribe entry points and the subscription ledger."""
