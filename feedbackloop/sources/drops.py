"""File drops: JSONL or CSV exports from sources without an API (sales call notes, CS notes,
survey answers) imported into `raw.notes`.

Schema (one record per JSONL line, or per CSV row under a header row; CSV empty cells are
"not given"):

==============  ========  =====================================================================
field           required  meaning
==============  ========  =====================================================================
id              yes       the record's id in its source (stored as `source_id`), <= 128 chars
source          yes       where it comes from: lower-case ``[a-z0-9_-]``, e.g. gong, survey
department      yes       one of: sales, cs, support, marketing, product
created_at      yes       ISO 8601 date-time; without an offset it is taken as UTC
text            yes       the note, answer or comment (masked before storage)
contact_email   no        the customer's address: mapped to a contact, never stored
account_id      no        the account's id in the CRM (`account_source_id`)
rating          no        integer 0-10 (CSAT 1-5 or NPS 0-10)
kind            no        sales_call, cs_note, survey_answer, ...; default ``note``
updated_at      no        ISO 8601; default `created_at`. The newest version of a record wins,
                          so bump it to correct a record that was already imported.
==============  ========  =====================================================================

The format comes from the suffix: ``.jsonl``/``.ndjson`` or ``.csv`` (UTF-8, optional BOM).
A file that cannot be read as a whole is refused before anything is stored
(`UnreadableFile`, one line naming the file and the problem): another suffix, an empty file,
UTF-16, binary data, a CSV header without the required columns, a JSONL file none of whose
first 1,000 lines is a JSON object or none of whose first 1,000 records has a required field.
The file is streamed and loaded in batches that commit on their own, so memory stays flat and
a crash loses at most one batch; importing again is idempotent. Each record is validated;
a bad one is quarantined (`ops.quarantine`, stream ``notes``) with its line number and the
reason, masked, and the rest loads. Every other field is masked too, and an id that holds
personal data (an address as `id`, a card number as `account_id`) is stored as its keyed
hash (`feedbackloop.governance.fields`), so importing it again still finds the same row. A
contact is found by the keyed hash of the normalized address (`raw.contacts.email_hash`,
oldest matching contact first); an unknown address gets a new contact (source ``drops``,
source_id ``drop-`` + the first 16 hex of the hash). One
`ops.audit_log` row per import records the counts, which reconcile:
``read == written + unchanged + quarantined``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, Engine, exists, select

from feedbackloop.db.models import Contact, ContactMerge, Note
from feedbackloop.db.upsert import insert_new, quarantine, upsert_rows
from feedbackloop.governance import audit
from feedbackloop.governance.fields import mask_fields
from feedbackloop.governance.identity import check_email, email_hash
from feedbackloop.sources.base import only_newer
from feedbackloop.sources.files import UnreadableFile, check_text_file
from nlp.pii import MASKER_VERSION, mask_text, mask_value

__all__ = [
    "DROPS_SOURCE",
    "DropRecord",
    "DropResult",
    "UnreadableFile",
    "check_drop_file",
    "import_drop",
]

DROPS_SOURCE = "drops"
STREAM = "notes"
BATCH_SIZE = 500
EXCERPT_CHARS = 500
# Lines a JSONL file is judged on before anything is stored (see `check_drop_file`).
PRESCAN_LINES = 1000
REQUIRED = ("id", "source", "department", "created_at", "text")

_SOURCE = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
_AT_WORD = re.compile(r"[^\s\"',;]*@[^\s\"',;]*")
_SURROGATE = re.compile("[\ud800-\udfff]")


class DropRecord(BaseModel):
    """One record of a drop file, as documented in the module docstring."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=128)
    source: str = Field(pattern=_SOURCE)
    department: Literal["sales", "cs", "support", "marketing", "product"]
    created_at: datetime
    text: str = Field(min_length=1)
    contact_email: str | None = Field(default=None, max_length=320)
    account_id: str | None = Field(default=None, max_length=128)
    rating: int | None = Field(default=None, ge=0, le=10)
    kind: str = Field(default="note", min_length=1, max_length=32)
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_missing(cls, data: Any) -> Any:
        # CSV has no null: an empty cell means "not given", so defaults apply.
        if isinstance(data, dict):
            if any(isinstance(v, str) and _undecodable(v) for v in data.values()):
                raise ValueError("invalid Unicode (a lone surrogate escape)")
            # NUL carries no meaning in a note and PostgreSQL text cannot hold it.
            data = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in data.items()}
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _default_updated_at(self) -> DropRecord:
        if self.updated_at is None:
            self.updated_at = self.created_at
        elif self.updated_at < self.created_at:
            raise ValueError("updated_at is before created_at")
        return self


