"""The keep-alive write client (`feedbackloop.http.KeepAliveHttp`) against real sockets on
127.0.0.1: whether a failed request can have reached the server is what the dispatcher's
exactly-once rests on (refused or half-sent: not sent; sent and unanswered: unknown), and an
idle connection the server closed is reopened, not mistaken for a lost answer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from feedbackloop.http import ApiCall, KeepAliveHttp, NoAnswer, RequestNotSent

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id": 42}\n'


def _read_request(conn: socket.socket) -> bytes:
    """One request, headers and body (Content-Length), or b"" when the client closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        body += conn.recv(65536)
    return head


@contextmanager
def _server(answer: Callable[[socket.socket, int], bool]) -> Iterator[tuple[str, list[bytes]]]:
    """A one-connection-at-a-time server; `answer(conn, n)` handles the n-th request and
    says whether to keep the connection open. Yields its base URL and the requests seen."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while (head := _read_request(conn)) and (seen.append(head) or True):
                    if not answer(conn, len(seen)):
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.close()


def test_answers_come_back_on_one_kept_alive_connection_and_are_reported() -> None:
    def ok(conn: socket.socket, n: int) -> bool:
        conn.sendall(OK)
        return True

    calls: list[ApiCall] = []
    with _server(ok) as (base, seen):
        client = KeepAliveHttp(
            "t", base, headers={"Authorization": "Bearer x"}, on_call=calls.append
        )
        for _ in range(3):
            answer = client.send("POST", "/things", endpoint="/things", json_body={"a": 1})
            assert answer.status_code == 200 and answer.json() == {"id": 42}
        client.close()
    assert len(seen) == 3 and all(b"Bearer x" in h for h in seen)
    assert [(c.method, c.endpoint, c.status) for c in calls] == [("POST", "/things", 200)] * 3


def test_a_refused_connection_is_not_sent() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    calls: list[ApiCall] = []
    client = KeepAliveHttp("t", f"http://127.0.0.1:{port}", on_call=calls.append)
    with pytest.raises(RequestNotSent, match="ConnectError"):
        client.send("POST", "/x", endpoint="/x", json_body={})
    assert [c.status for c in calls] == [None]  # the attempt is still accounted


def test_a_request_received_and_never_answered_is_no_answer() -> None:
    with _server(lambda conn, n: False) as (base, seen):  # read it, close without a word
        client = KeepAliveHttp("t", base)
        with pytest.raises(NoAnswer):
            client.send("PUT", "/x", endpoint="/x", json_body={"b": 2})
    assert len(seen) == 1


def test_a_read_timeout_after_the_request_went_out_is_no_answer() -> None:
    release = threading.Event()

    def slow(conn: socket.socket, n: int) -> bool:
        release.wait(5)
        return False

    with _server(slow) as (base, seen):
        client = KeepAliveHttp("t", base, timeout=0.3)
        with pytest.raises(NoAnswer, match="ReadTimeout"):
            client.send("POST", "/x", endpoint="/x", json_body={})
        release.set()
    assert len(seen) == 1


def test_an_idle_connection_the_server_closed_is_reopened_not_lost() -> None:
    def once_per_connection(conn: socket.socket, n: int) -> bool:
        conn.sendall(OK)
        return False  # answered, then closed: the client's kept connection is now dead

    with _server(once_per_connection) as (base, seen):
        client = KeepAliveHttp("t", base)
        for _ in range(3):
            assert client.send("POST", "/x", endpoint="/x", json_body={}).status_code == 200
            threading.Event().wait(0.05)  # the close reaches the client before the next send
        client.close()
    assert len(seen) == 3
