"""Issue 17, items 8 and 9: personal data outside the text fields (an address as a record id,
a card number as an account id, an SSN as a category) and person names never reach storage
unmasked, through each connector; an id that is itself PII becomes its keyed hash, so
importing again finds the same row.

The check reads every text, varchar, json and array column of every table in the raw, ops
and nlp schemas."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW
from support.db import count, one

from demo.fake_app_store import KeyPair, generate_key_pair, serve_fake_app_store
from demo.fake_zendesk import serve_fake_zendesk
from demo.generator import DemoDataset, generate
from feedbackloop.config import Settings
from feedbackloop.governance.fields import HASHED_ID_PREFIX, keyed_id, mask_fields
from feedbackloop.http import RetryPolicy
from feedbackloop.sources.app_store import AppStoreClient, sync_reviews
from feedbackloop.sources.drops import import_drop
from feedbackloop.sources.zendesk import ZendeskClient, sync_all
from nlp.pii import MASKER_VERSION

EMAIL = "Liam.Miller@example.com"
CARD = "4111 1111 1111 1111"
SSN = "219-09-9999"
NAMES = ("Liam Miller", "Priya Sharma", "Chinedu Okafor")


def _needles() -> list[str]:
    return [EMAIL, CARD, CARD.replace(" ", ""), SSN, *NAMES]


def _leaks(engine: Engine, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table.column, needle, value) for every stored value holding a needle, any case."""
    found = []
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE table_schema IN ('raw', 'ops', 'nlp') AND data_type IN "
                "('text', 'character varying', 'json', 'jsonb', 'ARRAY')"
            )
        ).all()
        assert len(columns) > 30, columns
        for schema, table, column in columns:
            for needle in needles:
                rows = conn.execute(
                    text(
                        f'SELECT "{column}"::text FROM "{schema}"."{table}" '
                        f'WHERE "{column}"::text ILIKE :pattern'
                    ),
                    {"pattern": f"%{needle}%"},
                ).scalars()
                found += [(f"{schema}.{table}.{column}", needle, v[:120]) for v in rows]
    return found


