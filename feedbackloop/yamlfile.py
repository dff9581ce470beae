"""Read a YAML file our users write (routing rules, milestones): a mapping and its version."""

from __future__ import annotations

import hashlib
from typing import Any

import yaml


def parse_mapping(
    raw_text: str, *, source: str, error: type[Exception], expected: str, empty_ok: bool = False
) -> tuple[dict[str, Any], str]:
    """The mapping `raw_text` holds and its version (12 hex digits of its SHA-256).

    A failure raises `error` with one line naming `source`: where the YAML is broken (never the
    text itself), or "expected a mapping with `expected`". `empty_ok`: an empty file is `{}`."""
    try:
        raw = yaml.safe_load(raw_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{source}: not valid YAML{where}") from None
    if raw is None and empty_ok:
        raw = {}
    if not isinstance(raw, dict):
        raise error(f"{source}: expected a mapping with {expected}")
    return raw, hashlib.sha256(raw_text.encode()).hexdigest()[:12]
