"""The dashboard in the webhook app, on demo data in a real PostgreSQL with real marts: access,
every page, SVG charts, "why did it do that", FAQ and review forms, CSRF, bi_reader, no PII."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from pydantic import SecretStr
from sqlalchemy import Engine, text
from support.db import count, one, rows, rows_by
from support.items import scored_and_routed

from feedbackloop.config import Settings
from feedbackloop.db import embedded_server, ensure_ready
from feedbackloop.marts import build_marts
from feedbackloop.review import sample_for_review
from feedbackloop.routing import load_rules
from feedbackloop.topics import assign_topics
from feedbackloop.web import create_app
from feedbackloop.web.dashboard.data import MartReader, MartsUnavailable

RULES_ONLY = {"sentiment_model": "rules"}  # what these tests route on: the rule scorer

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
AUTH = ("admin", PASSWORD)
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
LEAKED = "oncall.person@example.com"  # an error message that escaped masking upstream
PAGES_WITHOUT_IDS = ("/faq", "/reviews", "/failures")  # last: the failures page


def _load_demo(settings: Settings, engine: Engine) -> dict[str, int]:
    """Demo items scored and routed (live actions marked sent, one with delivery attempts, one
    failed), topics, a review sample, a failed run and ping, then the marts (FAQ threshold 3,
    so the demo's small clusters are candidates)."""
    now = datetime.now(UTC)
    scored_and_routed(engine, settings, load_rules(REPO / "config" / "routing.yml"), now=now)
    with engine.begin() as conn:
        explained = conn.execute(
            text("SELECT min(id) FROM ops.actions WHERE status = 'sent'")
        ).scalar_one()
        failed = conn.execute(
            text("SELECT max(id) FROM ops.actions WHERE status = 'sent'")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO ops.action_attempts (action_id, attempt_no, finished_at, outcome, "
                "http_status, error) VALUES (:a, 1, now(), 'retry', 503, 'HTTP 503 from target'),"
                " (:a, 2, now(), 'sent', 200, NULL)"
            ),
            {"a": explained},
        )
        conn.execute(
            text("UPDATE ops.actions SET attempts = 2, sent_at = now() WHERE id = :a"),
            {"a": explained},
        )
        conn.execute(
            text(
                "UPDATE ops.actions SET status = 'failed', attempts = 5, "
                "last_error = 'HTTP 500 after 5 attempts' WHERE id = :a"
            ),
            {"a": failed},
        )
        conn.execute(
            text(
                "INSERT INTO ops.flow_runs (flow_run_id, flow_name, state, started_at, ended_at,"
                " error) VALUES ('run-1', 'pull-tickets', 'Failed', now(), now(), :e)"
            ),
            {"e": f"ConnectError: zendesk unreachable, paged {LEAKED}"},
        )
        conn.execute(
            text(
                "INSERT INTO ops.health_pings (check_name, ok, latency_ms, detail) "
                "VALUES ('source:zendesk', false, 12.5, '{\"error\": \"timed out\"}')"
            )
        )
    assign_topics(engine, settings)
    sample_for_review(engine)
    build_marts(settings, quiet=True, dbt_vars={"faq_min_similar": 3})
    return {"explained": explained, "failed": failed}


@pytest.fixture(scope="module")
def demo(pg_state_dir: Path) -> Iterator[tuple[Settings, Engine, dict[str, int]]]:
    """One demo database for the module (the marts take a while to build)."""
    with pytest.MonkeyPatch.context() as mp:
        import os

        for key in list(os.environ):
            if key.startswith("FEEDBACKLOOP_"):
                mp.delenv(key)
        name = f"t_{uuid.uuid4().hex[:12]}"
        settings = Settings(state_dir=pg_state_dir, embedded_database=name)
        embedded_server(settings).ensure_database(name)
        engine = ensure_ready(settings)
        ids = _load_demo(settings, engine)
    yield settings, engine, ids


def _client(settings: Settings, engine: Engine, **overrides: object) -> TestClient:
    values = {"dashboard_password": SecretStr(PASSWORD), **overrides}
    configured = settings.model_copy(update=values)
    return TestClient(create_app(configured, engine=engine))


@pytest.fixture
def client(demo: tuple[Settings, Engine, dict[str, int]]) -> Iterator[TestClient]:
    settings, engine, _ = demo
    with _client(settings, engine) as c:
        c.auth = AUTH
        yield c


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no form token on the page"
    return match[1]


def _assert_no_personal_data(html: str) -> None:
    assert not EMAIL.search(html), EMAIL.search(html)
    assert not HEX64.search(html)


# ----------------------------------------------------------------------------------- access


def test_without_a_password_the_dashboard_is_closed_not_open(demo) -> None:
    settings, engine, _ = demo
    with TestClient(create_app(settings, engine=engine)) as c:
        for path in ("/", "/faq", "/failures", "/actions/1"):
            response = c.get(path, auth=AUTH)
            assert response.status_code == 503
            assert "FEEDBACKLOOP_DASHBOARD_PASSWORD" in response.text
            assert response.text.count("\n") == 1  # one line
        assert c.post("/faq/1", data={"decision": "accepted"}).status_code == 503
        # The rest of the app is unaffected.
        assert c.get("/healthz").status_code == 200
        assert c.post("/webhooks/zendesk", content=b"{}").status_code == 404  # not configured


def test_every_page_asks_for_credentials_and_webhooks_do_not(demo) -> None:
    settings, engine, ids = demo
    with _client(settings, engine, webhook_secrets={"survey": SecretStr("s3cret")}) as c:
        pages = (
            "/",
            f"/actions/{ids['explained']}",
            "/items/ticket/zendesk/10001",
            *PAGES_WITHOUT_IDS,
        )
        for path in pages:
            response = c.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Basic ")
        # Wrong credentials once each: a few more and the login throttle answers 429.
        assert c.get(pages[0], auth=("admin", "wrong")).status_code == 401
        assert c.get(pages[-1], auth=("root", PASSWORD)).status_code == 401
        assert c.post("/reviews/1", data={"verdict": "correct"}).status_code == 401
        # A signed webhook needs no dashboard credentials.
        from feedbackloop.web.app import generic_signature

        body, stamp = b'{"type": "survey.answer", "score": 9}', str(int(datetime.now().timestamp()))
        response = c.post(
            "/webhooks/survey",
            content=body,
            headers={
                "X-Feedbackloop-Signature": generic_signature("s3cret", stamp, body),
                "X-Feedbackloop-Timestamp": stamp,
            },
        )
        assert response.status_code == 200 and response.json()["status"] == "stored"
        assert c.post("/webhooks/survey", content=body, auth=AUTH).status_code == 401


# ------------------------------------------------------------------------------------ pages


def test_every_page_renders_with_data_and_charts(client: TestClient, demo) -> None:
    _, engine, ids = demo
    landing = client.get("/")
    assert landing.status_code == 200
    html = landing.text
    assert "Content-Security-Policy" in landing.headers
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    # Key numbers: five, each with a week-over-week change and a sparkline.
    assert html.count('class="kpi"') == 5
    for name in ("Volume", "Median first reply", "Median resolution", "CSAT", "Share negative"):
        assert name in html
    assert "week over week" in html
    assert html.count('class="chart spark"') == 5
    # Sentiment: stacked bars with a positive height, of the five levels.
    bars = re.findall(r'<rect class="bar" data-level="(\w+)"[^>]*height="([\d.]+)"', html)
    assert len(bars) > 20 and all(float(h) > 0 for _, h in bars)
    assert {level for level, _ in bars} == {
        "very_negative",
        "negative",
        "neutral",
        "positive",
        "very_positive",
    }
    # Topic heat map: filled cells with items.
    cells = re.findall(r'<rect class="cell filled" data-items="(\d+)"', html)
    assert cells and all(int(n) > 0 for n in cells)
    # Recent actions link to their explanation; recent failures are listed.
    action_links = re.findall(r'href="/actions/(\d+)"', html)
    assert action_links
    assert "pull-tickets failed" in html and 'href="/failures"' in html
    assert 'href="/faq"' in html and 'href="/reviews"' in html
    _assert_no_personal_data(html)

    item = one(
        engine,
        "SELECT item_type, item_source, item_source_id FROM ops.actions WHERE id = :a",
        a=ids["explained"],
    )
    pages = [
        f"/actions/{action_links[0]}",
        f"/actions/{ids['explained']}",
        f"/actions/{ids['failed']}",
        f"/items/{item.item_type}/{item.item_source}/{item.item_source_id}",
        *PAGES_WITHOUT_IDS,
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_no_personal_data(response.text)
    assert client.get("/actions/99999999").status_code == 404
    assert client.get("/actions/abc").status_code == 404
    assert client.get("/items/ticket/zendesk/no-such-ticket").status_code == 404
    assert client.get("/items/nonsense/zendesk/1").status_code == 404

    failures = client.get("/failures").text
    assert "pull-tickets" in failures and "[email]" in failures and LEAKED not in failures
    assert (
        f'href="/actions/{ids["failed"]}"' in failures and "HTTP 500 after 5 attempts" in failures
    )
    assert "source:zendesk" in failures and "timed out" in failures
    assert "flow: pull-tickets" in failures  # mart_ops_health, read as bi_reader


def test_why_did_it_do_that_shows_rule_values_tokens_model_attempts_and_audit(
    client: TestClient, demo
) -> None:
    _, engine, ids = demo
    action_id = ids["explained"]
    with engine.connect() as conn:
        action = conn.execute(
            text("SELECT rule, model_version, explanation FROM ops.actions WHERE id = :a"),
            {"a": action_id},
        ).one()
    html = client.get(f"/actions/{action_id}").text
    assert f"Rule “{action.rule}”" in html
    for condition in action.explanation["conditions"]:
        assert str(escape(condition["value"])) in html
        assert str(escape(condition["expected"])) in html
    assert f'<strong class="model-version">{action.model_version}</strong>' in html
    signals = action.explanation["sentiment"]["explanation"]["signals"]
    tokens = [s["token"] for s in signals if "token" in s]
    assert tokens and any(f"&#39;{t}&#39;" in html for t in tokens)
    assert "weight" in html
    attempts = html.split('id="attempts"')[1].split("</section>")[0]
    assert "HTTP 503 from target" in attempts and "503" in attempts and "200" in attempts
    audit = html.split('id="audit"')[1].split("</section>")[0]
    assert "routing" in audit and "route" in audit
    # No customer or account ids: only whether the customer is known, tier and safeguards.
    customer = action.explanation["customer"]
    for key in ("contact_id", "customer_id", "account_id"):
        if customer.get(key):
            assert customer[key] not in html

    # The item's page links back to each of its actions' explanations.
    item = action.explanation["item"]
    item_path = f"/items/{item['type']}/{item['source']}/{item['id']}"
    assert f'href="{item_path}"' in html
    item_html = client.get(item_path).text
    assert f'href="/actions/{action_id}"' in item_html and "Text (masked)" in item_html


# ------------------------------------------------------------------------------------ forms


def _decision(engine: Engine, cluster_id: int) -> tuple[str, str, str | None] | None:
    found = rows(
        engine,
        "SELECT decision, decided_by, note FROM ops.faq_decisions WHERE cluster_id = :c "
        "ORDER BY id DESC LIMIT 1",
        c=cluster_id,
    )
    return tuple(found[0]) if found else None


def test_faq_accept_and_reject_change_the_database(client: TestClient, demo) -> None:
    _, engine, _ = demo
    page = client.get("/faq").text
    clusters = [int(c) for c in re.findall(r'data-cluster="(\d+)"', page)]
    assert len(clusters) >= 2, "the demo with faq_min_similar=3 has candidates"
    first, second = clusters[:2]
    # the heading a person reads is a member's (masked) question, its key phrases below it
    card = page.split(f'id="cluster-{first}"')[1].split("</section>")[0]
    heading = card.split("<h2>")[1].split("<span")[0].strip()
    assert heading and " / " not in heading and "Key phrases: " in card
    token = _token(page)

    response = client.post(
        f"/faq/{first}",
        data={"csrf_token": token, "decision": "accepted", "reviewer": "ana", "note": "write it"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/faq?")
    assert _decision(engine, first) == ("accepted", "ana", "write it")
    shown = client.get(response.headers["location"]).text
    assert f"Cluster {first} accepted" in shown
    card = shown.split(f'id="cluster-{first}"')[1].split("</section>")[0]
    assert "<strong>accepted</strong>" in card and "by ana" in card

    # The reviewer defaults to the signed-in user.
    response = client.post(
        f"/faq/{second}",
        data={"csrf_token": token, "decision": "rejected", "reviewer": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _decision(engine, second) == ("rejected", "admin", None)

    # What the library refuses is shown, with 409, and changes nothing.
    response = client.post(
        f"/faq/{first}", data={"csrf_token": token, "decision": "accepted"}, follow_redirects=False
    )
    assert response.status_code == 409 and "cannot be accepted" in response.text
    assert _decision(engine, first) == ("accepted", "ana", "write it")
    response = client.post("/faq/424242", data={"csrf_token": token, "decision": "accepted"})
    assert response.status_code == 409 and "no topic cluster 424242" in response.text
    response = client.post(
        f"/faq/{first}", data={"csrf_token": token, "decision": "rejected", "reviewer": LEAKED}
    )
    assert response.status_code == 400 and _decision(engine, first)[0] == "accepted"


def test_rating_a_review_stores_it(client: TestClient, demo) -> None:
    _, engine, _ = demo
    page = client.get("/reviews").text
    queued = [int(r) for r in re.findall(r'data-review="(\d+)"', page)]
    assert len(queued) >= 2
    token = _token(page)
    wrong, right = queued[:2]
    response = client.post(
        f"/reviews/{wrong}",
        data={
            "csrf_token": token,
            "verdict": "wrong",
            "sentiment_label": "very_negative",
            "reviewer": "ana",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    response = client.post(
        f"/reviews/{right}",
        data={"csrf_token": token, "verdict": "correct", "sentiment_label": ""},
    )
    assert response.status_code == 200 and f"Review {right} stored." in response.text
    reviewed = rows_by(
        engine,
        "id",
        "SELECT id, reviewer, verdict, sentiment_label, reviewed_at IS NOT NULL "
        "FROM ops.human_reviews WHERE id IN (:a, :b)",
        a=wrong,
        b=right,
    )
    audited = count(
        engine,
        "SELECT count(*) FROM ops.audit_log WHERE entity_type = 'human_reviews' "
        "AND action = 'review' AND entity_id IN (:a, :b)",
        a=str(wrong),
        b=str(right),
    )
    assert {review_id: tuple(r)[1:] for review_id, r in reviewed.items()} == {
        wrong: ("ana", "wrong", "very_negative", True),
        right: ("admin", "correct", None, True),
    }
    assert audited == 2
    page = client.get("/reviews").text
    assert f'data-review="{wrong}"' not in page  # rated: out of the queue
    again = client.post(f"/reviews/{wrong}", data={"csrf_token": token, "verdict": "correct"})
    assert again.status_code == 409 and "already rated" in again.text
    # This week's sample exists already: queuing it again queues nothing new.
    sampled = client.post("/reviews/sample", data={"csrf_token": token})
    assert sampled.status_code == 200 and "actions queued for review this week" in sampled.text
    with engine.connect() as conn:
        batches = conn.execute(
            text("SELECT count(DISTINCT batch) FROM ops.human_reviews")
        ).scalar_one()
    assert batches == 1


def test_a_forged_post_is_refused(client: TestClient, demo) -> None:
    _, engine, _ = demo
    page = client.get("/faq").text
    cluster = int(re.findall(r'data-cluster="(\d+)"', page)[-1])
    token = _token(page)
    before = _decision(engine, cluster)
    forged = [
        ({"decision": "rejected"}, {}),  # no token
        ({"decision": "rejected", "csrf_token": "1700000000.forged"}, {}),
        ({"decision": "rejected", "csrf_token": token}, {"Origin": "https://evil.example"}),
        ({"decision": "rejected", "csrf_token": token}, {"Origin": "null"}),
        ({"decision": "rejected", "csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for form, headers in forged:
        response = client.post(f"/faq/{cluster}", data=form, headers=headers)
        assert response.status_code == 403, (form, headers)
    assert client.post("/reviews/sample", data={"go": "1"}).status_code == 403
    # A JSON body (what a script might send) is not a form.
    assert client.post(f"/faq/{cluster}", json={"csrf_token": token}).status_code == 415
    assert _decision(engine, cluster) == before
    # A token from another process (another key) is refused too.
    settings, _, _ = demo
    with _client(settings, engine) as other:
        other.auth = AUTH
        response = other.post(f"/faq/{cluster}", data={"csrf_token": token, "decision": "rejected"})
        assert response.status_code == 403
    # Same origin, same token: accepted.
    ok = client.post(
        f"/faq/{cluster}",
        data={"csrf_token": token, "decision": "rejected"},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and _decision(engine, cluster)[0] == "rejected"


def test_an_expired_form_token_is_refused(demo) -> None:
    settings, engine, _ = demo
    now = [datetime.now(UTC).timestamp()]
    configured = settings.model_copy(update={"dashboard_password": SecretStr(PASSWORD)})
    with TestClient(create_app(configured, engine=engine, clock=lambda: now[0])) as c:
        c.auth = AUTH
        token = _token(c.get("/reviews").text)
        now[0] += 13 * 3600
        response = c.post("/reviews/sample", data={"csrf_token": token})
        assert response.status_code == 403 and "expired" in response.text


# -------------------------------------------------------------------------------- bi_reader


def test_marts_are_read_as_bi_reader(demo) -> None:
    settings, engine, _ = demo
    reader = MartReader(settings, engine)
    assert reader.mode == "set role"
    with reader.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == "bi_reader"
        assert conn.execute(text("SELECT count(*) FROM analytics_marts.fct_feedback")).scalar_one()
    with pytest.raises(MartsUnavailable, match="permission denied"), reader.connect() as conn:
        conn.execute(text("SELECT 1 FROM raw.tickets LIMIT 1"))
    with engine.connect() as conn:  # the pool's connection is the pipeline's again
        assert conn.execute(text("SELECT current_user")).scalar_one() == "postgres"

    from feedbackloop.governance.roles import enable_bi_reader_login

    enable_bi_reader_login(engine, "bi-secret")
    try:
        with_login = settings.model_copy(update={"bi_reader_password": SecretStr("bi-secret")})
        reader = MartReader(with_login, engine)
        assert reader.mode == "login"
        with reader.connect() as conn:
            assert conn.execute(text("SELECT session_user")).scalar_one() == "bi_reader"
        with pytest.raises(MartsUnavailable, match="permission denied"), reader.connect() as conn:
            conn.execute(text("SELECT 1 FROM ops.audit_log LIMIT 1"))
        reader.close()
        with _client(with_login, engine) as c:
            c.auth = AUTH
            html = c.get("/").text
            assert 'class="bar"' in html and "cannot read the marts" not in html
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER ROLE bi_reader NOLOGIN PASSWORD NULL"))


def test_without_marts_the_pages_say_how_to_build_them(settings: Settings, engine: Engine) -> None:
    with _client(settings, engine) as c:
        c.auth = AUTH
        landing = c.get("/")
        assert landing.status_code == 200
        assert "the marts are not built yet" in landing.text
        assert "feedbackloop demo" in landing.text
        for path in ("/faq", "/reviews", "/failures"):
            assert c.get(path).status_code == 200, path
