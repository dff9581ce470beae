"""PII detection and masking: regexes and validators for six pattern types, context rules
and a name gazetteer for PERSON; no model, standard library plus Faker's name lists.

A leaf library: governance (storage, logs, audit) and the spaCy component `nlp.pii_masker`
both mask through it, so every path masks the same spans under one `MASKER_VERSION`.
"""

from nlp.pii.masking import (
    CREDIT_CARD,
    EMAIL_ADDRESS,
    ENTITY_TYPES,
    IBAN_CODE,
    IP_ADDRESS,
    MASKER_VERSION,
    PATTERN_TYPES,
    PERSON,
    PHONE_NUMBER,
    US_SSN,
    CountingMasker,
    MaskCache,
    MaskResult,
    PiiEntity,
    find_pii,
    mask,
    mask_text,
    mask_value,
)

__all__ = [
    "CREDIT_CARD",
    "EMAIL_ADDRESS",
    "ENTITY_TYPES",
    "IBAN_CODE",
    "IP_ADDRESS",
    "MASKER_VERSION",
    "PATTERN_TYPES",
    "PERSON",
    "PHONE_NUMBER",
    "US_SSN",
    "CountingMasker",
    "MaskCache",
    "MaskResult",
    "PiiEntity",
    "find_pii",
    "mask",
    "mask_text",
    "mask_value",
]
