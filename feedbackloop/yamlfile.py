"""Read a YAML file our users write (routing rules, milestones): its text, the mapping and its
version, and what a validation failure says; every failure is one line naming the file."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


def describe(
    exc: ValidationError,
    raw: Mapping[str, Any],
    items: Mapping[str, str],
    hidden: Collection[str] = (),
) -> str:
    """The first validation error, as `rule "x", field when.sentiment_label: ...`, never
    quoting the input. `items`: the top-level lists and mappings whose items it names, with
    what one is called ({"rules": "rule"}): a list item by its `name` (when a string of at most
    64 characters, else `rule #3`), a mapping item by its key. `hidden`: location parts
    pydantic adds for a union member."""
    err = exc.errors()[0]
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p in hidden)]
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field missing"
    where, rest = "file", loc
    kind = items.get(str(loc[0])) if len(loc) > 1 else None
    found = raw.get(str(loc[0])) if kind else None
    if kind and isinstance(found, list) and isinstance(loc[1], int):
        item = found[loc[1]] if loc[1] < len(found) else None
        name = item.get("name") if isinstance(item, dict) else None
        shown = name if isinstance(name, str) and len(name) <= 64 else None
        where = f'{kind} "{shown}"' if shown else f"{kind} #{loc[1] + 1}"
        rest = loc[2:]
    elif kind and isinstance(found, dict):
        where = f'{kind} "{loc[1]}"'
        rest = loc[2:]
    path = ""
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{where}, field {path or '(top level)'}: {msg}"


def read_file(path: Path, *, error: type[Exception], what: str, setting: str) -> str:
    """The text of the file at `path`. A failure raises `error` with one line: not found (naming
    `setting`, which points at the file), or not a UTF-8 text file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} file not found: {path} ({setting})") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise error(f"{path}: not a UTF-8 text file") from None


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
