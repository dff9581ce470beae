"""Data governance: PII masking for texts, JSON payloads and logs."""

from feedbackloop.governance.logging import PiiMaskingFilter, install_pii_logging_filter
from feedbackloop.governance.pii import (
    ENTITY_TYPES,
    MaskResult,
    PiiEntity,
    find_pii,
    mask,
    mask_text,
    mask_value,
)

__all__ = [
    "ENTITY_TYPES",
    "MaskResult",
    "PiiEntity",
    "PiiMaskingFilter",
    "find_pii",
    "install_pii_logging_filter",
    "mask",
    "mask_text",
    "mask_value",
]