@dataclass
class DropResult:
    """What one import did. `read == written + unchanged + quarantined` always holds."""

    path: str
    format: str
    read: int = 0
    written: int = 0
    unchanged: int = 0
    quarantined: int = 0
    contacts_created: int = 0
    invalid_emails: int = 0
    masked_entities: Counter[str] = field(default_factory=Counter)

    def reconciles(self) -> bool:
        return self.read == self.written + self.unchanged + self.quarantined


@dataclass(frozen=True)
class _Line:
    number: int
    record: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None


# ----------------------------------------------------------------------------- reading


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise UnreadableFile(path, f"unsupported drop format {suffix!r} (use .jsonl or .csv)")


def _open(path: Path) -> io.TextIOWrapper:
    # surrogateescape: an undecodable byte spoils its own line (quarantined), not the file.
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def _check_header(reader: csv.DictReader[str], path: Path) -> None:
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise UnreadableFile(path, f"unreadable CSV header ({exc})") from None
    if any(_undecodable(name) for name in header):
        raise UnreadableFile(path, "the CSV header is not UTF-8 text")
    # The header is not quoted back: a file without one starts with a record.
    missing = set(REQUIRED) - set(header)
    if missing:
        raise UnreadableFile(
            path, f"CSV header lacks required columns: {', '.join(sorted(missing))}"
        )


def _check_jsonl(fh: io.TextIOBase, path: Path) -> None:
    lines = objects = 0
    fields: set[str] = set()
    for line in _jsonl(fh):
        lines += 1
        if line.record is not None:
            objects += 1
            fields.update(str(k) for k in line.record)
        if lines >= PRESCAN_LINES:
            break
    if not objects:
        raise UnreadableFile(
            path, f"not JSON Lines: none of the first {lines:,} lines is a JSON object"
        )
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        raise UnreadableFile(
            path,
            f"no record has the required field(s) {', '.join(missing)} "
            f"(checked the first {objects:,} records)",
        )


def check_drop_file(path: Path | str) -> str:
    """The drop's format (``jsonl`` or ``csv``); raises `UnreadableFile` for a file that cannot
    be imported at all (see the module docstring). Reads the first lines only."""
    path = Path(path)
    check_text_file(path)
    fmt = _format_of(path)
    with _open(path) as fh:
        if fmt == "csv":
            _check_header(csv.DictReader(fh, strict=True), path)
        else:
            _check_jsonl(fh, path)
    return fmt


