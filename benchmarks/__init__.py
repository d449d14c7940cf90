"""Runnable benchmarks: `python -m benchmarks.<name> [--quick]`; nothing imports them."""
