"""Bad input files given to the console script: one line naming the file and the problem,
exit code 2, no traceback, and nothing stored from a file that cannot be read."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from support import cli as support_cli

from feedbackloop.config import Settings

HEADER = "id,source,department,created_at,text\n"
RECORD = {
    "id": "n-1",
    "source": "survey",
    "department": "cs",
    "created_at": "2026-10-01T10:00:00Z",
    "text": "Exports fail; reach me at jane.doe@example.com",
}
# Deterministic "random" bytes with NULs, as a corrupted or mis-named binary file has.
GARBAGE = bytes((i * 7919 + 13) % 256 for i in range(3000))


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None):
    return support_cli.run_cli(*args, env=env, stdin=stdin, text=False, timeout=300)


def assert_one_line(result: subprocess.CompletedProcess[bytes], name: str) -> str:
    out = (result.stdout + result.stderr).decode("utf-8", "replace")
    lines = [line for line in out.splitlines() if line.strip()]
    assert result.returncode == 2, out
    assert "Traceback" not in out
    assert len(lines) == 1, out
    assert name in lines[0], out
    return lines[0]


DROPS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "empty jsonl": ("empty.jsonl", lambda p: p.write_bytes(b"")),
    "blank csv": ("blank.csv", lambda p: p.write_bytes(b"\n\n  \n")),
    "binary jsonl": ("garbage.jsonl", lambda p: p.write_bytes(GARBAGE)),
    "binary csv": ("garbage.csv", lambda p: p.write_bytes(GARBAGE)),
    "wrong columns": ("columns.csv", lambda p: p.write_text("a,b,c\n1,2,3\n")),
    "txt suffix": ("notes.txt", lambda p: p.write_text(json.dumps(RECORD) + "\n")),
    "utf-16 csv": (
        "utf16.csv",
        lambda p: p.write_bytes((HEADER + "n-1,survey,cs,2026-10-01,hi\n").encode("utf-16")),
    ),
    "utf-16 jsonl without BOM": (
        "utf16.jsonl",
        lambda p: p.write_bytes((json.dumps(RECORD) + "\n").encode("utf-16-le")),
    ),
    "prose as jsonl": ("prose.jsonl", lambda p: p.write_text("Dear team,\nthe export fails.\n")),
    "jsonl of another schema": (
        "other.jsonl",
        lambda p: p.write_text('{"id": "1", "body": "x"}\n{"id": "2", "body": "y"}\n'),
    ),
    "xlsx named csv": ("sheet.csv", lambda p: p.write_bytes(b"PK\x03\x04" + GARBAGE)),
    "missing": ("missing.jsonl", lambda p: None),
    "directory": ("folder.jsonl", lambda p: p.mkdir()),
}


@pytest.mark.parametrize("case", list(DROPS))
def test_unreadable_drop_is_one_line_and_stores_nothing(
    case: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    name, make = DROPS[case]
    path = tmp_path / name
    make(path)
    env = {
        "FEEDBACKLOOP_STATE_DIR": str(settings.state_dir),
        "FEEDBACKLOOP_EMBEDDED_DATABASE": settings.embedded_database,
    }
    line = assert_one_line(run_cli("import", str(path), env=env), name)
    assert "jane.doe" not in line
    with engine.connect() as conn:
        for table in ("raw.notes", "raw.contacts", "ops.quarantine"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
        imports = conn.execute(
            text("SELECT count(*) FROM ops.audit_log WHERE entity_type = 'drop_file'")
        ).scalar_one()
    assert imports == 0


def _bad_byte_further_down(path: Path) -> None:
    path.write_bytes(b"text,label\n" + b"fine thanks,positive\n" * 4000 + b"\xff\xfe,neutral\n")


FILES: dict[str, Callable[[Path], None]] = {
    "garbage.csv": lambda p: p.write_bytes(GARBAGE),
    "utf16.csv": lambda p: p.write_bytes("text,label\nfine,positive\n".encode("utf-16")),
    "late.csv": _bad_byte_further_down,
}
LABELLED = ["--text-column", "text", "--label-column", "label"]
COMMANDS = {
    "nlp score": ["nlp", "score", "--text-column", "text", "--output", "{out}", "--input"],
    "nlp train": ["nlp", "train", *LABELLED, "--output", "{out}", "--input"],
    "nlp eval": ["nlp", "eval", *LABELLED, "--input"],
    "topics cluster": [
        "topics",
        "cluster",
        "--text-column",
        "text",
        "--output",
        "{out}",
        "--input",
    ],
    "topics eval": ["topics", "eval", *LABELLED, "--input"],
    "routing check": ["routing", "check"],
}


@pytest.mark.parametrize(
    ("command", "name"),
    [(c, n) for c in COMMANDS for n in ("garbage.csv", "utf16.csv")]
    + [("nlp score", "late.csv"), ("topics cluster", "late.csv"), ("routing check", "late.csv")],
)
def test_other_commands_reading_files_fail_in_one_line(
    command: str, name: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    FILES[name](path)
    args = [a.replace("{out}", str(tmp_path / "out")) for a in COMMANDS[command]]
    assert_one_line(run_cli(*args, str(path)), name)


@pytest.mark.parametrize(
    "stdin", [GARBAGE, (json.dumps(RECORD) + "\n").encode("utf-16")], ids=["binary", "utf-16"]
)
def test_pii_mask_refuses_binary_or_utf16_input_in_one_line(stdin: bytes) -> None:
    result = run_cli("pii", "mask", stdin=stdin)
    assert_one_line(result, "stdin")
    assert result.stdout == b""