def _drop(path: Path, updated_at: str, record_id: str = EMAIL) -> Path:
    record = {
        "id": record_id,
        "source": "gong",
        "department": "sales",
        "created_at": "2026-10-01T09:00:00Z",
        "updated_at": updated_at,
        "text": (
            "Call notes\nRep: Priya Sharma\nLiam: we need SSO before the renewal.\n\n"
            "Thanks, Liam Miller"
        ),
        "account_id": CARD,
        "kind": SSN,
        "rating": 7,
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def test_drop_ids_kind_and_names_are_masked_and_reimport_is_stable(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    key = settings.hash_key()
    first = import_drop(
        engine, _drop(tmp_path / "a.jsonl", "2026-10-01T09:00:00Z"), hash_key=key, actor="t"
    )
    assert (first.written, first.quarantined) == (1, 0)
    assert first.masked_entities["CREDIT_CARD"] >= 1 and first.masked_entities["PERSON"] >= 2

    assert _leaks(engine, _needles()) == []
    row = one(engine, "SELECT source_id, account_source_id, kind, text FROM raw.notes")
    (details,) = one(engine, "SELECT details FROM ops.audit_log WHERE action = 'import'")
    assert row.source_id == keyed_id(EMAIL, key) and row.source_id.startswith(HASHED_ID_PREFIX)
    assert row.account_source_id == keyed_id(CARD, key) != row.source_id
    assert row.kind == "<US_SSN>"
    assert row.text == (
        "Call notes\nRep: <PERSON>\n<PERSON>: we need SSO before the renewal.\n\nThanks, <PERSON>"
    )
    assert details["masker"] == MASKER_VERSION

    # The same file again changes nothing; a newer version with the address typed in
    # another case updates the same row.
    again = import_drop(
        engine, _drop(tmp_path / "a.jsonl", "2026-10-01T09:00:00Z"), hash_key=key, actor="t"
    )
    assert (again.written, again.unchanged) == (0, 1)
    newer = _drop(tmp_path / "b.jsonl", "2026-10-05T09:00:00Z", record_id=f" {EMAIL.upper()}")
    assert import_drop(engine, newer, hash_key=key, actor="t").written == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM raw.notes")).scalar_one() == 1
    assert _leaks(engine, _needles()) == []


def _rename(ds: DemoDataset, old: str, new: str) -> DemoDataset:
    """`ds` with every string field equal to `old` set to `new` (ids and references)."""
    changed: dict[str, Any] = {}
    for f in dataclasses.fields(ds):
        records = getattr(ds, f.name)
        if not isinstance(records, tuple):
            continue
        changed[f.name] = tuple(
            dataclasses.replace(
                r,
                **{
                    g.name: new
                    for g in dataclasses.fields(r)
                    if isinstance(getattr(r, g.name), str) and getattr(r, g.name) == old
                },
            )
            for r in records
        )
    return dataclasses.replace(ds, **changed)


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    ds = generate(seed=11, tickets=40, now=NOW)
    # A CRM contact id that is an address, an account id that is a card number.
    requester = ds.tickets[0].requester_source_id
    assert requester is not None and ds.tickets[0].account_source_id is not None
    ds = _rename(ds, requester, EMAIL)
    ds = _rename(ds, ds.tickets[0].account_source_id, CARD)
    # Categories holding PII: an SSN as a ticket's priority, an address as its channel.
    ticket = dataclasses.replace(ds.tickets[0], priority=SSN, channel=EMAIL)
    ds = dataclasses.replace(ds, tickets=(ticket, *ds.tickets[1:]))
    # A review whose id is an address.
    return _rename(ds, ds.reviews[0].source_id, EMAIL)


def _zendesk_client(base_url: str, email: str, token: str) -> ZendeskClient:
    return ZendeskClient(
        base_url,
        email,
        token,
        retry=RetryPolicy(max_retries=2, backoff_base=1.0),
        sleep=lambda _s: None,
        rand=lambda: 0.5,
    )


def test_zendesk_ids_holding_pii_are_hashed_consistently(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    key = settings.hash_key()
    with serve_fake_zendesk(dataset, page_size=10) as fake:
        with _zendesk_client(fake.base_url, fake.email, fake.api_token) as client:
            results = sync_all(engine, client, hash_key=key)
        assert all(r.quarantined == 0 for r in results.values())
        with _zendesk_client(fake.base_url, fake.email, fake.api_token) as client:
            again = sync_all(engine, client, hash_key=key)
    assert {s: r.rows_written for s, r in again.items()} == dict.fromkeys(again, 0)
    assert _leaks(engine, [EMAIL, CARD, CARD.replace(" ", ""), SSN]) == []
    first = one(
        engine,
        "SELECT priority, channel FROM raw.tickets WHERE source_id = :id",
        id=dataset.tickets[0].source_id,
    )
    assert tuple(first) == ("<US_SSN>", "<EMAIL_ADDRESS>")
    # The connector keeps Zendesk's own id for a user or organization whose external id is
    # PII; tickets still join to their customer.
    mine = [t.source_id for t in dataset.tickets if t.requester_source_id == EMAIL]
    joined = count(
        engine,
        "SELECT count(*) FROM raw.tickets t JOIN raw.contacts c "
        "ON c.source_id = t.requester_source_id WHERE t.source_id = ANY(:ids)",
        ids=mine,
    )
    assert mine and joined == len(mine)


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture
def app_store(dataset: DemoDataset, keys: KeyPair) -> Iterator[Any]:
    with serve_fake_app_store(dataset, key_pair=keys, page_size=10) as server:
        yield server


def test_app_store_review_id_holding_an_address_is_hashed(
    engine: Engine, settings: Settings, dataset: DemoDataset, app_store: Any, keys: KeyPair
) -> None:
    key = settings.hash_key()

    def client() -> AppStoreClient:
        return AppStoreClient(
            app_store.base_url,
            app_store.app_id,
            app_store.issuer_id,
            app_store.key_id,
            keys.private_pem,
            retry=RetryPolicy(max_retries=2, backoff_base=1.0),
            sleep=lambda _s: None,
            rand=lambda: 0.5,
        )

    with client() as c:
        first = sync_reviews(engine, c, hash_key=key)
    with client() as c:
        again = sync_reviews(engine, c, hash_key=key)
    assert first.rows_written == len(dataset.reviews) and again.rows_written == 0
    assert _leaks(engine, [EMAIL]) == []
    with engine.connect() as conn:
        ids = set(conn.execute(text("SELECT source_id FROM raw.reviews")).scalars())
    assert keyed_id(EMAIL, key) in ids and len(ids) == len(dataset.reviews)


def test_segment_calls_mask_every_field_and_hash_pii_ids(
    engine: Engine, settings: Settings
) -> None:
    """Issue 18: Segment ids, properties and traits, stored or quarantined."""
    from feedbackloop.sources.segment import store_calls

    key = settings.hash_key()
    calls: list[Any] = [
        {
            "type": "identify",
            "messageId": EMAIL,
            "userId": EMAIL,
            "anonymousId": CARD,
            "traits": {"email": EMAIL, "name": NAMES[0], "ssn": SSN, "nested": [{"id": CARD}]},
            "context": {"groupId": SSN},
        },
        {
            "type": "track",
            "messageId": "m-2",
            "userId": EMAIL,
            "event": "Report Created",
            "properties": {"note": f"Thanks, {NAMES[1]}; card {CARD}", "owner_id": EMAIL},
            "context": {"traits": {"email": EMAIL}, "groupId": CARD},
        },
        # Quarantined (no event name): kept masked too.
        {"type": "track", "messageId": CARD, "userId": EMAIL, "properties": {"who": NAMES[2]}},
    ]
    with engine.begin() as conn:
        first = store_calls(conn, calls, key=key, received=NOW)
    with engine.begin() as conn:
        again = store_calls(conn, calls[:2], key=key, received=NOW)
    assert (first.stored, first.quarantined, again.duplicate) == (2, 1, 2)
    assert _leaks(engine, _needles()) == []
    stored = one(engine, "SELECT * FROM raw.segment_events WHERE call_type = 'identify'")
    assert (stored.message_id, stored.user_id) == (keyed_id(EMAIL, key), keyed_id(EMAIL, key))
    assert stored.account_id == keyed_id(SSN, key) and stored.anonymous_id.startswith(
        HASHED_ID_PREFIX
    )


def test_mask_fields_masks_every_string_and_hashes_pii_ids() -> None:
    key = b"k" * 32
    row = {
        "source": "gong",
        "source_id": EMAIL,
        "account_source_id": "acc-17",
        "kind": f"ssn {SSN}",
        "tags": ["vip", f"card {CARD}"],
        "payload": {"id": EMAIL, "note": "Thanks, Liam Miller"},
        "rating": 7,
    }
    out = mask_fields(row, key=key)
    assert out["source"] == "gong" and out["account_source_id"] == "acc-17"
    assert out["source_id"] == keyed_id(EMAIL.lower(), key) == keyed_id(f" {EMAIL} ", key)
    assert re.fullmatch(r"pii-[0-9a-f]{32}", out["source_id"])
    assert out["kind"] == "ssn <US_SSN>" and out["tags"] == ["vip", "card <CREDIT_CARD>"]
    assert out["payload"] == {"id": out["source_id"], "note": "Thanks, <PERSON>"}
    assert out["rating"] == 7
    assert keyed_id(out["source_id"], key) == out["source_id"]  # hashing twice changes nothing
