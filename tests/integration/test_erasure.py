"""Right to erasure through the CLI: no trace of the person in any schema afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text
from support.clock import NOW

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.governance import fields
from feedbackloop.governance.contacts import merge_duplicate_contacts
from feedbackloop.governance.erasure import forget
from feedbackloop.governance.identity import check_email, email_hash
from feedbackloop.marts import build_marts

FEEDBACKLOOP = str(Path(sys.executable).with_name("feedbackloop"))


def _dump(engine: Engine) -> str:
    """Every row of every table in our schemas and dbt's, as text."""
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('raw', 'ops', 'nlp') OR table_schema LIKE 'analytics%'"
            )
        ).all()
        return "\n".join(
            str(row)
            for schema, table in tables
            for row in conn.execute(text(f'SELECT t::text FROM "{schema}"."{table}" t'))
        )


def test_forget_erases_a_person_everywhere(engine: Engine, settings: Settings) -> None:
    dataset = generate(seed=31, tickets=500, now=NOW)
    load_dataset(engine, dataset, hash_key=settings.hash_key())
    with engine.begin() as conn:
        merge_duplicate_contacts(conn, actor="test")

    # A person with a duplicate contact and at least one ticket.
    by_email: dict[str, list] = {}
    for c in dataset.contacts:
        if check_email(c.email).valid:
            by_email.setdefault(c.email.strip().lower(), []).append(c)
    requesters = {t.requester_source_id for t in dataset.tickets}
    address, contacts = next(
        (e, cs)
        for e, cs in by_email.items()
        if len(cs) > 1 and any(c.source_id in requesters for c in cs)
    )
    ids = {c.source_id for c in contacts}
    their_tickets = [t for t in dataset.tickets if t.requester_source_id in ids]
    hashed = email_hash(check_email(address).normalized, settings.hash_key())
    ticket_id = their_tickets[0].source_id
    with engine.begin() as conn:
        # Derived data about them elsewhere: a score, an action, a parked record.
        conn.execute(
            text(
                "INSERT INTO nlp.feedback_scores (item_type, item_source, item_source_id,"
                " model_version, text_hash, sentiment, label, frustrated, explanation) VALUES"
                " ('ticket', 'zendesk', :t, 'rules-v1', repeat('a', 64), -0.4, 'negative', false,"
                ' \'{"tokens": ["personal words"]}\')'
            ),
            {"t": ticket_id},
        )
        conn.execute(
            text(
                "INSERT INTO ops.actions (idempotency_key, item_type, item_source, item_source_id,"
                " rule, action_type, payload) VALUES ('k1', 'ticket', 'zendesk', :t, 'r',"
                " 'auto_reply', '{\"body\": \"Hi there, about your order\"}')"
            ),
            {"t": ticket_id},
        )
        conn.execute(
            text(
                "INSERT INTO ops.quarantine (source, stream, source_id, reason, payload) VALUES"
                " ('crm', 'contacts', :c, 'test', jsonb_build_object('contact', CAST(:p AS text)))"
            ),
            {"c": sorted(ids)[0], "p": sorted(ids)[0]},
        )
    build_marts(settings, quiet=True)
    before = _dump(engine)
    assert hashed in before
    assert "personal words" in before

    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACKLOOP_")}
    env |= {
        "FEEDBACKLOOP_STATE_DIR": str(settings.state_dir),
        "FEEDBACKLOOP_EMBEDDED_DATABASE": settings.embedded_database,
    }
    result = subprocess.run(
        [FEEDBACKLOOP, "forget", "--email", f"  {address.upper()} "],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"Erased {len(ids)} contact(s)" in result.stdout
    assert address not in result.stdout + result.stderr

    after = _dump(engine)
    assert hashed not in after
    assert address not in after.lower()
    assert "personal words" not in after and "about your order" not in after
    with engine.connect() as conn:
        texts = (
            conn.execute(
                text(
                    "SELECT description FROM raw.tickets WHERE requester_source_id = ANY(:i) "
                    "UNION ALL SELECT c.body FROM raw.ticket_comments c JOIN raw.tickets t "
                    "ON t.source_id = c.ticket_source_id WHERE t.requester_source_id = ANY(:i) "
                    "UNION ALL SELECT coalesce(feedback_text, 'null') "
                    "FROM analytics_marts.fct_feedback "
                    "WHERE contact_id = ANY(:i)"
                ),
                {"i": list(ids)},
            )
            .scalars()
            .all()
        )
    assert set(texts) == {"<ERASED>", "null"} or set(texts) == {"<ERASED>"}
    with engine.connect() as conn:
        erase = conn.execute(
            text("SELECT entity_id, details::text FROM ops.audit_log WHERE action = 'erase'")
        ).one()
        granted = conn.execute(
            text("SELECT bool_or(granted) FROM ops.consent WHERE contact_source_id = ANY(:i)"),
            {"i": list(ids)},
        ).scalar_one()
        tickets_kept = conn.execute(
            text("SELECT count(*) FROM analytics_marts.fct_feedback WHERE contact_id = ANY(:i)"),
            {"i": list(ids)},
        ).scalar_one()
    assert "@" not in erase.entity_id + erase.details
    assert granted is False
    assert tickets_kept >= len(their_tickets)  # counts survive, text does not

    again = subprocess.run(
        [FEEDBACKLOOP, "forget", "--email", address, "--no-rebuild"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0 and "nothing to erase" in again.stdout


def test_forget_clears_the_masking_caches(engine: Engine, settings: Settings) -> None:
    """The id cache of `mask_fields` held the raw address (an id that was an e-mail address):
    an erasure in this process leaves nothing of it in memory."""
    address = "nadia.okafor@example.com"
    key = settings.hash_key()
    hashed = fields.keyed_id(address, key)
    assert hashed.startswith(fields.HASHED_ID_PREFIX)
    assert fields._id_entities_cached.cache_info().currsize > 0
    with engine.begin() as conn:
        forget(conn, address, key, actor="test")
    assert fields._id_entities_cached.cache_info().currsize == 0
    assert fields._masked_cached.cache_info().currsize == 0
    assert fields.keyed_id(address, key) == hashed  # the same id after the cache is gone
