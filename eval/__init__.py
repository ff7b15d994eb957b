"""Evaluation of retrieval and answers on analyst questions (``python -m eval``)."""
