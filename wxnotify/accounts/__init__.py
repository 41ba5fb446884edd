"""Official accounts: credentials encrypted at rest, memberships and roles, the shared token cache."""
