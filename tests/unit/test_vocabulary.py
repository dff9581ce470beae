"""The closed vocabularies have one Python home (feedbackloop.vocabulary, the database's CHECK
constraints included); the places that cannot import it (dbt's accepted_values through its vars,
the GX suites, a leaf) hold the same lists."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from feedbackloop import vocabulary

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"


@pytest.mark.parametrize(
    ("var", "values"),
    [
        ("sentiment_labels", vocabulary.SENTIMENT_LABELS),
        ("item_types", vocabulary.ITEM_TYPES),
        ("text_row_types", vocabulary.TEXT_ROW_TYPES),
        ("ticket_statuses", vocabulary.TICKET_STATUSES),
        ("rating_scores", vocabulary.RATING_SCORES),
        ("action_types", vocabulary.ACTION_TYPES),
        ("action_statuses", vocabulary.ACTION_STATUSES),
        ("consent_purposes", vocabulary.CONSENT_PURPOSES),
        ("departments", vocabulary.DEPARTMENTS),
        ("rating_scales", vocabulary.RATING_SCALES),
    ],
)
def test_dbt_reads_the_same_lists(var: str, values: tuple[str, ...]) -> None:
    dbt_vars = yaml.safe_load(DBT_PROJECT.read_text(encoding="utf-8"))["vars"]
    assert tuple(dbt_vars[var]) == values


def test_the_gx_suites_check_the_same_lists() -> None:
    from expectations import raw_feedback, scored_feedback

    assert tuple(scored_feedback.LABELS) == vocabulary.SENTIMENT_LABELS
    # The raw gate's item types are not a copy: the gate hands the vocabulary over per run.
    assert not hasattr(raw_feedback, "ITEM_TYPES")
