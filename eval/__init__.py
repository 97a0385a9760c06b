"""The project's own evaluation (``make eval``): held-out cases, the referee's judging, thresholds.

Nothing under eval/ is ever training data (eval/README.md).
"""
