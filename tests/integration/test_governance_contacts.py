"""Contacts: duplicates merge with a record, consent keeps text out of marts, bi_reader sees
marts only. Real PostgreSQL and a real dbt build."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError
from support.clock import NOW

from demo.generator import DemoDataset, generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.governance.contacts import merge_duplicate_contacts
from feedbackloop.marts import build_marts


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    return generate(seed=21, tickets=600, now=NOW)


def _duplicate_groups(dataset: DemoDataset) -> list[set[str]]:
    groups: dict[str, set[str]] = {}
    for c in dataset.contacts:
        if "@" in c.email:
            groups.setdefault(c.email.strip().lower(), set()).add(c.source_id)
    return [ids for ids in groups.values() if len(ids) > 1]


def test_duplicates_merge_into_one_canonical_contact_once(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    load_dataset(engine, dataset, hash_key=settings.hash_key())
    groups = [g for g in _duplicate_groups(dataset)]
    assert groups
    with engine.begin() as conn:
        merges = merge_duplicate_contacts(conn, actor="test")
    # Each group of n contacts with one (valid) address yields n-1 merges into one survivor.
    valid_groups = []
    with engine.connect() as conn:
        for ids in groups:
            hashes = (
                conn.execute(
                    text("SELECT DISTINCT email_hash FROM raw.contacts WHERE source_id = ANY(:i)"),
                    {"i": list(ids)},
                )
                .scalars()
                .all()
            )
            if hashes != [None]:
                valid_groups.append(ids)
    assert len(merges) == sum(len(g) - 1 for g in valid_groups)
    for ids in valid_groups:
        into = {m.merged_into for m in merges if m.source_id in ids}
        assert len(into) == 1 and into <= ids

    with engine.begin() as conn:
        assert merge_duplicate_contacts(conn, actor="test") == []  # idempotent
        audit = conn.execute(
            text("SELECT count(*) FROM ops.audit_log WHERE action = 'merge'")
        ).scalar_one()
        details = (
            conn.execute(text("SELECT details::text FROM ops.audit_log WHERE action = 'merge'"))
            .scalars()
            .all()
        )
    assert audit == len(merges)
    assert all("@" not in d for d in details)  # the audit trail holds ids, never addresses


def test_text_without_improvement_consent_stays_out_of_marts(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    # Make the merge decide consent: the duplicate says no, the canonical contact said yes.
    group = sorted(_duplicate_groups(dataset)[0])
    contacts = tuple(
        dataclasses.replace(c, consent_improvement=(c.source_id == group[0]))
        if c.source_id in group
        else c
        for c in dataset.contacts
    )
    load_dataset(
        engine, dataclasses.replace(dataset, contacts=contacts), hash_key=settings.hash_key()
    )
    with engine.begin() as conn:
        merge_duplicate_contacts(conn, actor="test")
    build_marts(settings, quiet=True)

    no_consent = {c.source_id for c in contacts if not c.consent_improvement}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT f.item_type, f.contact_id, f.has_improvement_consent, f.feedback_text "
                "FROM analytics_marts.fct_feedback f WHERE f.item_type = 'ticket'"
            )
        ).all()
        canonical = conn.execute(
            text(
                "SELECT has_improvement_consent FROM analytics_marts.dim_contacts "
                "WHERE contact_id = :c"
            ),
            {"c": group[0]},
        ).scalar_one()
    assert len(rows) == len(dataset.tickets)
    assert canonical is False  # one "no" among merged duplicates wins
    hidden = [r for r in rows if not r.has_improvement_consent]
    shown = [r for r in rows if r.has_improvement_consent]
    assert hidden and shown
    assert all(r.feedback_text is None for r in hidden)
    assert all(r.feedback_text for r in shown)
    assert all(r.contact_id not in no_consent or not r.has_improvement_consent for r in rows)


def test_bi_reader_reads_marts_and_nothing_else(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    load_dataset(engine, dataset, hash_key=settings.hash_key())
    build_marts(settings, quiet=True)
    with engine.connect() as conn:
        conn.execute(text("SET ROLE bi_reader"))
        count = conn.execute(text("SELECT count(*) FROM analytics_marts.fct_feedback")).scalar_one()
        assert count > 0
        conn.execute(text("RESET ROLE"))
    for table in (
        "raw.tickets",
        "ops.audit_log",
        "nlp.feedback_scores",
        "analytics_staging.stg_zendesk__tickets",
    ):
        with engine.connect() as conn:
            conn.execute(text("SET ROLE bi_reader"))
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))


def test_bi_reader_login_for_bi_tools(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    import psycopg

    from feedbackloop.db import database_url
    from feedbackloop.governance.roles import enable_bi_reader_login

    load_dataset(engine, dataset, hash_key=settings.hash_key())
    build_marts(settings, quiet=True)
    url = database_url(settings)
    conninfo = {
        "host": url.query["host"],
        "port": int(url.query["port"]),
        "dbname": url.database,
        "user": "bi_reader",
        "password": "looker-secret",
    }
    with engine.begin() as conn:
        conn.execute(text("ALTER ROLE bi_reader NOLOGIN"))
    # Refused either way: no login, or (the server asks for passwords) no password that matches.
    refused = "not permitted to log in|password authentication failed"
    with pytest.raises(psycopg.OperationalError, match=refused):
        psycopg.connect(**conninfo)

    enable_bi_reader_login(engine, "looker-secret")
    with psycopg.connect(**conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM analytics_marts.dim_contacts").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM raw.contacts")
