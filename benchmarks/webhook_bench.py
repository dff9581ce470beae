"""Benchmark the webhook receiver: signed Zendesk events per second, and how many were lost.

    python benchmarks/webhook_bench.py [--n 5000] [--concurrency 32] [--workers 1] [--json]

Starts a throwaway embedded PostgreSQL server in a temporary state dir (or uses
FEEDBACKLOOP_DATABASE_URL with --use-env, in a fresh database-side table state as found),
migrates it, starts uvicorn on 127.0.0.1 with a random free port in a child process, sends N
signed `zen:event-type:ticket.comment_added` deliveries with httpx (at most --concurrency in
flight, one unique invocation id each), then counts the rows in `raw.webhook_events`.

lost = events answered 2xx that are not in the table (must be 0) + events never answered 2xx.
Everything stops by itself: the client has a deadline, the server and database are shut down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import text

from feedbackloop.config import Settings
from feedbackloop.db import embedded_server, ensure_ready
from feedbackloop.processes import ProcessStartError, free_port, serving
from feedbackloop.web.app import zendesk_signature

SECRET = "bench-secret-not-for-production"
DATABASE = "webhook_bench"


def _settings(state_dir: str | None) -> Settings:
    if state_dir is None:
        return Settings(zendesk_webhook_secret=SECRET)
    return Settings(
        state_dir=Path(state_dir), embedded_database=DATABASE, zendesk_webhook_secret=SECRET
    )


def serve(port: int, state_dir: str | None, workers: int) -> None:
    """Child process: the app under uvicorn, as `feedbackloop web` would run it."""
    import uvicorn

    from feedbackloop.web import create_app

    if workers > 1:
        os.environ["FEEDBACKLOOP_BENCH_STATE_DIR"] = state_dir or ""
        uvicorn.run(
            "benchmarks.webhook_bench:_factory",
            factory=True,
            host="127.0.0.1",
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
        return
    app = create_app(_settings(state_dir))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _factory():  # uvicorn --workers needs an import string
    from feedbackloop.web import create_app

    state_dir = os.environ.get("FEEDBACKLOOP_BENCH_STATE_DIR") or None
    return create_app(_settings(state_dir))


def _event(i: int) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {
            "type": "zen:event-type:ticket.comment_added",
            "account_id": 22129848,
            "id": str(uuid.uuid4()),
            "time": now,
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{1000 + i % 500}",
            "detail": {"id": str(1000 + i % 500), "status": "OPEN", "subject": "Cannot log in"},
            "event": {
                "comment": {
                    "id": str(10_000_000 + i),
                    "body": f"Still failing, call me at +44 20 7946 0{i % 1000:03d}",
                    "is_public": True,
                    "author": {"id": "8447388090495", "is_staff": False, "name": "Customer"},
                }
            },
        }
    ).encode()


def _requests(n: int) -> list[tuple[bytes, dict[str, str]]]:
    """Signed requests, built before the clock starts so the client spends its time sending."""
    out = []
    for i in range(n):
        body = _event(i)
        ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {
            "content-type": "application/json",
            "x-zendesk-webhook-signature": zendesk_signature(SECRET, ts, body),
            "x-zendesk-webhook-signature-timestamp": ts,
            "x-zendesk-webhook-invocation-id": f"bench-{i}",
        }
        out.append((body, headers))
    return out


async def _send(
    base: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int, deadline: float
) -> tuple[int, int, float]:
    # httpx's pool costs grow with its size: several small clients beat one big one.
    ok = failed = 0
    pending = list(reversed(requests))
    url = f"{base}/webhooks/zendesk"

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal ok, failed
        while pending and time.monotonic() < deadline:
            body, headers = pending.pop()
            try:
                r = await client.post(url, content=body, headers=headers)
                if r.status_code == 200 and r.json().get("status") == "stored":
                    ok += 1
                else:
                    failed += 1
            except httpx.HTTPError:
                failed += 1

    clients = [
        httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=30.0)
        for _ in range(concurrency)
    ]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for client in clients))
        elapsed = time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()
    return ok, failed, elapsed


def _cpu_seconds(pid: int) -> float | None:
    """User+system CPU of a process so far (Linux), to show where the cores went."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="events to send")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--timeout", type=float, default=300.0, help="client deadline, seconds")
    parser.add_argument("--use-env", action="store_true", help="use FEEDBACKLOOP_* settings")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve(args.serve, args.state_dir, args.workers)
        return 0

    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        state_dir = None if args.use_env else tmp
        settings = _settings(state_dir)
        server = None if args.use_env else embedded_server(settings)
        try:
            engine = ensure_ready(settings)
            with engine.begin() as conn:
                before = conn.execute(
                    text("SELECT count(*) FROM raw.webhook_events WHERE source_id LIKE 'bench-%'")
                ).scalar_one()
            if before:
                raise SystemExit("raw.webhook_events already holds bench rows; use a fresh DB")
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            cmd = [sys.executable, __file__, "--serve", str(port), "--workers", str(args.workers)]
            if state_dir:
                cmd += ["--state-dir", state_dir]
            root = Path(__file__).resolve().parents[1]
            try:
                server_process = serving(
                    cmd, f"{base}/healthz", timeout=60, poll=0.1, stop_timeout=15, cwd=root
                )
                with server_process as proc:
                    requests = _requests(args.n)
                    client_cpu_start = time.process_time()
                    deadline = time.monotonic() + args.timeout
                    ok, failed, elapsed = asyncio.run(
                        _send(base, requests, args.concurrency, deadline)
                    )
                    server_cpu = _cpu_seconds(proc.pid)
            except ProcessStartError as exc:
                raise SystemExit(f"server {exc}") from None
            with engine.begin() as conn:
                rows = conn.execute(
                    text("SELECT count(*) FROM raw.webhook_events WHERE source_id LIKE 'bench-%'")
                ).scalar_one()
            engine.dispose()
        finally:
            if server is not None:
                server.stop()

    lost = args.n - rows
    result = {
        "events": args.n,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "answered_stored": ok,
        "failed_or_unanswered": failed + (args.n - ok - failed),
        "rows": rows,
        "lost": lost,
        "acked_but_missing": max(0, ok - rows),
        "seconds": round(elapsed, 3),
        "events_per_s": round(args.n / elapsed, 1),
        "cpus": os.cpu_count(),
        "server_cpu_s": server_cpu,
        "client_cpu_s": round(time.process_time() - client_cpu_start, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
