"""Benchmarks: each script prints a readable table and one `RESULT <name> key=value ...` line."""
