"""The gate on a batch of contacts: every address is either valid or flagged with a reason.

Batch columns: `row_key`, `source_id`, `email_present`, `email_valid`, `email_invalid_reason`,
`email_hash`. The address itself is never in the batch.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

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
                row_condition="email_valid == False",
                condition_parser="pandas",
            ),
            gxe.ExpectColumnValuesToNotBeNull(
                column="email_hash",
                row_condition="email_present == True",
                condition_parser="pandas",
            ),
            gxe.ExpectColumnValueLengthsToEqual(
                column="email_hash",
                value=64,
                row_condition="email_present == True",
                condition_parser="pandas",
            ),
        ],
        meta={"layer": "raw", "gate": "before storage"},
    )
