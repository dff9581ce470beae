"""Email addresses: validated early, then replaced by a keyed hash before storage."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True)
class EmailCheck:
    normalized: str | None
    valid: bool
    domain: str | None
    reason: str | None


def normalize_email(address: str) -> str:
    """Trimmed and lower-cased: the form duplicates are matched on."""
    return address.strip().lower()


def check_email(address: str | None) -> EmailCheck:
    """Syntax check only (no DNS): deliverability lookups are opt-in elsewhere."""
    if address is None or not address.strip():
        return EmailCheck(None, False, None, "missing")
    normalized = normalize_email(address)
    try:
        info = validate_email(normalized, check_deliverability=False)
    except EmailNotValidError as exc:
        domain = normalized.rsplit("@", 1)[1] if normalized.count("@") == 1 else None
        # email-validator's messages quote the address back; keep only the generic cause.
        return EmailCheck(normalized, False, domain, _generic_reason(str(exc)))
    return EmailCheck(info.normalized.lower(), True, info.domain.lower(), None)


def _generic_reason(message: str) -> str:
    lowered = message.lower()
    for needle, reason in (
        ("@-sign", "missing @"),
        ("period", "misplaced period"),
        ("dot", "misplaced period"),
        ("domain", "invalid domain"),
        ("character", "invalid character"),
        ("too long", "too long"),
    ):
        if needle in lowered:
            return reason
    return "invalid address"


def email_hash(normalized: str, key: bytes) -> str:
    """HMAC-SHA256: stable for matching and erasure, useless to anyone without the key."""
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()