def _undecodable(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def _jsonl(fh: io.TextIOBase) -> Iterator[_Line]:
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        if _undecodable(line):
            yield _Line(number, None, "invalid UTF-8", line)
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield _Line(number, None, f"malformed JSON: {type(exc).__name__}", line)
            continue
        if not isinstance(value, dict):
            yield _Line(number, None, "line is not a JSON object", line)
            continue
        yield _Line(number, value, raw=line)


def _csv(fh: io.TextIOBase, path: Path) -> Iterator[_Line]:
    # The text each record was read from: a bad one is parked (and told apart) by it.
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for text in fh:
            consumed.append(text)
            yield text

    def raw() -> str:
        text = "".join(consumed)
        consumed.clear()
        return text

    reader = csv.DictReader(lines(), strict=True)
    _check_header(reader, path)
    consumed.clear()
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Line(start, None, f"malformed CSV: {exc}", raw())
            start = reader.line_num + 1
            continue
        # The line a record starts on (a quoted field may span lines).
        number, start = start, reader.line_num + 1
        if None in row:
            yield _Line(number, None, "more cells than header columns", raw())
            continue
        if any(_undecodable(v) for v in row.values() if isinstance(v, str)):
            yield _Line(number, None, "invalid UTF-8", raw())
            continue
        yield _Line(number, dict(row), raw=raw())


# ----------------------------------------------------------------------------- contacts


def _contacts_for(
    conn: Connection, seen: dict[str, tuple[datetime, str | None]]
) -> tuple[dict[str, str], int]:
    """email hash -> contact source_id, creating `drops` contacts for unknown hashes.

    `seen` maps each hash of the batch to (its earliest record time, its email domain)."""
    hashes = list(seen)
    if not hashes:
        return {}, 0
    c = Contact.__table__.c
    merged = exists().where(
        ContactMerge.__table__.c.contact_source == c.source,
        ContactMerge.__table__.c.contact_source_id == c.source_id,
    )
    # Oldest contact with the address first, merged duplicates last: the merge rule's survivor.
    rows = conn.execute(
        select(c.email_hash, c.source_id)
        .where(c.email_hash.in_(hashes), c.erased_at.is_(None))
        .order_by(c.email_hash, merged, c.created_at.asc().nulls_last(), c.source, c.source_id)
    ).all()
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(row.email_hash, row.source_id)
    new_rows = [
        {
            "source": DROPS_SOURCE,
            "source_id": f"drop-{h[:16]}",
            "email_hash": h,
            "email_domain": seen[h][1],
            "email_valid": True,
            "created_at": seen[h][0],
            "updated_at": seen[h][0],
        }
        for h in hashes
        if h not in found
    ]
    made = 0
    if new_rows:
        made = len(insert_new(conn, Contact, new_rows))
        for r in new_rows:
            found[r["email_hash"]] = r["source_id"]
    return found, made


# ----------------------------------------------------------------------------- import


def _validation_reason(exc: ValidationError) -> str:
    # Field names and messages only: pydantic's default text quotes the (unmasked) input.
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    )[:500]


def _safe_payload(record: dict[str, Any] | None, raw: str | None) -> dict[str, Any]:
    if record is None:
        # Masking only catches well-formed addresses; anything with an @ goes too.
        return {"excerpt": _AT_WORD.sub("<EMAIL_ADDRESS>", (raw or "")[:EXCERPT_CHARS])}
    safe = {str(k): v for k, v in record.items() if k is not None}
    if safe.get("contact_email"):
        # Masking only catches well-formed addresses; a typo'd one must not be kept either.
        safe["contact_email"] = "<EMAIL_ADDRESS>"
    return safe


def _park(
    conn: Connection, path: Path, line: _Line, reason: str, *, hash_key: bytes, actor: str
) -> None:
    # ops.quarantine is keyed by content (source, stream, payload), never by position: the
    # same bad record imported again is one row, another one on the same line of a file of
    # the same name is a second row. The payload is masked and its excerpt cut short, so a
    # keyed hash of the whole record as read keeps records that mask alike apart.
    payload = mask_value(_safe_payload(line.record, line.raw))
    content = (
        line.raw.rstrip("\r\n") if line.raw is not None else json.dumps(line.record, default=str)
    )
    payload["record_key"] = hmac.new(
        hash_key, content.encode("utf-8", "surrogateescape"), hashlib.sha256
    ).hexdigest()
    quarantine(
        conn,
        source=DROPS_SOURCE,
        stream=STREAM,
        # Where it was first seen, for the person who resolves it; not part of the key.
        source_id=f"{path.name[:100]}:{line.number}",
        reason=f"line {line.number}: {reason}",
        payload=payload,
        actor=actor,
    )


