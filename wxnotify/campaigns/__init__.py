"""Campaigns and the sending engine: compose, approve, schedule, send, log."""
