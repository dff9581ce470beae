"""App Store Connect connector: an app's customer reviews into `raw.reviews`, exactly once.

Endpoint (App Store Connect API, documented shapes):

- `GET /v1/apps/{id}/customerReviews?sort=-createdDate&limit=200&fields[customerReviews]=...`
  answers a JSON:API document: `data[]` (`type` "customerReviews", `id`, `attributes`
  {rating, title, body, reviewerNickname, createdDate, territory}), `links.next` while more
  pages exist, `meta.paging` {total, limit}.
- Auth: a JWT signed ES256 with the team's .p8 key; header `kid` (key id), `typ` JWT;
  payload `iss` (issuer id), `iat`, `exp` (at most 20 minutes ahead), `aud`
  "appstoreconnect-v1"; sent as `Authorization: Bearer <token>`.

The API has no "changed since" filter and no last-modified date, so each run walks the list
newest first and stops after the page that reaches below the stored high-water mark (newest
`createdDate` loaded) minus a lookback: reviews can show up late, with an older date than ones
already seen. Guarantees:

- Each page's rows and the walk's position (`ops.sync_state`, source 'app_store', stream
  'customer_reviews') commit in one transaction: a crash anywhere and a rerun store every
  review exactly once; an interrupted walk resumes at its saved page.
- A review already stored with the same content is not written (a rerun writes nothing); one
  whose content changed (customers can edit reviews) is replaced, stamped with the time the
  change was seen, since the API gives no modification date.
- The reviewer nickname is not even requested (`fields[customerReviews]` leaves it out) and
  never stored; title and body are masked; quarantined payloads are masked and stripped of it.
- A record that cannot be parsed goes to `ops.quarantine` once, with its reason; the rest of
  the page loads.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase

from feedbackloop.config import ENV_PREFIX, ConfigError, Settings
from feedbackloop.db import models as m
from feedbackloop.http import (
    HttpClient,
    SourceError,
    engine_usage_recorder,
)
from feedbackloop.sources.base import (
    ApiSource,
    Invalid,
    Page,
    Pages,
    SyncHooks,
    SyncResult,
    parse_timestamp,
    record_id,
    sync_stream,
)
from nlp.pii import CountingMasker, mask_value

__all__ = [
    "AUDIENCE",
    "MAX_LIMIT",
    "MAX_TOKEN_LIFETIME",
    "SOURCE",
    "STREAM_REVIEWS",
    "AppStoreClient",
    "sign_jwt",
    "sync_reviews",
]

log = logging.getLogger(__name__)

SOURCE = "app_store"
STREAM_REVIEWS = "customer_reviews"
AUDIENCE = "appstoreconnect-v1"
MAX_LIMIT = 200  # documented maximum of `limit`
MAX_TOKEN_LIFETIME = timedelta(minutes=20)  # Apple refuses tokens expiring later than this
# Everything but `reviewerNickname`: a name we must not store is better never received.
REVIEW_FIELDS = ("rating", "title", "body", "createdDate", "territory")
_KEEP_ATTRIBUTES = frozenset(REVIEW_FIELDS)


# ---------------------------------------------------------------------------------- JWT


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def sign_jwt(
    private_key: ec.EllipticCurvePrivateKey,
    *,
    key_id: str,
    issuer_id: str,
    issued_at: int,
    expires_at: int,
    audience: str = AUDIENCE,
) -> str:
    """A compact JWS (ES256): the DER signature `cryptography` returns is turned into the
    raw 64-byte r||s that JWS requires (RFC 7518 section 3.4)."""
    header = {"alg": "ES256", "kid": key_id, "typ": "JWT"}
    payload = {"iss": issuer_id, "iat": issued_at, "exp": expires_at, "aud": audience}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
    )
    der = private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _load_private_key(pem: str | bytes) -> ec.EllipticCurvePrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # The exception text could quote key material: say only what is wrong.
        raise ConfigError("the App Store Connect private key is not a PEM (.p8) key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError("the App Store Connect private key is not an EC P-256 key (ES256)")
    return key


class _TokenAuth(httpx.Auth):
    """Sets a fresh-enough bearer token on every attempt, retries included, so a long 429
    wait never sends an expired token."""

    def __init__(self, client: AppStoreClient) -> None:
        self._client = client

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._client.token()}"
        yield request


# ------------------------------------------------------------------------------ client


class AppStoreClient(ApiSource):
    """App Store Connect API access for one app's customer reviews."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        issuer_id: str,
        key_id: str,
        private_key_pem: str | bytes,
        *,
        page_size: int = MAX_LIMIT,
        lookback: timedelta = timedelta(days=7),
        token_lifetime: timedelta = timedelta(minutes=15),
        token_refresh_margin: timedelta = timedelta(minutes=2),
        clock: Callable[[], float] = time.time,
        **http_options: Any,
    ) -> None:
        """`http_options` (timeout, retry, on_call, sleep, rand, transport) go to the
        `HttpClient`."""
        if not base_url or not app_id or not issuer_id or not key_id or not private_key_pem:
            raise ConfigError(
                "App Store Connect needs a base URL, an app id, an issuer id, a key id and a "
                "private key"
            )
        if not timedelta(0) < token_lifetime <= MAX_TOKEN_LIFETIME:
            raise ConfigError("App Store Connect tokens must live between 0 and 20 minutes")
        if not timedelta(0) <= token_refresh_margin < token_lifetime:
            raise ConfigError("the token refresh margin must be shorter than the token lifetime")
        self.app_id = str(app_id)
        self.issuer_id = issuer_id
        self.key_id = key_id
        self.page_size = max(1, min(int(page_size), MAX_LIMIT))
        self.lookback = lookback
        self.token_lifetime = token_lifetime
        self.token_refresh_margin = token_refresh_margin
        self.clock = clock
        self._key = _load_private_key(private_key_pem)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self.tokens_issued = 0
        self.http = HttpClient(SOURCE, base_url, auth=_TokenAuth(self), **http_options)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, engine: Engine | None = None, **kwargs: Any
    ) -> AppStoreClient:
        """A client from the `FEEDBACKLOOP_REVIEWS_*` settings (the key is read from the .p8
        file); with `engine`, every HTTP call is recorded in `ops.api_usage`."""
        settings.require(
            "App Store Connect",
            "reviews_base_url",
            "reviews_app_id",
            "reviews_issuer_id",
            "reviews_key_id",
            "reviews_private_key_path",
        )
        assert settings.reviews_base_url and settings.reviews_app_id
        assert settings.reviews_issuer_id and settings.reviews_key_id
        assert settings.reviews_private_key_path
        path = settings.reviews_private_key_path.expanduser()
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"{ENV_PREFIX}REVIEWS_PRIVATE_KEY_PATH cannot be read ({type(exc).__name__})"
            ) from None
        if engine is not None and "on_call" not in kwargs:
            kwargs["on_call"] = engine_usage_recorder(engine)
        return cls(
            settings.reviews_base_url,
            settings.reviews_app_id,
            settings.reviews_issuer_id,
            settings.reviews_key_id,
            pem,
            **kwargs,
        )

    def __repr__(self) -> str:  # never the key or the token
        return f"AppStoreClient(app_id={self.app_id!r}, key_id={self.key_id!r})"

    def token(self) -> str:
        """The current bearer token, signed anew when it has less than the refresh margin
        left (a request or a retry must never leave with a token about to expire)."""
        with self._token_lock:
            now = self.clock()
            margin = self.token_refresh_margin.total_seconds()
            if self._token is None or now >= self._token_expires - margin:
                issued = int(now)
                expires = issued + int(self.token_lifetime.total_seconds())
                self._token = sign_jwt(
                    self._key,
                    key_id=self.key_id,
                    issuer_id=self.issuer_id,
                    issued_at=issued,
                    expires_at=expires,
                )
                self._token_expires = float(expires)
                self.tokens_issued += 1
            return self._token

    # ------------------------------------------------------------------- endpoints

    @property
    def reviews_path(self) -> str:
        return f"/v1/apps/{quote(self.app_id, safe='')}/customerReviews"

    def first_page_params(self) -> dict[str, Any]:
        return {
            "sort": "-createdDate",
            "limit": self.page_size,
            "fields[customerReviews]": ",".join(REVIEW_FIELDS),
        }

    def list_reviews(self, params: Mapping[str, Any]) -> dict[str, Any]:
        body = self.http.get_json(self.reviews_path, dict(params))
        if not isinstance(body, dict):
            raise SourceError(SOURCE, self.reviews_path, 200, "the response is not a JSON object")
        return body

    def next_page_params(self, body: Mapping[str, Any]) -> dict[str, str] | None:
        """The query of `links.next`, or None on the last page. Only the query is taken: a
        request never follows a host or path named by a response."""
        links = body.get("links")
        link = links.get("next") if isinstance(links, Mapping) else None
        if not isinstance(link, str) or not link:
            return None
        return {k: v[-1] for k, v in parse_qs(urlsplit(link).query).items()}