def _flush(
    engine: Engine,
    path: Path,
    batch: Sequence[tuple[_Line, DropRecord]],
    bad: Sequence[tuple[_Line, str]],
    *,
    hash_key: bytes,
    actor: str,
    result: DropResult,
) -> None:
    with engine.begin() as conn:
        for line, reason in bad:
            _park(conn, path, line, reason, hash_key=hash_key, actor=actor)
        result.quarantined += len(bad)
        if not batch:
            return
        # Records stored already in the same or a newer version would not change: found by
        # their stored key first (the id masked as the row's would be, column by column), so
        # a re-imported file is not masked and matched to contacts again.
        keys = [
            {
                **mask_fields({"source": rec.source, "source_id": rec.id}, key=hash_key),
                "updated_at": rec.updated_at,
            }
            for _, rec in batch
        ]
        fresh_keys, unchanged = only_newer(conn, Note, keys)
        result.unchanged += unchanged
        kept = {id(k) for k in fresh_keys}
        fresh = [rec for (_, rec), k in zip(batch, keys, strict=True) if id(k) in kept]
        hashes: dict[int, str] = {}
        seen: dict[str, tuple[datetime, str | None]] = {}
        for i, rec in enumerate(fresh):
            if not rec.contact_email:
                continue
            check = check_email(rec.contact_email)
            if not check.valid or check.normalized is None:
                result.invalid_emails += 1
                continue
            h = email_hash(check.normalized, hash_key)
            hashes[i] = h
            first = seen[h][0] if h in seen else rec.created_at
            seen[h] = (min(first, rec.created_at), check.domain)
        contacts, made = _contacts_for(conn, seen)
        result.contacts_created += made
        rows = []
        for i, rec in enumerate(fresh):
            masked = mask_text(rec.text)
            result.masked_entities.update(e.type for e in masked.entities)
            row = {
                "source": rec.source,
                "source_id": rec.id,
                "department": rec.department,
                "kind": rec.kind,
                "text": masked.text,
                "contact_source_id": contacts.get(hashes[i]) if i in hashes else None,
                "account_source_id": rec.account_id,
                "rating": rec.rating,
                "created_at": rec.created_at,
                "updated_at": rec.updated_at,
            }
            # Ids and categories too: an id that is itself PII becomes its keyed hash.
            rows.append(
                mask_fields(row, key=hash_key, skip=("text",), counts=result.masked_entities)
            )
        outcome = upsert_rows(
            conn,
            Note,
            rows,
            source=DROPS_SOURCE,
            stream=STREAM,
            mask_payload=mask_value,
            actor=actor,
        )
        result.written += outcome.written
        result.quarantined += outcome.quarantined


def import_drop(
    engine: Engine,
    path: Path | str,
    *,
    hash_key: bytes,
    actor: str,
    known_sources: Collection[str] | None = None,
    batch_size: int = BATCH_SIZE,
) -> DropResult:
    """Import one JSONL or CSV drop file into `raw.notes` (see the module docstring).

    `known_sources`, when given, is the list of accepted `source` values (e.g.
    `settings.known_sources`); other sources are quarantined. Raises `UnreadableFile` (a
    ValueError) for a file that cannot be imported at all, before anything is stored.
    """
    path = Path(path)
    fmt = check_drop_file(path)
    result = DropResult(path=path.name, format=fmt)
    allowed = set(known_sources) if known_sources is not None else None
    batch: list[tuple[_Line, DropRecord]] = []
    bad: list[tuple[_Line, str]] = []
    seen: set[tuple[str, str]] = set()

    def flush() -> None:
        _flush(engine, path, batch, bad, hash_key=hash_key, actor=actor, result=result)
        batch.clear()
        bad.clear()
        seen.clear()

    with _open(path) as fh:
        lines = _jsonl(fh) if fmt == "jsonl" else _csv(fh, path)
        for line in lines:
            result.read += 1
            if line.record is None:
                bad.append((line, line.error or "unreadable record"))
            else:
                try:
                    rec = DropRecord.model_validate(line.record)
                except ValidationError as exc:
                    bad.append((line, _validation_reason(exc)))
                else:
                    if allowed is not None and rec.source not in allowed:
                        bad.append((line, f"source: {rec.source!r} is not a known source"))
                    else:
                        key = (rec.source, rec.id)
                        if key in seen:
                            # The same record again further down: load it after the first one,
                            # in file order, so the newer version wins as it would across files.
                            flush()
                        seen.add(key)
                        batch.append((line, rec))
            if len(batch) + len(bad) >= batch_size:
                flush()
        flush()

    with engine.begin() as conn:
        audit.record(
            conn,
            actor=actor,
            action="import",
            entity_type="drop_file",
            entity_id=path.name,
            details={
                "format": fmt,
                "read": result.read,
                "written": result.written,
                "unchanged": result.unchanged,
                "quarantined": result.quarantined,
                "contacts_created": result.contacts_created,
                "invalid_emails": result.invalid_emails,
                "masked_entities": dict(result.masked_entities),
                "masker": MASKER_VERSION,
            },
            reason="file drop imported into raw.notes",
        )
    return result
