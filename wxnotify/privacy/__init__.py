"""Patients' personal data as PIPL asks: export and erasure on request, retention by itself (PRIVACY.md)."""
