"""The gate on a batch of contacts: every address is either valid or flagged with a reason.

Batch columns: `row_key`, `source_id`, `email_present`, `email_valid`, `email_invalid_reason`,
`email_hash`. The address itself is never in the batch.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

SUITE_NAME = "contacts_batch"


def build_suite() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="source_id"),
            gxe.ExpectColumnValuesToBeUnique(column="source_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="email_valid"),
            gxe.ExpectColumnValuesToNotBeNull(
                column="email_invalid_reason",
                row_condition=Column("email_valid") == False,  # noqa: E712 - a GX condition
            ),
            gxe.ExpectColumnValuesToNotBeNull(
                column="email_hash",
                row_condition=Column("email_present") == True,  # noqa: E712
            ),
            gxe.ExpectColumnValueLengthsToEqual(
                column="email_hash",
                value=64,
                row_condition=Column("email_present") == True,  # noqa: E712
            ),
        ],
        meta={"layer": "raw", "gate": "before storage"},
    )
