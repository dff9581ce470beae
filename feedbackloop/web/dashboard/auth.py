"""Who may see the dashboard, and proof that a form was posted from it.

Access: HTTP Basic with FEEDBACKLOOP_DASHBOARD_USER / FEEDBACKLOOP_DASHBOARD_PASSWORD, compared
in constant time. Without a password the dashboard is closed (503 and a one-line hint), never
open. Serve it behind TLS (a reverse proxy) anywhere but 127.0.0.1: Basic auth sends the
password with every request.

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
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request

from feedbackloop.config import ENV_PREFIX, Settings

__all__ = ["TOKEN_MAX_AGE", "DashboardAuth", "Denied"]

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


class DashboardAuth:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        password = settings.dashboard_password
        self.user = settings.dashboard_user
        self._password = password.get_secret_value() if password is not None else ""
        self._key = secrets.token_bytes(32)
        self._clock = clock

    @property
    def configured(self) -> bool:
        return bool(self._password)

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
