"""Checks on the dbt output BI tools read: each table has rows, unique keys, known values.

dbt's own tests guard every build; these suites are what governance reviewers read in Data Docs
next to the raw and scored layers. Add a `TableCheck` when a mart is added.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import great_expectations as gx
import great_expectations.expectations as gxe


@dataclass(frozen=True)
class TableCheck:
    schema: str
    table: str
    key: tuple[str, ...]
    accepted: dict[str, tuple[object, ...]] = field(default_factory=dict)

    @property
    def suite_name(self) -> str:
        return f"{self.schema}.{self.table}"


TABLE_CHECKS: tuple[TableCheck, ...] = (
    TableCheck(
        "analytics_staging",
        "stg_zendesk__tickets",
        ("ticket_id",),
        {"status": ("new", "open", "pending", "hold", "solved", "closed", "deleted")},
    ),
    TableCheck(
        "analytics_staging",
        "stg_reviews__reviews",
        ("review_key",),
        {"rating": (1, 2, 3, 4, 5)},
    ),
    TableCheck(
        "analytics_staging",
        "stg_drops__notes",
        ("note_key",),
        {"department": ("sales", "cs", "support", "marketing", "product")},
    ),
    TableCheck("analytics_staging", "stg_crm__contacts", ("contact_id",)),
    TableCheck(
        "analytics_marts",
        "fct_feedback",
        ("feedback_key",),
        {
            "item_type": (
                "ticket",
                "satisfaction_rating",
                "review",
                "note",
                "milestone",
                "survey_response",
            ),
            "department": ("sales", "cs", "support", "marketing", "product"),
        },
    ),
    TableCheck("analytics_marts", "dim_contacts", ("contact_id",)),
    TableCheck("analytics_marts", "fct_ticket_metrics", ("ticket_id",)),
    TableCheck("analytics_marts", "mart_support_kpis", ("week_start",)),
    TableCheck(
        "analytics_marts",
        "mart_sentiment_daily",
        ("sentiment_date", "channel", "product_area"),
    ),
    # mart_topic_heatmap, mart_faq_candidates, mart_learning_loop_impact,
    # mart_automation_quality and mart_ops_health are legitimately empty on a young database
    # (no clustering run, no candidate at the threshold, no published article, no review
    # yet): dbt's tests guard them.
)


def build_suite(check: TableCheck) -> gx.ExpectationSuite:
    expectations: list[gxe.Expectation] = [gxe.ExpectTableRowCountToBeBetween(min_value=1)]
    if len(check.key) == 1:
        expectations += [
            gxe.ExpectColumnValuesToNotBeNull(column=check.key[0]),
            gxe.ExpectColumnValuesToBeUnique(column=check.key[0]),
        ]
    else:
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(check.key)))
    for column, values in check.accepted.items():
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values)))
    return gx.ExpectationSuite(
        name=check.suite_name, expectations=expectations, meta={"layer": "marts"}
    )