# ------------------------------------------------------------------------------ parsing


def _opt_str(attributes: Mapping[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    if value is None or isinstance(value, str):
        return value
    raise Invalid(f"{name} is not a string")


_TERRITORY = re.compile(r"[A-Za-z]{2,3}")


def _review_row(app_id: str, rec: Any, masker: CountingMasker) -> dict[str, Any]:
    if not isinstance(rec, Mapping):
        raise Invalid("record is not a JSON object")
    if rec.get("type") != "customerReviews":
        raise Invalid("type is not customerReviews")
    review_id = rec.get("id")
    if not isinstance(review_id, str) or not review_id.strip():
        raise Invalid("id is missing" if review_id is None else "id is not a string")
    if len(review_id) > 128:
        raise Invalid("id is longer than 128 characters")
    attributes = rec.get("attributes")
    if not isinstance(attributes, Mapping):
        raise Invalid("attributes is missing")
    rating = attributes.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise Invalid("rating is missing" if rating is None else "rating is not an integer")
    if not 1 <= rating <= 5:
        raise Invalid("rating is not between 1 and 5")
    created = parse_timestamp(attributes.get("createdDate"), "createdDate")
    territory = attributes.get("territory")
    if territory is not None and not (
        isinstance(territory, str) and _TERRITORY.fullmatch(territory)
    ):
        raise Invalid("territory is not a country code")
    return {
        "source": SOURCE,
        "source_id": review_id,
        "product": app_id[:128],
        "rating": rating,
        "title": masker(_opt_str(attributes, "title")),
        "body": masker(_opt_str(attributes, "body")),
        "language": None,  # the API does not say; the language step detects it later
        "territory": territory.upper() if territory else None,
        "contact_source_id": None,  # reviews are anonymous
        "created_at": created,
        "updated_at": created,  # no modification date in the API (see _changed_rows)
    }


def _safe_payload(rec: Any) -> Any:
    """What a quarantined record keeps: everything but the reviewer's nickname, masked."""
    if isinstance(rec, Mapping):
        out = {k: v for k, v in rec.items() if k not in ("attributes", "relationships", "links")}
        attributes = rec.get("attributes")
        if isinstance(attributes, Mapping):
            out["attributes"] = {k: v for k, v in attributes.items() if k in _KEEP_ATTRIBUTES}
        elif attributes is not None:
            out["attributes"] = attributes
        rec = out
    return mask_value(json.loads(json.dumps(rec, default=str)))


@dataclass
class _Page(Page):
    """A page of reviews, and the range of their dates (the walk stops below its floor)."""

    masked_columns: frozenset[str] = frozenset({"title", "body"})
    newest: datetime | None = None
    oldest: datetime | None = None


def _build_page(client: AppStoreClient, body: Mapping[str, Any]) -> tuple[_Page, int]:
    data = body.get("data")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise SourceError(SOURCE, client.reviews_path, 200, "'data' in the response is not a list")
    page = _Page()
    for rec in data:
        try:
            row = _review_row(client.app_id, rec, page.masker)
        except Invalid as exc:
            page.refuse(STREAM_REVIEWS, record_id(rec), str(exc), rec)
            continue
        page.add(m.Review, row)
        created = row["created_at"]
        page.newest = created if page.newest is None else max(page.newest, created)
        page.oldest = created if page.oldest is None else min(page.oldest, created)
    return page, len(data)


# ------------------------------------------------------------------------------ state


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when is not None else None


def _from_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


_COMPARED = ("product", "rating", "title", "body", "territory", "created_at")


def _changed_rows(
    conn: Connection, model: type[DeclarativeBase], rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Rows new or with changed content. Without a modification date from the API, a changed
    review is stamped with the time it was seen, after the stored version, so the upsert's
    "newest `updated_at` wins" lets it through; identical content is not written at all."""
    unique: dict[str, dict[str, Any]] = {r["source_id"]: r for r in rows}
    table = model.__table__
    stored: dict[str, Any] = {}
    ids = list(unique)
    for start in range(0, len(ids), 1000):
        result = conn.execute(
            select(table.c.source_id, table.c.updated_at, *(table.c[c] for c in _COMPARED)).where(
                table.c.source == SOURCE, table.c.source_id.in_(ids[start : start + 1000])
            )
        )
        stored.update((r.source_id, r) for r in result)
    now = datetime.now(UTC)
    fresh = []
    for sid, row in unique.items():
        old = stored.get(sid)
        if old is None:
            fresh.append(row)
        elif any(getattr(old, c) != row[c] for c in _COMPARED):
            seen = max(now, old.updated_at + timedelta(microseconds=1), row["updated_at"])
            fresh.append({**row, "updated_at": seen})
    return fresh, len(rows) - len(fresh)


# -------------------------------------------------------------------------------- sync


def sync_reviews(
    engine: Engine,
    client: AppStoreClient,
    *,
    hash_key: bytes,
    actor: str = "feedbackloop app_store",
    hooks: SyncHooks | None = None,
) -> SyncResult:
    """Customer reviews of `client.app_id` -> raw.reviews, newest first.

    State per app (`ops.sync_state.state["apps"][app_id]`): `high_water` (newest createdDate
    of the last finished walk) and, while a walk is under way, `walk` {`next` (query of the
    next page), `newest`, `floor`}. A walk stops after the first page that reaches below
    `floor` = high-water mark - `client.lookback` (later pages are older still), or at the
    last page; only then does the high-water mark move.

    `hash_key` hashes ids that hold personal data.
    """

    def pages(_cursor: str | None, state: dict[str, Any]) -> Pages:
        apps: dict[str, Any] = dict(state.get("apps") or {})
        app_state: dict[str, Any] = dict(apps.get(client.app_id) or {})
        high_water = _from_iso(app_state.get("high_water"))
        walk = app_state.get("walk")
        if isinstance(walk, dict) and isinstance(walk.get("next"), dict):
            params: dict[str, Any] = dict(walk["next"])
            newest = _from_iso(walk.get("newest"))
            floor = _from_iso(walk.get("floor"))
            resumed = True
            log.info("app_store: resuming an interrupted walk for app %s", client.app_id)
        else:
            params = client.first_page_params()
            newest = high_water
            floor = high_water - client.lookback if high_water is not None else None
            resumed = False
        while True:
            try:
                body = client.list_reviews(params)
            except SourceError as exc:
                if not (resumed and exc.status == 400):
                    raise
                # A saved cursor the API no longer accepts: walk again from the top (the
                # floor is kept, so nothing is skipped; what is stored is not rewritten).
                log.warning("app_store: saved page cursor refused, restarting the walk")
                params, resumed = client.first_page_params(), False
                continue
            resumed = False
            page, received = _build_page(client, body)
            if page.newest is not None:
                newest = page.newest if newest is None else max(newest, page.newest)
            next_params = client.next_page_params(body)
            done = (
                next_params is None
                or received == 0
                or (floor is not None and page.oldest is not None and page.oldest < floor)
            )
            if done:
                app_state = {"high_water": _iso(newest), "walk": None}
            else:
                assert next_params is not None
                if next_params == params:
                    raise SourceError(
                        SOURCE, client.reviews_path, 200, "pagination did not advance"
                    )
                app_state = {
                    "high_water": _iso(high_water),
                    "walk": {"next": next_params, "newest": _iso(newest), "floor": _iso(floor)},
                }
            cursor = None if done or next_params is None else next_params.get("cursor")
            yield page, cursor, {**state, "apps": {**apps, client.app_id: app_state}}
            if done:
                return
            assert next_params is not None
            params = next_params

    return sync_stream(
        engine,
        client,
        SOURCE,
        STREAM_REVIEWS,
        pages,
        hooks=hooks,
        actor=actor,
        hash_key=hash_key,
        # No modification date in the API: a review is new when its content is.
        fresh_rows=_changed_rows,
        mask_payload=_safe_payload,
        quarantine_stream=STREAM_REVIEWS,
    )
