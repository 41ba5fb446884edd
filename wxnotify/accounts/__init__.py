"""Official accounts (P1): credentials encrypted at rest, memberships and roles, the shared token cache."""
