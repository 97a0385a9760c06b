"""Sentence embeddings for understanding visitors (NLU) and grouping their messages (inbox).

A leaf package: it knows neither Rasa nor Sanic, so the Rasa server's featurizer and
the staff console's learning inbox share one encoder.
"""
