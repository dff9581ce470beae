"""Prefect flows: thin orchestration over `feedbackloop` and `nlp` library functions."""
