"""A fake App Store Connect API over real HTTP on 127.0.0.1, serving a `DemoDataset`'s reviews.

It follows the documented shape of `GET /v1/apps/{id}/customerReviews`: `sort`
(`createdDate`/`-createdDate`), `limit` (at most 200; the fake also caps it at `page_size`),
`fields[customerReviews]`, `exists[publishedResponse]`, `filter[rating]`, `filter[territory]`;
a JSON:API document with `data[]` (`type` "customerReviews", `id`, `attributes`,
`relationships.response.links`, `links.self`), `links.self`/`links.next` (an opaque `cursor`)
and `meta.paging` {total, limit}; errors as `{"errors": [{status, code, title, detail}]}`.

Every request must carry `Authorization: Bearer <JWT>`: ES256 signature checked with the public
key, header `kid` = key id, payload `iss` = issuer id, `aud` "appstoreconnect-v1", `exp` in the
future and at most 20 minutes ahead; anything else answers 401. A `FaultPlan` injects 429s with
`Retry-After`, 5xx and malformed records; `add_review`/`edit_review` change the data while the
server runs. `generate_key_pair` makes a throwaway P-256 key pair (the private half in the
PKCS#8 PEM form of an App Store Connect .p8 file).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from demo.fake_http import JsonHandler, retry_after_header, serving
from demo.generator import DemoDataset

__all__ = [
    "APP_ID",
    "ISSUER_ID",
    "KEY_ID",
    "FakeAppStore",
    "FaultPlan",
    "KeyPair",
    "generate_key_pair",
    "serve_fake_app_store",
]

APP_ID = "1480000001"
ISSUER_ID = "57246542-96fe-1a63-e053-0824d011072a"
KEY_ID = "2X9R4HXF34"
AUDIENCE = "appstoreconnect-v1"
MAX_LIMIT = 200
MAX_LIFETIME = 20 * 60
CLOCK_SKEW = 60  # seconds of clock difference tolerated, as real servers do


@dataclass(frozen=True)
class KeyPair:
    private_pem: str  # PKCS#8, like an App Store Connect .p8 file
    public_pem: str  # SubjectPublicKeyInfo

    def write_p8(self, path: Path) -> Path:
        """Write the private key as a .p8 file readable by its owner only (from the start)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.private_pem)
        path.chmod(0o600)  # an existing file keeps its mode through O_TRUNC
        return path


