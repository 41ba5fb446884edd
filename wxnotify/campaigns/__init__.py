"""Campaigns (C1–C5) and the sending engine (D1–D6): compose, approve, schedule, send, log."""
