"""The `/governance` page's data and the Data Docs it links to, on real GX runs in the file
context: the latest run per checkpoint, each expectation's result with its failing count, links
only to pages that exist, a site that loads nothing from outside, and no file outside the site
served."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine
from support.clock import NOW
from support.gx import feedback_text, ticket_row

from expectations.checkpoints import RAW_GATE, SCORED_CHECK, Validator, build_data_docs
from expectations.docs_html import make_offline, site_dir
from feedbackloop.config import Settings
from feedbackloop.db import database_url
from feedbackloop.governance.gate import gate_feedback, record_run
from feedbackloop.web.dashboard import data

SOURCES = ["zendesk", "app_store", "crm"]
SUITE = "raw_feedback_batch"
# Anything in a tag that makes a browser fetch: src/href/srcset values and CSS url(...).
FETCHED = re.compile(
    r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*?(?:src|href|srcset|data)\s*=\s*"""
    r"""["']?\s*(?:[a-z][a-z0-9+.\-]*:|//)|url\(\s*['"]?\s*(?:https?:|//)""",
    re.IGNORECASE,
)


def _ticket(source_id: str, body: str | None, **extra: object) -> dict:
    return ticket_row(source_id, body, NOW, **extra)


def _run(engine: Engine, validator: Validator, rows: list[dict], batch: str) -> None:
    decision = gate_feedback(validator, rows, "ticket", feedback_text)
    assert decision.outcome is not None
    with engine.begin() as conn:
        record_run(
            conn, decision.outcome, batch=batch, data_docs_path=str(validator.data_docs_index)
        )


def test_latest_run_per_checkpoint_with_failing_counts_and_docs_links(
    engine: Engine, settings: Settings
) -> None:
    url = database_url(settings).render_as_string(hide_password=False)
    validator = Validator(settings.state_path, url, known_sources=SOURCES, now=NOW)
    good = [_ticket(str(i), f"How do I export report {i}?") for i in range(4)]
    _run(engine, validator, good, "page 1")
    # The newer run of the same checkpoint fails: two rows from a source nobody knows.
    bad = good[:2] + [_ticket(str(i), "hi", source="myspace") for i in (8, 9)]
    _run(engine, validator, bad, "page 2")
    with engine.begin() as conn:
        record_run(conn, validator.check_scores(), batch="nlp.feedback_scores")
    root = site_dir(settings.state_path)

    before_build = {r.checkpoint: r for r in data.governance(engine, root)}
    build_data_docs(settings.state_path)
    runs = {r.checkpoint: r for r in data.governance(engine, root)}

    assert set(runs) == {RAW_GATE, SCORED_CHECK}
    raw = runs[RAW_GATE]
    assert raw.batch == "page 2" and not raw.success
    assert (raw.runs, raw.failed_runs) == (2, 1)
    failing = [e for e in raw.expectations if not e.success]
    assert [(e.expectation, e.column) for e in failing] == [
        ("expect_column_values_to_be_in_set", "source")
    ]
    assert (failing[0].unexpected_count, failing[0].element_count) == (2, 4)
    assert raw.failed_expectations == 1
    assert all(e.unexpected_count in (0, None) for e in raw.expectations if e.success)

    # The link is to this run's page, only once GX has rendered it (gates only store results).
    assert before_build[RAW_GATE].docs == {SUITE: None}
    link = raw.docs[SUITE]
    assert link is not None and link.startswith("/governance/docs/validations/raw_feedback_batch/")
    page = data.docs_file(root, link.removeprefix("/governance/docs/"))
    assert page is not None
    html = page.read_text()
    assert "expect_column_values_to_be_in_set" in html or "values must belong" in html
    assert "myspace" in html  # the unexpected value GX lists for this run's failure


def test_the_site_fetches_nothing_from_outside(engine: Engine, settings: Settings) -> None:
    url = database_url(settings).render_as_string(hide_password=False)
    validator = Validator(settings.state_path, url, known_sources=SOURCES, now=NOW)
    _run(engine, validator, [_ticket("1", "hi", source="myspace")], "page 1")
    index = build_data_docs(settings.state_path)
    assert index is not None
    pages = sorted(index.parent.rglob("*.html"))
    assert len(pages) >= 3  # the index, a suite page, a validation page
    for page in pages:
        html = page.read_text()
        assert "<script" not in html.lower(), page
        assert FETCHED.search(html) is None, (page, FETCHED.search(html))
        assert "dataContextId" not in html and "amazonaws" not in html, page
    listed = index.read_text()
    assert 'class="validation failed"' in listed and SUITE in listed


def test_make_offline_keeps_content_and_drops_what_loads_from_outside() -> None:
    page = (
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="https://cdn.example/b.css">'
        '<script src="https://code.example/jq.js"></script><script>alert(1)</script>'
        "<style>.a{background:url('https://s3.example/logo.png')} @import url(//x.example/y);"
        '.b{background:url("img/ok.png")}</style></head><body onload="go()">'
        '<img src="https://s3.example/logo.png?dataContextId=42" alt="Logo">'
        '<img src="../static/images/local.png" alt="here">'
        '<a href="javascript:go()">x</a><a href="https://docs.example/">docs</a>'
        '<svg><image href="https://svg.example/i.png"/></svg>'
        "<table><tr><td>5 &lt; 7 &amp; fine</td></tr></table>"
        '<footer><p>newsletter <a href="https://n.example">subscribe</a></p></footer>'
        "</body></html>"
    )
    out = make_offline(page)
    for gone in ("cdn.example", "code.example", "alert(1)", "s3.example", "x.example", "onload",
                 "javascript:", "n.example", "dataContextId", "svg.example"):  # fmt: skip
        assert gone not in out, gone
    for kept in ('url("img/ok.png")', "../static/images/local.png", "5 &lt; 7 &amp; fine",
                 '<span class="gx-brand">Logo</span>', "https://docs.example/",
                 "Content-Security-Policy"):  # fmt: skip
        assert kept in out, kept


def test_docs_file_serves_nothing_outside_the_site(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "validations").mkdir(parents=True)
    (root / "index.html").write_text("<p>index</p>")
    (root / "validations" / "a.html").write_text("<p>a</p>")
    (root / "notes.txt").write_text("not a site file type")
    secret = tmp_path / "secret.html"
    secret.write_text("outside")
    (root / "link.html").symlink_to(secret)

    assert data.docs_file(root, "index.html") == (root / "index.html").resolve()
    assert data.docs_file(root, "validations/a.html") is not None
    for bad in ("../secret.html", "validations/../../secret.html", str(secret), "/etc/passwd",
                "link.html", "notes.txt", "validations", "missing.html", "a\x00.html",
                "..\\secret.html", ""):  # fmt: skip
        assert data.docs_file(root, bad) is None, bad
