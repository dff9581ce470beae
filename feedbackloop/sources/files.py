"""Input files read as UTF-8 text (drops, CSVs to score or cluster, stdin): what makes a file
unreadable as a whole, said in one line that names the file and never quotes its content.

`check_text_file` looks at the first bytes only (empty, UTF-16/32, binary, an archive), so a
command refuses a file before it stores or writes anything. A file that starts as text but
holds bad bytes further down is the reader's business (a drop quarantines those lines).
"""

from __future__ import annotations

import codecs
from pathlib import Path

__all__ = ["SNIFF_BYTES", "UnreadableFile", "check_text_file", "decode_problem", "sniff"]

SNIFF_BYTES = 64 * 1024
# Share of undecodable bytes and control characters above which a sample is not text.
_BINARY_SHARE = 0.1
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r\f\v"} | {"\x7f"}
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx or .zip?), not text",
    b"\x1f\x8b": "gzip-compressed, not text (decompress it first)",
    b"%PDF": "a PDF document, not text",
}


class UnreadableFile(ValueError):
    """A file that cannot be read as a whole; `str()` is `<name>: <problem>`, one line."""

    def __init__(self, name: str | Path, problem: str) -> None:
        self.name = str(name)
        self.problem = problem
        super().__init__(f"{self.name}: {problem}")


def sniff(head: bytes) -> str | None:
    """What makes `head` (the first bytes of a file) unreadable as UTF-8 text, or None."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "encoded as UTF-32, not UTF-8 (save it as UTF-8)"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "encoded as UTF-16, not UTF-8 (save it as UTF-8)"
    for magic, problem in _MAGIC.items():
        if head.startswith(magic):
            return problem
    sample = head[:4096]
    if b"\x00" in sample:
        # ASCII saved as UTF-16 without a byte-order mark: every other byte is NUL.
        even, odd = sample[0::2], sample[1::2]
        if max(even.count(0) / max(len(even), 1), odd.count(0) / max(len(odd), 1)) > 0.4:
            return "looks like UTF-16 without a byte-order mark, not UTF-8 (save it as UTF-8)"
        return "binary data (NUL bytes), not a text file"
    # A cut-off multi-byte character at the end of the sample is not an error.
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head)
    if text:
        bad = text.count("\ufffd") + sum(1 for ch in text if ch in _CONTROL)
        if bad / len(text) > _BINARY_SHARE:
            return "binary data, not UTF-8 text"
    return None


def check_text_file(path: Path | str, *, allow_empty: bool = False) -> None:
    """Raise `UnreadableFile` when `path` is missing, not a readable file, empty (unless
    `allow_empty`), or does not start as UTF-8 text."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise UnreadableFile(path, "no such file") from None
    except IsADirectoryError:
        raise UnreadableFile(path, "is a directory, not a file") from None
    except PermissionError:
        raise UnreadableFile(path, "permission denied") from None
    except OSError as exc:
        raise UnreadableFile(
            path, f"cannot read it ({exc.strerror or type(exc).__name__})"
        ) from None
    if not head.strip() and not allow_empty:
        raise UnreadableFile(path, "empty file (no records)")
    problem = sniff(head)
    if problem is not None:
        raise UnreadableFile(path, problem)


def decode_problem(exc: UnicodeDecodeError, path: Path | str | None = None) -> str:
    """One line for a decode error, without the bytes around it (they may be personal data);
    with `path`, what its first bytes show (UTF-16, binary) when that explains it."""
    if path is not None:
        try:
            check_text_file(path, allow_empty=True)
        except UnreadableFile as unreadable:
            return unreadable.problem
    # exc.start counts from the decoder's current chunk, not the file: no offset given.
    return f"not UTF-8 text ({exc.reason} further down the file)"
