"""Templates, activities, subscribe entry points and the subscription ledger (T1, T2, S1–S3, A1)."""
