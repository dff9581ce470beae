"""The gate on a batch of feedback before it is stored in `raw`.

The batch is a DataFrame with one row per feedback item (see `feedbackloop.governance.gate`):
`row_key`, `item_type`, `source`, `source_id`, `text`, `unmasked_pii`, `created_at`,
`updated_at`. `unmasked_pii` lists the PII types a fresh detector run still finds in the text
about to be stored, so a code path that forgot to mask fails here, and the validation results
(and Data Docs) show the type, never the value.

The item types a batch may hold are a suite parameter (`ITEM_TYPES_PARAMETER`) the caller
hands over at each run: the vocabulary lives in `feedbackloop.vocabulary`, which this leaf
does not import.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

SUITE_NAME = "raw_feedback_batch"
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)
# A satisfaction rating or a form answer may be a bare score; every other item is its text.
TEXT_REQUIRED = Column("item_type").is_not_in(["satisfaction_rating", "survey_response"])
# Filled at run time: `Validator.gate_feedback(frame, item_types=...)`.
ITEM_TYPES_PARAMETER = "item_types"


def build_suite(known_sources: Iterable[str], now: datetime | None = None) -> gx.ExpectationSuite:
    now = now or datetime.now(UTC)
    # A clock a few minutes fast at the source is normal; a day ahead is a bug.
    latest_plausible = now + timedelta(days=1)
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="source_id"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["item_type", "source", "source_id"]),
            gxe.ExpectColumnValuesToBeInSet(
                column="item_type", value_set={"$PARAMETER": ITEM_TYPES_PARAMETER}
            ),
            gxe.ExpectColumnValuesToBeInSet(column="source", value_set=sorted(set(known_sources))),
            gxe.ExpectColumnValuesToNotBeNull(column="text", row_condition=TEXT_REQUIRED),
            gxe.ExpectColumnValueLengthsToBeBetween(
                column="text", min_value=1, row_condition=TEXT_REQUIRED
            ),
            gxe.ExpectColumnValuesToBeNull(column="unmasked_pii"),
            gxe.ExpectColumnValuesToNotBeNull(column="updated_at"),
            gxe.ExpectColumnValuesToBeBetween(
                column="created_at", min_value=EARLIEST_PLAUSIBLE, max_value=latest_plausible
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="updated_at", min_value=EARLIEST_PLAUSIBLE, max_value=latest_plausible
            ),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="updated_at",
                column_B="created_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ],
        meta={"layer": "raw", "gate": "before storage"},
    )
