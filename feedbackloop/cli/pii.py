"""`feedbackloop pii`: mask personal data in JSON Lines, streaming stdin to stdout."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import typer

from feedbackloop.cli.errors import fail
from feedbackloop.sources.files import SNIFF_BYTES, sniff
from nlp.pii import mask_text

app = typer.Typer(help="Personal-data masking.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Personal-data masking."""
    # A callback keeps `mask` a subcommand even while it is the only one.


def _parse(raw: bytes, line_no: int) -> tuple[dict[str, Any] | None, str | None]:
    """The line's object, or an error that names what is wrong, never what the line holds
    (it may be personal data)."""
    try:
        line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    if not isinstance(obj.get("text"), str):
        return None, 'missing or non-string "text"'
    return obj, None


def _stream(stdin: IO[bytes], stdout: IO[bytes]) -> tuple[int, int]:
    ok = bad = 0
    for line_no, raw in enumerate(stdin, start=1):
        if not raw.strip():
            continue
        obj, error = _parse(raw, line_no)
        if obj is None:
            bad += 1
            typer.echo(f"error: line {line_no}: {error}; line skipped", err=True)
            continue
        result = mask_text(obj["text"])
        out = {
            "id": obj.get("id"),
            "text": result.text,
            "entities": [{"type": e.type, "start": e.start, "end": e.end} for e in result.entities],
        }
        stdout.write(json.dumps(out, ensure_ascii=False).encode("utf-8") + b"\n")
        stdout.flush()  # downstream consumers see each record as soon as it is masked
        ok += 1
    return ok, bad


@app.command("mask")
def mask_command() -> None:
    """Mask PII in JSONL read from stdin and write JSONL to stdout.

    Each input line is {"id": ..., "text": "..."} ("id" is passed through, any JSON value).
    Each output line is {"id", "text": masked text, "entities": [{"type", "start", "end"}]},
    offsets into the input text. Malformed lines are reported on stderr by line number
    (never by content) and skipped; the exit code is then 2. Binary or UTF-16 input is
    refused in one line before anything is written (exit code 2).
    """
    stdin = sys.stdin.buffer
    # Binary or UTF-16 input is refused in one line, not one error per line. peek() returns
    # what is buffered already, so the stream's first record is not held back.
    peek = getattr(stdin, "peek", None)
    problem = sniff(peek(SNIFF_BYTES)[:SNIFF_BYTES]) if peek is not None else None
    if problem is not None:
        raise fail(f"stdin: {problem}")
    _ok, bad = _stream(stdin, sys.stdout.buffer)
    if bad:
        typer.echo(f"error: {bad} malformed line(s) skipped", err=True)
        raise typer.Exit(code=2)