def generate_key_pair() -> KeyPair:
    """A throwaway EC P-256 key pair for tests and the demo (never a real key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_pem, public_pem)


@dataclass(frozen=True)
class FaultPlan:
    """Faults applied to the API requests the server receives, in order: the first
    `rate_limited` answer 429 (with `Retry-After: retry_after` unless None), the next
    `server_errors` answer `error_status`. `malformed_reviews` adds three bad records among
    the newest ones: a rating out of range, no createdDate, a record of the wrong type."""

    rate_limited: int = 0
    retry_after: int | None = 7
    server_errors: int = 0
    error_status: int = 500
    malformed_reviews: bool = False


def _iso(when: datetime) -> str:
    # Apple writes local offsets ("2017-11-15T08:10:34-08:00"); UTC with an offset is the same.
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _encode_cursor(position: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str] | None:
    try:
        ts, rid = json.loads(_b64decode(cursor))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    return (ts, rid) if isinstance(ts, str) and isinstance(rid, str) else None


@dataclass
class _Item:
    sort_ts: str  # ISO UTC; sorts like the timestamp
    id: str
    body: dict[str, Any]


def _errors(status: int, code: str, title: str, detail: str) -> dict[str, Any]:
    return {"errors": [{"status": str(status), "code": code, "title": title, "detail": detail}]}


_NOT_AUTHORIZED = _errors(
    401,
    "NOT_AUTHORIZED",
    "Authentication credentials are missing or invalid.",
    "Provide a properly configured and signed bearer token, and make sure that it has not expired.",
)


@dataclass
class FakeAppStore:
    """The running fake: `base_url`, ids, keys, the request log and data mutators."""

    dataset: DemoDataset
    public_key_pem: str
    private_key_pem: str | None = None  # known when the fake made the key pair
    faults: FaultPlan = field(default_factory=FaultPlan)
    page_size: int = 50
    app_id: str = APP_ID
    issuer_id: str = ISSUER_ID
    key_id: str = KEY_ID
    base_url: str = ""
    requests: list[str] = field(default_factory=list)
    token_iats: list[int] = field(default_factory=list)  # `iat` of each accepted token
    unauthorized: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _served: int = field(default=0, init=False, repr=False)
    _items: list[_Item] = field(default_factory=list, init=False, repr=False)
    _public_key: ec.EllipticCurvePublicKey = field(init=False, repr=False)

    def settings(self, key_path: Path) -> dict[str, str]:
        """Settings (field names, `Settings.updated`) pointing the connector at this fake,
        signing with the private key written at `key_path`."""
        return {
            "reviews_base_url": self.base_url,
            "reviews_app_id": self.app_id,
            "reviews_issuer_id": self.issuer_id,
            "reviews_key_id": self.key_id,
            "reviews_private_key_path": str(key_path),
        }

    def __post_init__(self) -> None:
        key = serialization.load_pem_public_key(self.public_key_pem.encode())
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("the fake App Store needs an EC P-256 public key")
        self._public_key = key
        for r in self.dataset.reviews:
            attributes = {
                "rating": r.rating,
                "title": r.title,
                "body": r.body,
                "reviewerNickname": r.reviewer_nickname,
                "territory": r.territory,
            }
            self._add(r.source_id, r.created_at, attributes)
        if self.faults.malformed_reviews:
            self._add_malformed()
        self._sort()

    # ---------------------------------------------------------------------- data

    def _links(self, review_id: str) -> dict[str, Any]:
        self_link = f"{self.base_url}/v1/customerReviews/{review_id}"
        return {
            "relationships": {
                "response": {
                    "links": {
                        "self": f"{self_link}/relationships/response",
                        "related": f"{self_link}/response",
                    }
                }
            },
            "links": {"self": self_link},
        }

    @staticmethod
    def _resource(review_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        return {"type": "customerReviews", "id": review_id, "attributes": attributes}

    def _add(self, review_id: str, created: datetime, attributes: dict[str, Any]) -> None:
        attributes["createdDate"] = _iso(created)
        self._items.append(_Item(_iso(created), review_id, self._resource(review_id, attributes)))

    def _add_malformed(self) -> None:
        newest = max((r.created_at for r in self.dataset.reviews), default=self.dataset.now)
        ts = _iso(newest)
        bad_rating = self._resource(
            "00000099-bad0-0001-0000-000000000000",
            {
                "rating": 9,
                "title": "Nine stars",
                "body": "Mail me at jane.doe@example.com",
                "reviewerNickname": "jane_doe_88",
                "createdDate": ts,
                "territory": "USA",
            },
        )
        no_date = self._resource(
            "00000099-bad0-0002-0000-000000000000",
            {
                "rating": 3,
                "title": "No date",
                "body": "Call +1 415 555 0134",
                "reviewerNickname": "nodate_nick",
                "territory": "GBR",
            },
        )
        wrong_type = {"type": "apps", "id": "00000099-bad0-0003-0000-000000000000"}
        for body in (bad_rating, no_date, wrong_type):
            self._items.append(_Item(ts, str(body["id"]), body))

    def _sort(self) -> None:
        self._items.sort(key=lambda i: (i.sort_ts, i.id), reverse=True)

    def add_review(
        self,
        review_id: str,
        *,
        rating: int,
        title: str,
        body: str,
        created_at: datetime,
        territory: str = "USA",
        nickname: str = "new_reviewer",
    ) -> None:
        """A review that appears while the server runs."""
        attributes = {
            "rating": rating,
            "title": title,
            "body": body,
            "reviewerNickname": nickname,
            "territory": territory,
        }
        with self._lock:
            self._add(review_id, created_at, attributes)
            self._sort()

    def edit_review(self, review_id: str, **attributes: Any) -> None:
        """A customer edits a review (same id and createdDate, new content)."""
        with self._lock:
            item = next(i for i in self._items if i.id == review_id)
            item.body["attributes"].update(attributes)

    @property
    def review_ids(self) -> list[str]:
        return [i.id for i in self._items]

    def count(self, path_part: str) -> int:
        return sum(1 for r in self.requests if path_part in urlsplit(r).path)

    # ------------------------------------------------------------------- auth

    def verify(self, header: str | None) -> dict[str, Any] | None:
        """The token's claims if the bearer token is valid, else None."""
        if not header or not header.startswith("Bearer "):
            return None
        parts = header[7:].strip().split(".")
        if len(parts) != 3:
            return None
        try:
            head = json.loads(_b64decode(parts[0]))
            claims = json.loads(_b64decode(parts[1]))
            signature = _b64decode(parts[2])
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if not isinstance(head, dict) or not isinstance(claims, dict) or len(signature) != 64:
            return None
        if head.get("alg") != "ES256" or head.get("kid") != self.key_id:
            return None
        if head.get("typ", "JWT") != "JWT":
            return None
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            self._public_key.verify(
                der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature:
            return None
        now = time.time()
        exp, iat = claims.get("exp"), claims.get("iat")
        if claims.get("iss") != self.issuer_id or claims.get("aud") != AUDIENCE:
            return None
        if not isinstance(exp, int) or isinstance(exp, bool):
            return None
        if exp <= now or exp > now + MAX_LIFETIME + CLOCK_SKEW:
            return None
        if iat is not None and (not isinstance(iat, int) or iat > now + CLOCK_SKEW):
            return None
        return claims

    def _fault(self) -> int | None:
        f = self.faults
        with self._lock:
            n = self._served
            self._served += 1
        if n < f.rate_limited:
            return 429
        if n < f.rate_limited + f.server_errors:
            return f.error_status
        return None

    # ---------------------------------------------------------------- serving

    def handle(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        q = {k: v[-1] for k, v in query.items()}
        prefix, _, rest = path.partition("/v1/apps/")
        app_id, _, tail = rest.partition("/")
        if not prefix and app_id == self.app_id and tail == "":
            # "Read App Information" (the health check's credential test).
            attributes = {
                "name": "Tallybird",
                "bundleId": "example.tallybird",
                "primaryLocale": "en-US",
            }
            return 200, {
                "data": {"type": "apps", "id": app_id, "attributes": attributes},
                "links": {"self": f"/v1/apps/{app_id}"},
            }
        if prefix or tail != "customerReviews":
            return 404, _errors(404, "NOT_FOUND", "The specified resource does not exist.", path)
        if app_id != self.app_id:
            return 404, _errors(
                404, "NOT_FOUND", "The specified resource does not exist.", "no such app"
            )
        try:
            limit = int(q.get("limit", "50"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= MAX_LIMIT:
            return 400, _errors(
                400, "PARAMETER_ERROR.INVALID", "A parameter has an invalid value", "limit"
            )
        sort = q.get("sort", "-createdDate")
        if sort not in ("createdDate", "-createdDate"):
            return 400, _errors(
                400, "PARAMETER_ERROR.INVALID", "A parameter has an invalid value", "sort"
            )
        with self._lock:
            pool = list(self._items)
        if sort == "createdDate":
            pool.reverse()
        if "filter[rating]" in q:
            wanted = set(q["filter[rating]"].split(","))
            pool = [i for i in pool if str(i.body.get("attributes", {}).get("rating")) in wanted]
        if "filter[territory]" in q:
            wanted = set(q["filter[territory]"].split(","))
            pool = [i for i in pool if i.body.get("attributes", {}).get("territory") in wanted]
        if q.get("exists[publishedResponse]") == "true":
            pool = []  # the fake has no published responses
        total = len(pool)
        if "cursor" in q:
            position = _decode_cursor(q["cursor"])
            if position is None:
                return 400, _errors(
                    400, "PARAMETER_ERROR.INVALID", "A parameter has an invalid value", "cursor"
                )
            after = (
                (lambda i: (i.sort_ts, i.id) < position)
                if sort.startswith("-")
                else (lambda i: (i.sort_ts, i.id) > position)
            )
            pool = [i for i in pool if after(i)]
        size = min(limit, self.page_size)
        page = pool[:size]
        fields = q.get("fields[customerReviews]")
        keep = set(fields.split(",")) if fields else None
        data = []
        for item in page:
            resource = json.loads(json.dumps(item.body))
            if resource.get("type") == "customerReviews":
                resource.update(self._links(item.id))
            attributes = resource.get("attributes")
            if keep is not None and isinstance(attributes, dict):
                resource["attributes"] = {k: v for k, v in attributes.items() if k in keep}
            data.append(resource)
        self_url = f"{self.base_url}{path}?{urlencode(q)}"
        links: dict[str, str] = {"self": self_url}
        if len(page) < len(pool):
            nxt = {k: v for k, v in q.items() if k != "cursor"}
            nxt["cursor"] = _encode_cursor((page[-1].sort_ts, page[-1].id))
            links["next"] = f"{self.base_url}{path}?{urlencode(nxt)}"
        return 200, {
            "data": data,
            "links": links,
            "meta": {"paging": {"total": total, "limit": limit}},
        }


def _handler_for(fake: FakeAppStore) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        content_type = "application/json"

        def do_GET(self) -> None:
            parts = self._log_get(fake)
            claims = fake.verify(self.headers.get("Authorization"))
            if claims is None:
                with fake._lock:
                    fake.unauthorized += 1
                self._send(401, _NOT_AUTHORIZED, {})
                return
            with fake._lock:
                fake.token_iats.append(int(claims.get("iat") or 0))
            status = fake._fault()
            if status == 429:
                headers = retry_after_header(fake.faults.retry_after)
                self._send(
                    429,
                    _errors(
                        429,
                        "RATE_LIMIT_EXCEEDED",
                        "The request rate limit has been reached.",
                        "We've received too many requests for this API.",
                    ),
                    headers,
                )
                return
            if status is not None:
                self._send(
                    status,
                    _errors(status, "UNEXPECTED_ERROR", "An unexpected error occurred.", ""),
                    {},
                )
                return
            code, body = fake.handle(parts.path, parse_qs(parts.query))
            self._send(code, body, {})

    return Handler


@contextmanager
def serve_fake_app_store(
    dataset: DemoDataset,
    *,
    public_key_pem: str | None = None,
    key_pair: KeyPair | None = None,
    port: int = 0,
    page_size: int = 50,
    faults: FaultPlan | None = None,
    app_id: str = APP_ID,
    issuer_id: str = ISSUER_ID,
    key_id: str = KEY_ID,
) -> Iterator[FakeAppStore]:
    """Serve `dataset`'s reviews on 127.0.0.1 (`port=0`: a free port) until the block ends.

    Tokens are checked against `public_key_pem`, or `key_pair`'s public half; with neither,
    a throwaway pair is made and its private half is `fake.private_key_pem`."""
    if public_key_pem is None:
        key_pair = key_pair or generate_key_pair()
        public_key_pem = key_pair.public_pem
    fake = FakeAppStore(
        dataset,
        public_key_pem=public_key_pem,
        private_key_pem=key_pair.private_pem if key_pair else None,
        faults=faults or FaultPlan(),
        page_size=page_size,
        app_id=app_id,
        issuer_id=issuer_id,
        key_id=key_id,
    )
    with serving(fake, _handler_for(fake), "fake-app-store", port):
        yield fake
