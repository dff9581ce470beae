"""The governance gate: a GX validation of each batch before it is stored.

Rows that fail a row-level expectation are quarantined with the expectation's name; the rest
are stored. Every run is recorded in `ops.validation_runs`. When the failed share of a stream
passes `FEEDBACKLOOP_GATE_MAX_FAILED_SHARE`, or an expectation cannot even be evaluated, the
batch counts as failed and the loop stops before routing (`GateFailed`).

The gate's PII column is `find_pii` run on every text about to be stored. A text the row
builders' masker (`ScreenedMasker`) already ran `find_pii` on and found nothing in is that
same text, so its answer is known: such texts (`clean`) are not scanned twice. Every other
text (one the masker changed, two columns joined, one no masker saw) is scanned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from sqlalchemy import Connection, insert

from feedbackloop.db.models import ValidationRun
from feedbackloop.governance.fields import masked_text
from feedbackloop.items import TEXT_COLUMNS, text_of
from feedbackloop.vocabulary import TEXT_ROW_TYPES
from nlp.pii import CountingMasker

if TYPE_CHECKING:
    from expectations.checkpoints import Outcome, Validator

Row = Mapping[str, Any]


class GateFailed(RuntimeError):
    """A batch failed its governance gate; the loop stops before routing."""


@dataclass
class GateDecision:
    passed: list[Row] = field(default_factory=list)
    rejected: list[tuple[Row, str]] = field(default_factory=list)
    outcome: Outcome | None = None


class ScreenedMasker(CountingMasker):
    """The row builders' masker, keeping the texts in which `find_pii` found nothing
    (`clean`): the gate's PII check is that same call on the stored text, so for those its
    answer is already known and it need not run again."""

    def __init__(self, counts: Counter[str] | None = None) -> None:
        super().__init__(counts)
        self.clean: set[str] = set()

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        # `mask_text` is `find_pii(text)` (people included), the gate's own call, plus masking
        # (in a sync run, once per distinct text).
        result = masked_text(text)
        if not result.entities:
            self.clean.add(text)
        self.counts.update(e.type for e in result.entities)
        return result.text


def unmasked_pii(text: str | None) -> str | None:
    """The PII types still found in text about to be stored, e.g. 'CREDIT_CARD,US_SSN'."""
    if not text:
        return None
    # `find_pii(text)`'s entities, as `mask_text` returns them (cached within a sync run).
    types = sorted({e.type for e in masked_text(text).entities})
    return ",".join(types) or None


def feedback_frame(
    rows: Sequence[Row],
    item_type: str,
    text_of: Callable[[Row], str | None],
    clean: Collection[str] = frozenset(),
) -> pd.DataFrame:
    """`clean`: texts `find_pii` already found nothing in (`ScreenedMasker.clean`)."""
    texts = [text_of(r) for r in rows]
    # The detector once per distinct text: short replies ("Thanks!") repeat across a batch.
    found = {t: None if t in clean else unmasked_pii(t) for t in set(texts)}
    return pd.DataFrame(
        {
            "row_key": [str(i) for i in range(len(rows))],
            "item_type": item_type,
            "source": [r.get("source") for r in rows],
            "source_id": [r.get("source_id") for r in rows],
            "text": texts,
            "unmasked_pii": [found[t] for t in texts],
            "created_at": pd.to_datetime([r.get("created_at") for r in rows], utc=True),
            "updated_at": pd.to_datetime([r.get("updated_at") for r in rows], utc=True),
        }
    )


def contacts_frame(rows: Sequence[Row]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_key": [str(i) for i in range(len(rows))],
            "source_id": [r.get("source_id") for r in rows],
            "email_present": [r.get("email_hash") is not None for r in rows],
            "email_valid": [r.get("email_valid") for r in rows],
            "email_invalid_reason": [r.get("email_invalid_reason") for r in rows],
            "email_hash": [r.get("email_hash") for r in rows],
        }
    )


# raw table -> (row type, the text the gate checks): the text rule of the feedback-item
# contract, so the gate checks exactly the text that is later scored and shown.
FEEDBACK_TABLES: dict[str, tuple[str, Callable[[Row], str | None]]] = {
    table: (row_type, text_of(table)) for table, (row_type, _) in TEXT_COLUMNS.items()
}


class Gate(Protocol):
    """Validates rows bound for a raw table; `clean` as in `feedback_frame`."""

    def __call__(
        self, table: str, rows: Sequence[Row], *, clean: Collection[str] = ...
    ) -> GateDecision: ...


def table_gate(validator: Validator) -> Gate:
    """A gate for connectors: validates rows bound for a raw table before they are stored."""

    def gate(
        table: str, rows: Sequence[Row], *, clean: Collection[str] = frozenset()
    ) -> GateDecision:
        if not rows:
            return GateDecision()
        if table == "contacts":
            return gate_contacts(validator, rows)
        if table in FEEDBACK_TABLES:
            item_type, text_of = FEEDBACK_TABLES[table]
            return gate_feedback(validator, rows, item_type, text_of, clean=clean)
        return GateDecision(passed=list(rows))

    return gate


def split(rows: Sequence[Row], outcome: Outcome) -> GateDecision:
    decision = GateDecision(outcome=outcome)
    for index, row in enumerate(rows):
        reasons = outcome.failed_rows.get(str(index))
        if reasons:
            decision.rejected.append((row, "failed governance gate: " + "; ".join(reasons)))
        else:
            decision.passed.append(row)
    return decision


def gate_feedback(
    validator: Validator,
    rows: Sequence[Row],
    item_type: str,
    text_of: Callable[[Row], str | None],
    *,
    clean: Collection[str] = frozenset(),
) -> GateDecision:
    frame = feedback_frame(rows, item_type, text_of, clean)
    return split(rows, validator.gate_feedback(frame, item_types=TEXT_ROW_TYPES))


def gate_contacts(validator: Validator, rows: Sequence[Row]) -> GateDecision:
    return split(rows, validator.gate_contacts(contacts_frame(rows)))


def record_run(
    conn: Connection, outcome: Outcome, *, batch: str, data_docs_path: str | None = None
) -> None:
    conn.execute(
        insert(ValidationRun).values(
            suite=", ".join(sorted({e["suite"] for e in outcome.expectations}))
            or outcome.checkpoint,
            checkpoint=outcome.checkpoint,
            batch=batch,
            success=outcome.success and not outcome.errors,
            evaluated=outcome.evaluated,
            failed=len(outcome.failed_rows) or outcome.failed,
            results=outcome.summary(),
            data_docs_path=data_docs_path,
        )
    )
