"""Benchmark of the clinic assistant against Rasa's default configuration: ``python -m bench`` (docs/PERFORMANCE.md)."""
