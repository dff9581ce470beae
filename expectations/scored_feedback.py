"""Checks on `nlp.feedback_scores`: scores in range, labels known, model version always set."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

SUITE_NAME = "scored_feedback"
LABELS = ["very_negative", "negative", "neutral", "positive", "very_positive"]


def build_suite() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(column="sentiment", min_value=-1, max_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="sentiment"),
            gxe.ExpectColumnValuesToBeInSet(column="label", value_set=LABELS),
            gxe.ExpectColumnValuesToNotBeNull(column="model_version"),
            gxe.ExpectColumnValueLengthsToBeBetween(column="model_version", min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="frustrated"),
            gxe.ExpectColumnValueLengthsToEqual(column="text_hash", value=64),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["item_type", "item_source", "item_source_id", "model_version"]
            ),
        ],
        meta={"layer": "nlp"},
    )
