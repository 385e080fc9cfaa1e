"""Benchmark harness: `python bench/run.py` (see run.py)."""
