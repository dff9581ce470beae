"""Who may see the dashboard, and proof that a form was posted from it.

Access: HTTP Basic with FEEDBACKLOOP_DASHBOARD_USER / FEEDBACKLOOP_DASHBOARD_PASSWORD, compared
in constant time. Without a password the dashboard is closed (503 and a one-line hint), never
open. Serve it behind TLS (a reverse proxy) anywhere but 127.0.0.1: Basic auth sends the
password with every request.

Guessing: failed logins are counted per client address and per user name (`throttle`); after
a few, the address or name is locked out for a while (429 with ``Retry-After``, the right
password included). Each failure is logged and stored in ``ops.login_failures`` masked: the
address as its network plus a keyed hash, the user name as a keyed hash, never the password.
The dashboard's failures page lists them.

CSRF: a browser re-sends Basic credentials on its own, also with a form another site makes it
post, so every POST needs (1) a token from one of our pages: ``TIMESTAMP.HMAC(key, user|TIMESTAMP)``
with a key random per process, valid for `TOKEN_MAX_AGE` seconds, and (2) when the browser says
where the request comes from (``Origin``, ``Sec-Fetch-Site``), our own origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from sqlalchemy import Engine, insert
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from feedbackloop.config import ENV_PREFIX, ConfigError, Settings
from feedbackloop.db.models import LoginFailure
from feedbackloop.web.dashboard.throttle import Key, LoginThrottle
from feedbackloop.web.limits import RepeatLog, db_reason

__all__ = ["TOKEN_MAX_AGE", "DashboardAuth", "Denied", "mask_address"]

log = logging.getLogger(__name__)

TOKEN_MAX_AGE = 12 * 3600
REALM = "feedbackloop dashboard"
NOT_CONFIGURED = (
    f"dashboard disabled: set {ENV_PREFIX}DASHBOARD_PASSWORD "
    f"(user {ENV_PREFIX}DASHBOARD_USER, default admin) and restart `feedbackloop web`"
)


class Denied(Exception):
    """Answered as a short plain-text response with `status`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def mask_address(host: str) -> str:
    """The client's network, not its address: ``203.0.113.0/24``, ``2001:db8:1::/48``."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "unknown"
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _claimed_user(request: Request) -> str | None:
    """The user name a Basic header claims, unchecked; None when there is none to read."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, _ = decoded.partition(":")
    return user if sep else None


class DashboardAuth:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        password = settings.dashboard_password
        self.user = settings.dashboard_user
        self._password = password.get_secret_value() if password is not None else ""
        self._key = secrets.token_bytes(32)
        self._clock = clock
        self._engine = engine
        self._throttle = LoginThrottle(clock)
        self._refusals = RepeatLog(log)
        try:
            # The PII key: the same name or address hashes the same across restarts.
            self._hash_key = settings.hash_key()
        except ConfigError:
            self._hash_key = self._key

    @property
    def configured(self) -> bool:
        return bool(self._password)

    def _tag(self, value: str) -> str:
        # Domain-separated: these tags cannot be joined with the PII hashes stored elsewhere.
        message = b"dashboard-login|" + value.encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()[:16]

    async def check(self, request: Request) -> str:
        """`user_of` behind the login throttle, failures logged and stored: what every page
        and form calls. Raises `Denied` (429 with Retry-After while locked out)."""
        if not self.configured:
            raise Denied(503, NOT_CONFIGURED)
        client = request.client.host if request.client else ""
        claimed = _claimed_user(request)
        keys: list[Key] = [("client", client)]
        if claimed is not None:
            keys.append(("user", self._tag(claimed)))
        wait = self._throttle.retry_after(keys)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            # One key for all clients: a flood from many addresses is still a few lines.
            self._refusals.failed(
                ("locked",), "dashboard logins refused (429): locked out after failed logins"
            )
            raise Denied(
                429,
                f"too many failed logins: try again in {seconds} s",
                {"Retry-After": str(seconds)},
            )
        try:
            user = self.user_of(request)
        except Denied as denied:
            # No Authorization header at all is a browser asking for the prompt, not a guess.
            if denied.status == 401 and request.headers.get("authorization"):
                locked = self._throttle.failed(keys)
                await self._failed(client, claimed, denied.message, locked)
            raise
        self._throttle.succeeded(keys)
        return user

    async def _failed(self, client: str, claimed: str | None, reason: str, locked: float) -> None:
        network, client_key = mask_address(client), self._tag(client)
        user_key = self._tag(claimed) if claimed is not None else None
        known = claimed is not None and hmac.compare_digest(claimed.encode(), self.user.encode())
        locked_seconds = math.ceil(locked) if locked else None
        if known:
            who = "the dashboard user"
        elif user_key is not None:
            who = f"another user name #{user_key[:8]}"
        else:
            who = "no user name"
        lock = f"; locked out for {locked_seconds} s" if locked_seconds else ""
        log.warning(
            "dashboard login failed from %s #%s (%s): %s%s",
            network,
            client_key[:8],
            who,
            reason,
            lock,
        )
        if self._engine is None:
            return
        row = {
            "client_network": network,
            "client_key": client_key,
            "user_key": user_key,
            "known_user": known,
            "reason": reason[:128],
            "locked_seconds": locked_seconds,
        }
        try:
            await run_in_threadpool(self._store, row)
        except Exception as exc:
            self._refusals.failed(
                ("store",), f"dashboard login failure not stored: {db_reason(exc)}"
            )

    def _store(self, row: dict[str, object]) -> None:
        assert self._engine is not None
        with self._engine.begin() as conn:
            conn.execute(insert(LoginFailure).values(**row))

    def user_of(self, request: Request) -> str:
        """The authenticated user; raises `Denied` (503 unconfigured, 401 otherwise)."""
        if not self.configured:
            raise Denied(503, NOT_CONFIGURED)
        challenge = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value:
            raise Denied(401, "credentials required", challenge)
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Denied(401, "malformed credentials", challenge) from None
        user, sep, password = decoded.partition(":")
        # Both comparisons always run: no timing hint of which part was wrong.
        ok = hmac.compare_digest(user.encode(), self.user.encode())
        ok &= hmac.compare_digest(password.encode(), self._password.encode())
        if not sep or not ok:
            raise Denied(401, "wrong user or password", challenge)
        return user

    # ------------------------------------------------------------------------------ CSRF

    def _mac(self, user: str, stamp: str) -> str:
        digest = hmac.new(self._key, f"{user}|{stamp}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def csrf_token(self, user: str) -> str:
        stamp = str(int(self._clock()))
        return f"{stamp}.{self._mac(user, stamp)}"

    def check_post(self, request: Request, user: str, token: str | None) -> None:
        """Raises `Denied(403)` unless the POST comes from one of our pages."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise Denied(403, "cross-site form post refused")
        origin = request.headers.get("origin")
        if origin is not None:
            host = request.headers.get("host", "")
            if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
                raise Denied(403, "form posted from another origin refused")
        stamp, _, mac = (token or "").partition(".")
        if not stamp.isdigit() or not mac:
            raise Denied(403, "missing form token: reload the page and try again")
        fresh = 0 <= self._clock() - int(stamp) <= TOKEN_MAX_AGE
        if not hmac.compare_digest(mac.encode(), self._mac(user, stamp).encode()) or not fresh:
            raise Denied(403, "invalid or expired form token: reload the page and try again")
