"""dlbook's budgets, measured: `make bench` (or `python -m benchmarks`) runs them all."""
