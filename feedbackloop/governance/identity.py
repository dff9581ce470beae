"""Email addresses: validated early, then replaced by a keyed hash before storage."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, caching_resolver, validate_email


@dataclass(frozen=True)
class EmailCheck:
    normalized: str | None
    valid: bool
    domain: str | None
    reason: str | None


def normalize_email(address: str) -> str:
    """Trimmed and lower-cased: the form duplicates are matched on."""
    return address.strip().lower()


def check_email(
    address: str | None, *, deliverability: bool = False, timeout: float = 2.0
) -> EmailCheck:
    """Syntax check; with `deliverability`, also a DNS lookup of the domain's MX records,
    bounded by `timeout` seconds (off by default: it is slow and needs the network)."""
    if address is None or not address.strip():
        return EmailCheck(None, False, None, "missing")
    normalized = normalize_email(address)
    try:
        if deliverability:
            info = validate_email(
                normalized, check_deliverability=True, dns_resolver=_resolver(timeout)
            )
        else:
            info = validate_email(normalized, check_deliverability=False)
    except EmailNotValidError as exc:
        domain = normalized.rsplit("@", 1)[1] if normalized.count("@") == 1 else None
        # email-validator's messages quote the address back; keep only the generic cause.
        return EmailCheck(normalized, False, domain, _generic_reason(str(exc)))
    return EmailCheck(info.normalized.lower(), True, info.domain.lower(), None)


@lru_cache(maxsize=4)
def _resolver(timeout: float) -> Any:
    return caching_resolver(timeout=timeout)


def _generic_reason(message: str) -> str:
    lowered = message.lower()
    for needle, reason in (
        ("does not exist", "domain does not exist"),
        ("does not accept email", "domain does not accept email"),
        ("timed out", "deliverability check timed out"),
        ("special-use or reserved", "reserved domain"),
        ("exactly one @", "not exactly one @"),
        ("@-sign", "invalid address"),
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
