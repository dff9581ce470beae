"""mart_survey_funnel after a small scenario: survey links in sent, shadow and skipped replies,
opened and answered through the real form server, the marts built by dbt, read as bi_reader;
the dashboard's overview shows the same figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, text
from support.form import post_form, serve_app, survey_link_for_ticket, token_of

from feedbackloop.config import Settings
from feedbackloop.marts import build_marts
from feedbackloop.web.dashboard.data import MartReader

TEMPLATE, RULE = "survey_after_ticket", "survey-after-solved-ticket"


def test_the_funnel_counts_sends_opens_and_answers_per_group(
    settings: Settings, engine: Engine
) -> None:
    settings = settings.model_copy(
        update={
            "public_base_url": "https://feedback.example.com",
            "dashboard_password": SecretStr("funnel-password"),
        }
    )
    pro = [
        survey_link_for_ticket(engine, settings, ticket_id=f"90{i}", segment="pro")
        for i in range(4)
    ]
    enterprise = survey_link_for_ticket(engine, settings, ticket_id="950", segment="enterprise")
    shadow = survey_link_for_ticket(engine, settings, ticket_id="960", status="shadow")
    with serve_app(settings, engine) as url, httpx.Client(timeout=120) as client:
        # pro: one link opened twice, one answered twice, one opened and answered, one ignored.
        for _ in range(2):
            assert client.get(f"{url}/feedback", params={"t": token_of(pro[0].url)}).is_success
        for words in ("meh", "better than I said"):
            assert post_form(client, url, t=token_of(pro[1].url), rating="4", text=words).is_success
        assert post_form(client, url, t=token_of(pro[2].url), rating="2").is_success
        # A reply that was never sent: its link's open is no part of the funnel.
        assert client.get(f"{url}/feedback", params={"t": token_of(shadow.url)}).is_success
        # An answer without a link: an item, not a funnel answer.
        assert post_form(client, url, rating="5", text="love it").is_success
        assert enterprise.rid  # sent, never opened

        result = build_marts(settings, quiet=True)
        assert result.success, result

        reader = MartReader(settings, engine)
        with reader.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "bi_reader"
            rows = {
                r.segment: r
                for r in conn.execute(
                    text(
                        "SELECT * FROM analytics_marts.mart_survey_funnel "
                        "WHERE template = :t AND rule = :r"
                    ),
                    {"t": TEMPLATE, "r": RULE},
                )
            }
            items = conn.execute(
                text(
                    "SELECT count(*) FROM analytics_marts.fct_feedback "
                    "WHERE item_type = 'survey_response'"
                )
            ).scalar_one()
        reader.close()
        assert set(rows) == {"pro", "enterprise"}
        week = datetime.now(UTC).date().isocalendar()
        assert rows["pro"].iso_week == f"{week.year}-W{week.week:02d}"
        assert (rows["pro"].survey_sends, rows["pro"].survey_opens) == (4, 3)
        assert rows["pro"].survey_answers == 2
        assert rows["pro"].open_rate == Decimal("0.7500")
        assert rows["pro"].response_rate == Decimal("0.5000")
        assert (rows["enterprise"].survey_sends, rows["enterprise"].survey_opens) == (1, 0)
        assert rows["enterprise"].response_rate == Decimal("0")
        assert items == 3  # two linked answers (one replaced) and the unlinked one

        overview = client.get(f"{url}/", auth=("admin", "funnel-password"))
        assert overview.status_code == 200
        html = overview.text
        section = html[html.index('id="survey-funnel"') :]
        assert '<td class="sends">4</td>' in section and '<td class="opens">3</td>' in section
        assert '<td class="open-rate">75%</td>' in section
        assert '<td class="response-rate">50%</td>' in section
