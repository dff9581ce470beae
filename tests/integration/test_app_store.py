"""The App Store Connect connector against the fake API over real HTTP on loopback (ES256 JWTs
checked), into a real PostgreSQL: full syncs equal the source, reruns write nothing, the
lookback stops the walk early, crashes resume exactly once, rate limits are waited out, a bad
key fails at once, bad records are quarantined once, and no nickname or personal data is
stored."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from source_support import Sleeps, client_options
from sqlalchemy import Engine, text
from support.clock import NOW
from support.db import count, rows_by

from demo.fake_app_store import (
    FakeAppStore,
    FaultPlan,
    KeyPair,
    generate_key_pair,
    serve_fake_app_store,
)
from demo.generator import DemoDataset, generate
from feedbackloop.config import ConfigError, Settings
from feedbackloop.http import SourceError
from feedbackloop.sources.app_store import AppStoreClient, sync_reviews
from feedbackloop.sources.base import SyncHooks, SyncPoint
from nlp.pii import mask

PAGE = 5


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    ds = generate(seed=11, tickets=200, now=NOW)
    assert len(ds.reviews) > 4 * PAGE and any(r.pii_values for r in ds.reviews)
    return ds


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture
def fake(dataset: DemoDataset, keys: KeyPair) -> Iterator[FakeAppStore]:
    with serve_fake_app_store(dataset, key_pair=keys, page_size=PAGE) as server:
        yield server


def _client(
    fake: FakeAppStore, engine: Engine, keys: KeyPair, sleeps: Sleeps | None = None, **kw: Any
) -> AppStoreClient:
    return AppStoreClient(
        fake.base_url,
        kw.pop("app_id", fake.app_id),
        kw.pop("issuer_id", fake.issuer_id),
        kw.pop("key_id", fake.key_id),
        kw.pop("private_key_pem", keys.private_pem),
        **client_options(engine, sleeps, kw),
    )


def _rows(engine: Engine) -> dict[str, Any]:
    sql = (
        "SELECT source_id, product, rating, title, body, language, territory, "
        "contact_source_id, created_at FROM raw.reviews WHERE source = 'app_store'"
    )
    return rows_by(engine, "source_id", sql)


def _assert_equals_source(engine: Engine, ds: DemoDataset, app_id: str) -> None:
    rows = _rows(engine)
    assert sorted(rows) == sorted(r.source_id for r in ds.reviews)
    assert count(engine, "SELECT count(*) FROM raw.reviews") == len(ds.reviews)  # once each
    for r in ds.reviews:
        row = rows[r.source_id]
        assert (row.product, row.rating, row.territory) == (app_id, r.rating, r.territory)
        assert row.created_at == r.created_at
        assert (row.title, row.body) == (mask(r.title), mask(r.body))
        assert row.language is None and row.contact_source_id is None


def _state(engine: Engine, app_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        state = conn.execute(
            text(
                "SELECT state FROM ops.sync_state "
                "WHERE source = 'app_store' AND stream = 'customer_reviews'"
            )
        ).scalar_one()
    return dict(state["apps"][app_id])


def test_full_sync_equals_source_and_rerun_writes_nothing(
    engine: Engine, settings: Settings, dataset: DemoDataset, fake: FakeAppStore, keys: KeyPair
) -> None:
    with _client(fake, engine, keys) as client:
        first = sync_reviews(engine, client, hash_key=settings.hash_key())
        _assert_equals_source(engine, dataset, fake.app_id)
        assert first.rows_written == len(dataset.reviews)
        assert first.pages == -(-len(dataset.reviews) // PAGE)
        assert first.masked_entities  # the dataset's reviews carry phone numbers and emails
        newest = max(r.created_at for r in dataset.reviews)
        state = _state(engine, fake.app_id)
        assert state["walk"] is None
        assert datetime.fromisoformat(state["high_water"]) == newest
        # Requests asked for no nickname, newest first, and carried a signed token.
        assert all("reviewerNickname" not in q and "sort=-createdDate" in q for q in fake.requests)
        assert fake.unauthorized == 0
        loaded_at = count(engine, "SELECT count(DISTINCT loaded_at) FROM raw.reviews")

        calls_before = len(fake.requests)
        again = sync_reviews(engine, client, hash_key=settings.hash_key())
    assert (again.rows_written, again.quarantined) == (0, 0)
    assert again.rows_unchanged > 0
    # The walk stopped at the lookback floor instead of reading the whole history again.
    assert again.pages < first.pages
    assert len(fake.requests) - calls_before == again.pages == again.api_calls
    assert count(engine, "SELECT count(DISTINCT loaded_at) FROM raw.reviews") == loaded_at
    assert (
        count(engine, "SELECT count(*) FROM ops.api_usage WHERE source = 'app_store'")
        == first.api_calls + again.api_calls
    )


def test_new_and_edited_reviews_only_they_are_written(
    engine: Engine, settings: Settings, dataset: DemoDataset, fake: FakeAppStore, keys: KeyPair
) -> None:
    with _client(fake, engine, keys) as client:
        sync_reviews(engine, client, hash_key=settings.hash_key())
        newest = max(r.created_at for r in dataset.reviews)
        fake.add_review(
            "00000028-b08c-0014-729e-fbd500000000",
            rating=2,
            title="Crashes on export",
            body="Write to me: pat.smith@example.org",
            created_at=newest + timedelta(hours=3),
        )
        # Late-indexed: dated before the high-water mark but within the lookback.
        fake.add_review(
            "00000028-b08c-0014-729e-fbd500000001",
            rating=4,
            title="Late",
            body="Shows up late",
            created_at=newest - timedelta(days=2),
        )
        edited = max(dataset.reviews, key=lambda r: r.created_at)
        fake.edit_review(edited.source_id, rating=1, body="Changed my mind.")
        result = sync_reviews(engine, client, hash_key=settings.hash_key())
        assert result.rows_written == 3
        rows = _rows(engine)
        assert rows["00000028-b08c-0014-729e-fbd500000000"].body == "Write to me: <EMAIL_ADDRESS>"
        assert rows["00000028-b08c-0014-729e-fbd500000001"].rating == 4
        assert (rows[edited.source_id].rating, rows[edited.source_id].body) == (
            1,
            "Changed my mind.",
        )
        assert rows[edited.source_id].created_at == edited.created_at
        assert sync_reviews(engine, client, hash_key=settings.hash_key()).rows_written == 0
    assert count(engine, "SELECT count(*) FROM raw.reviews") == len(dataset.reviews) + 2


def test_rate_limit_storm_and_server_errors_are_waited_out(
    engine: Engine, settings: Settings, dataset: DemoDataset, keys: KeyPair
) -> None:
    faults = FaultPlan(rate_limited=6, retry_after=7, server_errors=2)
    sleeps = Sleeps()
    with (
        serve_fake_app_store(dataset, key_pair=keys, page_size=PAGE, faults=faults) as fake,
        _client(fake, engine, keys, sleeps) as client,
    ):
        result = sync_reviews(engine, client, hash_key=settings.hash_key())
    # Six 429s waited exactly Retry-After; then backoff with (fixed) jitter for the 500s.
    assert sleeps == [7.0] * 6 + [0.5, 1.0]
    assert result.api_calls == result.pages + 8
    _assert_equals_source(engine, dataset, fake.app_id)
    assert count(engine, "SELECT count(*) FROM ops.api_usage WHERE status = 429") == 6


@pytest.mark.parametrize(
    "bad",
    [
        {"private_key_pem": None},  # another key: the signature does not verify
        {"key_id": "WRONGKEY01"},
        {"issuer_id": "00000000-0000-0000-0000-000000000000"},
        {"clock": "expired"},
    ],
    ids=["wrong-key", "wrong-kid", "wrong-issuer", "expired"],
)
def test_bad_token_fails_at_once_without_leaking_it(
    engine: Engine,
    settings: Settings,
    fake: FakeAppStore,
    keys: KeyPair,
    bad: dict[str, Any],
) -> None:
    kw = dict(bad)
    if "private_key_pem" in kw:
        kw["private_key_pem"] = generate_key_pair().private_pem
    if kw.get("clock") == "expired":
        real = datetime.now(UTC).timestamp()
        kw["clock"] = lambda: real - 3600  # a token that expired 45 minutes ago
    sleeps = Sleeps()
    with _client(fake, engine, keys, sleeps, **kw) as client:
        token = client.token()
        with pytest.raises(SourceError) as caught:
            sync_reviews(engine, client, hash_key=settings.hash_key())
    assert caught.value.status == 401
    assert len(fake.requests) == 1 and not sleeps  # no retry on 401
    message = str(caught.value)
    assert token not in message and token.split(".")[2] not in message
    assert "Bearer" not in message and "PRIVATE KEY" not in message
    assert count(engine, "SELECT count(*) FROM raw.reviews") == 0
    assert count(engine, "SELECT count(*) FROM ops.sync_state") == 0


def test_malformed_records_are_quarantined_once_and_the_rest_load(
    engine: Engine, settings: Settings, dataset: DemoDataset, keys: KeyPair
) -> None:
    faults = FaultPlan(malformed_reviews=True)
    with (
        serve_fake_app_store(dataset, key_pair=keys, page_size=PAGE, faults=faults) as fake,
        _client(fake, engine, keys) as client,
    ):
        first = sync_reviews(engine, client, hash_key=settings.hash_key())
        again = sync_reviews(engine, client, hash_key=settings.hash_key())
    _assert_equals_source(engine, dataset, fake.app_id)
    assert first.quarantined == 3 and again.quarantined == 0 and again.rows_written == 0
    with engine.connect() as conn:
        parked = conn.execute(
            text(
                "SELECT source_id, reason, payload FROM ops.quarantine "
                "WHERE source = 'app_store' ORDER BY source_id"
            )
        ).all()
    assert [(p.source_id, p.reason) for p in parked] == [
        ("00000099-bad0-0001-0000-000000000000", "rating is not between 1 and 5"),
        ("00000099-bad0-0002-0000-000000000000", "createdDate is missing"),
        ("00000099-bad0-0003-0000-000000000000", "type is not customerReviews"),
    ]
    payloads = json.dumps([p.payload for p in parked])
    assert "jane_doe_88" not in payloads and "nodate_nick" not in payloads
    assert "jane.doe@example.com" not in payloads and "555 0134" not in payloads
    assert "<EMAIL_ADDRESS>" in payloads


@pytest.mark.parametrize(
    ("page", "stage"),
    [(2, "committed"), (3, "state"), (3, "rows")],
    ids=["between-pages", "inside-page-before-state", "inside-page-after-rows"],
)
def test_crash_then_rerun_stores_every_review_exactly_once(
    engine: Engine,
    settings: Settings,
    dataset: DemoDataset,
    fake: FakeAppStore,
    keys: KeyPair,
    page: int,
    stage: str,
) -> None:
    class Crash(RuntimeError):
        pass

    def crash(point: SyncPoint) -> None:
        if point.page == page and point.stage == stage:
            raise Crash

    with _client(fake, engine, keys) as client:
        with pytest.raises(Crash):
            sync_reviews(engine, client, hash_key=settings.hash_key(), hooks=SyncHooks(crash))
        committed = page if stage == "committed" else page - 1
        assert count(engine, "SELECT count(*) FROM raw.reviews") == committed * PAGE
        assert _state(engine, fake.app_id)["walk"] is not None  # an unfinished walk is saved
        requests_before = len(fake.requests)
        rest = sync_reviews(engine, client, hash_key=settings.hash_key())
    # The rerun resumed at the saved page instead of starting over.
    pages = -(-len(dataset.reviews) // PAGE)
    assert len(fake.requests) - requests_before == pages - committed == rest.pages
    assert rest.rows_written == len(dataset.reviews) - committed * PAGE
    _assert_equals_source(engine, dataset, fake.app_id)
    assert _state(engine, fake.app_id)["walk"] is None


def test_no_nickname_or_unmasked_personal_data_is_stored(
    engine: Engine, settings: Settings, dataset: DemoDataset, fake: FakeAppStore, keys: KeyPair
) -> None:
    with _client(fake, engine, keys) as client:
        sync_reviews(engine, client, hash_key=settings.hash_key())
    with engine.connect() as conn:
        dump = json.dumps(
            [
                [str(v) for v in row]
                for table in ("raw.reviews", "ops.quarantine", "ops.audit_log", "ops.sync_state")
                for row in conn.execute(text(f"SELECT * FROM {table}"))
            ]
        )
    with_pii = [r for r in dataset.reviews if r.pii_values]
    assert with_pii
    for r in dataset.reviews:
        assert json.dumps(r.reviewer_nickname)[1:-1] not in dump
    for r in with_pii:
        for _, value in r.pii_values:
            assert json.dumps(value)[1:-1] not in dump


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, payload, _ = token.split(".")
    return tuple(  # type: ignore[return-value]
        json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in (head, payload)
    )


def test_token_follows_the_docs_and_is_refreshed_before_expiry(
    fake: FakeAppStore, keys: KeyPair
) -> None:
    now = [1_800_000_000.0]
    client = AppStoreClient(
        fake.base_url, "1", "issuer-1", "KEY1234567", keys.private_pem, clock=lambda: now[0]
    )
    first = client.token()
    header, claims = _claims(first)
    assert header == {"alg": "ES256", "kid": "KEY1234567", "typ": "JWT"}
    assert claims["iss"] == "issuer-1" and claims["aud"] == "appstoreconnect-v1"
    assert claims["iat"] == 1_800_000_000 and 0 < claims["exp"] - claims["iat"] <= 20 * 60
    now[0] += 10 * 60
    assert client.token() == first  # still well within its lifetime
    now[0] += 4 * 60  # one minute left, under the refresh margin
    second = client.token()
    assert second != first and _claims(second)[1]["iat"] == 1_800_000_000 + 14 * 60
    assert client.tokens_issued == 2 and "PRIVATE" not in repr(client)
    client.close()
    with pytest.raises(ConfigError):
        AppStoreClient(
            fake.base_url, "1", "i", "k", keys.private_pem, token_lifetime=timedelta(minutes=30)
        )
    with pytest.raises(ConfigError, match="not a PEM"):
        AppStoreClient(fake.base_url, "1", "i", "k", "not a key")


def test_from_settings_names_missing_settings_and_reads_the_p8(
    settings: Settings, engine: Engine, fake: FakeAppStore, keys: KeyPair, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        AppStoreClient.from_settings(settings)
    for name in ("BASE_URL", "APP_ID", "ISSUER_ID", "KEY_ID", "PRIVATE_KEY_PATH"):
        assert f"FEEDBACKLOOP_REVIEWS_{name}" in str(caught.value)
    configured = settings.model_copy(
        update={
            "reviews_base_url": fake.base_url,
            "reviews_app_id": fake.app_id,
            "reviews_issuer_id": fake.issuer_id,
            "reviews_key_id": fake.key_id,
            "reviews_private_key_path": keys.write_p8(tmp_path / "AuthKey.p8"),
        }
    )
    with AppStoreClient.from_settings(configured, engine=engine, page_size=PAGE) as client:
        body = client.list_reviews(client.first_page_params())
    assert len(body["data"]) == PAGE and body["links"]["next"]
    assert body["meta"]["paging"]["total"] == len(fake.review_ids)
    assert count(engine, "SELECT count(*) FROM ops.api_usage WHERE source = 'app_store'") == 1
    missing_file = configured.model_copy(update={"reviews_private_key_path": tmp_path / "nope"})
    with pytest.raises(ConfigError, match="REVIEWS_PRIVATE_KEY_PATH"):
        AppStoreClient.from_settings(missing_file)
