"""Prefect flows: thin orchestration over `feedbackloop` and `nlp` library functions."""

from feedbackloop.governance.logging import install_pii_logging_filter
from feedbackloop.memory import tune_allocator

# Flow runs log through Prefect's handlers too: mask every record, whoever serves the flows.
install_pii_logging_filter()
# Large arrays (topic vectors, distances) go back to the system when freed (feedbackloop.memory).
tune_allocator()
