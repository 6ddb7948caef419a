"""The benchmarks, each run as `python -m bench.<name>` (README, "Quick start")."""
