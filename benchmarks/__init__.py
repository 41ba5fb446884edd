"""Benchmarks: `make bench` runs them and writes var/bench/summary.json. Figures, never pass/fail tests."""
