"""`HttpClient.get_json` over real HTTP on loopback: pages are decoded with orjson, and what
orjson refuses but JSON readers accept (NaN, integers past 64 bits, UTF-16) is decoded as the
json module would; a body that is not JSON is a one-line `SourceError`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from feedbackloop.http import HttpClient, SourceError

BODIES: dict[str, tuple[bytes, str]] = {
    "/page": (
        json.dumps({"tickets": [{"id": 7, "subject": "Zürich 😀", "score": 0.5}]}).encode(),
        "application/json",
    ),
    "/nan": (b'{"x": NaN, "y": -Infinity}', "application/json"),
    "/big": (b'{"id": 123456789012345678901234567890}', "application/json"),
    "/utf16": ('{"name": "Zoë"}'.encode("utf-16"), "application/json"),
    "/html": (b"<html>busy</html>", "text/html"),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, kind = BODIES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def client() -> Iterator[HttpClient]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with HttpClient("test", f"http://127.0.0.1:{server.server_address[1]}") as http:
            yield http
    finally:
        server.shutdown()
        server.server_close()


def test_pages_decode_as_the_json_module_decodes_them(client: HttpClient) -> None:
    for path in ("/page", "/big", "/utf16"):
        body, _ = BODIES[path]
        assert client.get_json(path) == json.loads(body), path
    nan = client.get_json("/nan")
    assert nan["x"] != nan["x"] and nan["y"] == float("-inf")


def test_a_body_that_is_not_json_is_a_source_error(client: HttpClient) -> None:
    with pytest.raises(SourceError, match="the response is not JSON") as raised:
        client.get_json("/html")
    assert raised.value.status == 200 and "\n" not in str(raised.value)
