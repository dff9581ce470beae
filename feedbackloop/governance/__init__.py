"""Data governance: what is stored and logged about people, and who may see it.

Masking itself is the leaf library `nlp.pii`; governance applies it to source fields and
JSON payloads (`fields`), logs (`logging`), the audit trail, consent, contacts and erasure.
"""

from feedbackloop.governance.logging import PiiMaskingFilter, install_pii_logging_filter

__all__ = ["PiiMaskingFilter", "install_pii_logging_filter"]
