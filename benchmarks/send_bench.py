"""Send benchmark: the outbox dispatcher against the fake targets, exactly once.

N pending actions, an equal share of each type (Slack alerts, auto-replies, priorities, tags
on a ticket and a CRM contact, HubSpot tasks), are inserted into `ops.actions` of a temporary
embedded PostgreSQL server; one dispatcher run sends them to the fake Zendesk, Slack and
HubSpot, which run in two SEPARATE PROCESSES (in ours they would share our GIL and cap the
figure) with no rate limit configured. Prints actions/s (wall and our process's CPU seconds)
and checks every action was delivered exactly once by counting what the fakes received.

`--ceiling` also measures a bare httpx loop (same threads, keep-alive) sending the same writes:
what the dispatcher reached when it sent through httpx (it now sends over `http.client`, about a
quarter of httpx's CPU per request, so it can pass this figure). `--clients ROUNDS` measures
only bare loops, per HTTP client (httpx, urllib3, http.client) and thread count (1, 4), back to
back against the same fakes: whether the fakes or the client cap a sender.

    python benchmarks/send_bench.py --actions 5000 [--workers 16] [--ceiling]
    python benchmarks/send_bench.py --actions 3000 --clients 2

To measure another version of the dispatcher on the same bench, run this file with that code
first on the path (e.g. `PYTHONPATH=/path/to/checkout`); it uses only `dispatch(engine,
settings)` and plain SQL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

# Appended: a checkout first on PYTHONPATH (another dispatcher version) wins.
sys.path.append(str(Path(__file__).resolve().parent.parent))

TYPES = ("slack_alert", "auto_reply", "set_priority", "tag", "create_task")
CHANNELS = ("escalations", "billing", "product-feedback", "ops-alerts")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------------ the fakes' processes


def _serve(kind: str, tickets: int) -> None:
    """Child process: serve one set of fakes; print their settings as a JSON line, then answer
    `counts` on stdin with what they received, until stdin closes."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        if kind == "zendesk":
            from demo.fake_zendesk import serve_fake_zendesk
            from demo.generator import generate

            dataset = generate(seed=7, tickets=tickets, now=NOW)
            zd = stack.enter_context(serve_fake_zendesk(dataset))
            ids = [t.source_id for t in dataset.tickets]
            for tid in ids:
                zd.update_ticket(tid, status="open")  # Zendesk refuses to update closed ones
            info: dict[str, Any] = {
                "zendesk_base_url": zd.base_url,
                "zendesk_email": zd.email,
                "zendesk_api_token": zd.api_token,
                "ticket_ids": ids,
            }
        else:
            from demo.fake_targets import serve_fake_targets

            fakes = stack.enter_context(serve_fake_targets(CHANNELS))
            info = {
                "slack_webhook_urls": fakes.slack.urls,
                "hubspot_base_url": fakes.hubspot.base_url,
                "hubspot_token": fakes.hubspot.token,
            }
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            if line.strip() != "counts":
                continue
            if kind == "zendesk":
                counts: dict[str, Counter[str]] = {
                    "auto_reply": Counter(),
                    "set_priority": Counter(),
                    "tag": Counter(),
                }
                for w in list(zd.writes):
                    tid = w.path.split("/")[4].split(".")[0]
                    if w.path.endswith("/tags.json"):
                        counts["tag"][tid] += 1
                    elif "comment" in (w.body or {}).get("ticket", {}):
                        counts["auto_reply"][tid] += 1
                    elif "priority" in (w.body or {}).get("ticket", {}):
                        counts["set_priority"][tid] += 1
            else:
                counts = {"slack_alert": Counter(), "create_task": Counter(), "crm_tag": Counter()}
                for ch in CHANNELS:
                    for m in fakes.slack.posted(ch):
                        counts["slack_alert"][m["text"]] += 1
                for task in list(fakes.hubspot.tasks):
                    counts["create_task"][task["properties"]["hs_task_subject"]] += 1
                for r in list(fakes.hubspot.requests):
                    if r.method == "PATCH":
                        counts["crm_tag"][r.path.rsplit("/", 1)[1]] += 1
            print(json.dumps({**counts, "cpu_s": time.process_time()}), flush=True)


class _Fakes:
    def __init__(self, kind: str, tickets: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--tickets", str(tickets)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info: dict[str, Any] = json.loads(self.proc.stdout.readline())

    def counts(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("counts\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        from feedbackloop.processes import end_worker

        end_worker(self.proc, timeout=10)


# ------------------------------------------------------------------------------ actions


def _actions(n: int, ticket_ids: list[str]) -> list[dict[str, Any]]:
    """n actions, types in turn; each one's mark (ticket, text, subject, contact) is unique."""
    rows = []
    for i in range(n):
        kind = TYPES[i % len(TYPES)]
        k = i // len(TYPES)
        ref = f"B{i:07d}"
        tid = ticket_ids[k]
        payload: dict[str, Any] = {"ref": ref}
        if kind == "slack_alert":
            channel = CHANNELS[k % len(CHANNELS)]
            payload |= {"channel": channel, "text": f"Bench alert {ref}"}
        elif kind == "auto_reply":
            payload |= {"ticket_id": tid, "body": f"Sorry. (ref {ref})", "public": True}
        elif kind == "set_priority":
            payload |= {"ticket_id": tid, "priority": "urgent"}
        elif kind == "tag":
            payload |= {
                "ticket_id": tid,
                "tags": ["angry", "feedback-loop"],
                "crm_contact_id": f"c{k}",
                "crm_property": "feedback_loop_tag",
                "crm_value": "feedback-loop",
            }
        else:
            payload |= {
                "properties": {
                    "hs_task_subject": f"Call back [{ref}]",
                    "hs_task_body": "Bench task",
                    "hs_timestamp": "2026-11-21T12:00:00.000Z",
                    "hs_task_status": "NOT_STARTED",
                    "hs_task_priority": "HIGH",
                    "hs_task_type": "CALL",
                },
                "associations": [],
            }
        rows.append(
            {
                "key": f"bench:{i}",
                "sid": tid,
                "type": kind,
                "payload": json.dumps(payload),
            }
        )
    return rows


def _insert(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO ops.actions (idempotency_key, item_type, item_source, item_source_id,
                    rule, action_type, payload)
                VALUES (:key, 'ticket', 'zendesk', :sid, 'bench', :type, CAST(:payload AS jsonb))
                """
            ),
            rows,
        )


def _expected(rows: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """What exactly-once delivery leaves at the fakes, in `_serve`'s counts."""
    out: dict[str, Counter[str]] = {k: Counter() for k in (*TYPES, "crm_tag")}
    for r in rows:
        p = json.loads(r["payload"])
        kind = r["type"]
        if kind == "slack_alert":
            out[kind][p["text"]] += 1
        elif kind == "create_task":
            out[kind][p["properties"]["hs_task_subject"]] += 1
        else:
            out[kind][p["ticket_id"]] += 1
            if kind == "tag":
                out["crm_tag"][p["crm_contact_id"]] += 1
    return out


# ------------------------------------------------------------------------------ ceiling


def _ceiling(rows: list[dict[str, Any]], settings: Any, workers: int) -> float:
    """Writes/s of a bare httpx loop (`workers` threads per target, keep-alive, no database)
    sending the same requests to fresh fakes: the ceiling of an httpx-based sender here."""
    import httpx

    from feedbackloop.sources.zendesk.client import token_auth

    zd = httpx.Client(
        base_url=settings.zendesk_base_url,
        auth=token_auth(settings.zendesk_email, settings.zendesk_api_token.get_secret_value()),
    )
    hs = httpx.Client(
        base_url=settings.hubspot_base_url,
        headers={"Authorization": f"Bearer {settings.hubspot_token.get_secret_value()}"},
    )
    slack = httpx.Client()
    urls = {k: v.get_secret_value() for k, v in settings.slack_webhook_urls.items()}

    def send(r: dict[str, Any]) -> int:
        p = json.loads(r["payload"])
        kind = r["type"]
        if kind == "slack_alert":
            return slack.post(urls[p["channel"]], json={"text": p["text"]}).status_code
        if kind == "auto_reply":
            body = {"ticket": {"comment": {"body": p["body"], "public": True}}}
            return zd.put(f"/api/v2/tickets/{p['ticket_id']}.json", json=body).status_code
        if kind == "set_priority":
            body = {"ticket": {"priority": p["priority"]}}
            return zd.put(f"/api/v2/tickets/{p['ticket_id']}.json", json=body).status_code
        if kind == "tag":
            zd.put(f"/api/v2/tickets/{p['ticket_id']}/tags.json", json={"tags": p["tags"]})
            return hs.patch(
                f"/crm/v3/objects/contacts/{p['crm_contact_id']}",
                json={"properties": {p["crm_property"]: p["crm_value"]}},
            ).status_code
        return hs.post("/crm/v3/objects/tasks", json={"properties": p["properties"]}).status_code

    cpu0 = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers * 3) as pool:
        statuses = Counter(pool.map(send, rows))
    elapsed = time.perf_counter() - started
    print(f"ceiling: {len(rows) / (time.process_time() - cpu0):.0f} actions per CPU second")
    for c in (zd, hs, slack):
        c.close()
    assert all(200 <= s < 300 for s in statuses), statuses
    return len(rows) / elapsed


def _requests(rows: list[dict[str, Any]], settings: Any) -> list[tuple[str, str, str, bytes]]:
    """The writes the actions make, as (method, absolute URL, Authorization, JSON body)."""
    import base64

    zd_user = f"{settings.zendesk_email}/token:{settings.zendesk_api_token.get_secret_value()}"
    zd_auth = "Basic " + base64.b64encode(zd_user.encode()).decode()
    zd, hs = settings.zendesk_base_url, settings.hubspot_base_url
    hs_auth = f"Bearer {settings.hubspot_token.get_secret_value()}"
    urls = {k: v.get_secret_value() for k, v in settings.slack_webhook_urls.items()}
    out: list[tuple[str, str, str, bytes]] = []

    def add(method: str, url: str, auth: str, body: Any) -> None:
        out.append((method, url, auth, json.dumps(body).encode()))

    for r in rows:
        p = json.loads(r["payload"])
        kind = r["type"]
        ticket = f"{zd}/api/v2/tickets/{p.get('ticket_id')}"
        if kind == "slack_alert":
            add("POST", urls[p["channel"]], "", {"text": p["text"]})
        elif kind == "auto_reply":
            add("PUT", f"{ticket}.json", zd_auth, {"ticket": {"comment": {"body": p["body"]}}})
        elif kind == "set_priority":
            add("PUT", f"{ticket}.json", zd_auth, {"ticket": {"priority": p["priority"]}})
        elif kind == "tag":
            add("PUT", f"{ticket}/tags.json", zd_auth, {"tags": p["tags"]})
            add(
                "PATCH",
                f"{hs}/crm/v3/objects/contacts/{p['crm_contact_id']}",
                hs_auth,
                {"properties": {p["crm_property"]: p["crm_value"]}},
            )
        else:
            add("POST", f"{hs}/crm/v3/objects/tasks", hs_auth, {"properties": p["properties"]})
    return out


def _client(kind: str) -> tuple[Any, Any]:
    """(send(method, url, auth, body) -> status, close) for one HTTP client library."""
    import threading
    from urllib.parse import urlsplit

    if kind == "httpx":
        import httpx

        hx = httpx.Client(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))

        def send_httpx(method: str, url: str, auth: str, body: bytes) -> int:
            headers = {"Content-Type": "application/json", "Authorization": auth}
            return hx.request(method, url, content=body, headers=headers).status_code

        return send_httpx, hx.close
    if kind == "urllib3":
        import urllib3

        pool = urllib3.PoolManager(maxsize=64, retries=False)

        def send_urllib3(method: str, url: str, auth: str, body: bytes) -> int:
            headers = {"Content-Type": "application/json", "Authorization": auth}
            return pool.request(method, url, body=body, headers=headers).status

        return send_urllib3, pool.clear
    import http.client

    local = threading.local()

    def send_http_client(method: str, url: str, auth: str, body: bytes) -> int:
        parts = urlsplit(url)
        conns = local.__dict__.setdefault("conns", {})
        conn = conns.get(parts.netloc)
        if conn is None:
            conn = conns[parts.netloc] = http.client.HTTPConnection(parts.netloc, timeout=10)
        headers = {"Content-Type": "application/json", "Authorization": auth}
        conn.request(method, parts.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status

    return send_http_client, lambda: None


def _client_ceilings(rows: list[dict[str, Any]], settings: Any, rounds: int) -> None:
    """Requests/s of a bare loop per client library and thread count, against the same
    fakes, back to back (`rounds` times, interleaved, so load changes hit every cell)."""
    requests = _requests(rows, settings)
    cells = [(c, t) for t in (1, 4) for c in ("httpx", "urllib3", "http.client")]
    figures: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    for _ in range(rounds):
        for client, threads in cells:
            send, close = _client(client)
            cpu0 = time.process_time()
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                statuses = Counter(pool.map(send, *zip(*requests, strict=True)))
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu0
            close()
            assert all(200 <= s < 300 for s in statuses), statuses
            figures[(client, threads)].append(len(requests) / elapsed)
            print(
                f"  {client:12s} {threads} thread(s): {len(requests) / elapsed:7.0f} requests/s, "
                f"{len(requests) / cpu:7.0f} per client CPU second",
                flush=True,
            )
    print("| client | threads | requests/s (each round) | actions/s (best) |")
    print("|---|---|---|---|")
    per_action = len(requests) / len(rows)
    for (client, threads), runs in figures.items():
        each = ", ".join(f"{x:.0f}" for x in runs)
        print(f"| {client} | {threads} | {each} | {max(runs) / per_action:.0f} |")


# ---------------------------------------------------------------------------------- run


def run(n: int, workers: int | None, ceiling: bool) -> dict[str, Any]:
    from feedbackloop.config import Settings
    from feedbackloop.db import embedded_server, ensure_ready
    from feedbackloop.routing import dispatch

    per_type = (n + len(TYPES) - 1) // len(TYPES)
    out: dict[str, Any] = {"actions": n}
    with tempfile.TemporaryDirectory(prefix="fl-send-bench-") as state:
        base = Settings(state_dir=Path(state), embedded_database="send_bench")
        server = embedded_server(base)
        zendesk = _Fakes("zendesk", per_type)
        targets = _Fakes("targets", 0)
        try:
            engine = ensure_ready(base)
            rows = _actions(n, zendesk.info.pop("ticket_ids"))
            _insert(engine, rows)
            overrides: dict[str, Any] = {
                **zendesk.info,
                **targets.info,
                # No limit: the fakes are on loopback (settings an older version ignores).
                "slack_posts_per_second": 0,
                "zendesk_writes_per_minute": 0,
                "hubspot_requests_per_second": 0,
                "routing_retry_delay": 0,
            }
            if workers:
                overrides["routing_dispatch_workers"] = workers
            settings = Settings(state_dir=Path(state), embedded_database="send_bench", **overrides)
            # The fakes' CPU seconds so far (starting, generating): subtracted afterwards.
            fakes_cpu0 = zendesk.counts()["cpu_s"] + targets.counts()["cpu_s"]
            cpu0 = time.process_time()
            started = time.perf_counter()
            report = dispatch(engine, settings)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu0
            zd_got, t_got = zendesk.counts(), targets.counts()
            fakes_cpu = zd_got.pop("cpu_s") + t_got.pop("cpu_s") - fakes_cpu0
            got = {**zd_got, **t_got}
            want = _expected(rows)
            wrong = {
                kind: sum(1 for key in set(want[kind]) | set(got.get(kind, {}))
                          if got.get(kind, {}).get(key, 0) != want[kind][key])
                for kind in want
            }  # fmt: skip
            with engine.connect() as conn:
                statuses = dict(
                    conn.execute(
                        text("SELECT status, count(*) FROM ops.actions GROUP BY status")
                    ).all()
                )
                usage = conn.execute(text("SELECT count(*) FROM ops.api_usage")).scalar_one()
            out |= {
                "workers": settings.routing_dispatch_workers,
                "sent": report.sent,
                "statuses": statuses,
                "seconds": round(elapsed, 2),
                "actions_per_s": round(n / elapsed, 1),
                "cpu_s": round(cpu, 2),
                "actions_per_cpu_s": round(n / cpu, 1) if cpu else None,
                "fakes_cpu_s": round(fakes_cpu, 2),
                "api_usage_rows": usage,
                "not_exactly_once": wrong,
                "exactly_once": not any(wrong.values()) and statuses == {"sent": n},
            }
            if ceiling:
                zendesk.close()
                targets.close()
                zendesk = _Fakes("zendesk", per_type)
                targets = _Fakes("targets", 0)
                fresh = Settings(
                    state_dir=Path(state),
                    embedded_database="send_bench",
                    **{**zendesk.info, **targets.info},
                )
                rows = _actions(n, zendesk.info.pop("ticket_ids"))
                out["httpx_loop_actions_per_s"] = round(
                    _ceiling(rows, fresh, settings.routing_dispatch_workers), 1
                )
        finally:
            zendesk.close()
            targets.close()
            server.stop()
    return out


def clients_only(n: int, rounds: int) -> None:
    from feedbackloop.config import Settings

    per_type = (n + len(TYPES) - 1) // len(TYPES)
    zendesk = _Fakes("zendesk", per_type)
    targets = _Fakes("targets", 0)
    try:
        with tempfile.TemporaryDirectory(prefix="fl-send-bench-") as state:
            rows = _actions(n, zendesk.info.pop("ticket_ids"))
            settings = Settings(state_dir=Path(state), **{**zendesk.info, **targets.info})
            _client_ceilings(rows, settings, rounds)
    finally:
        zendesk.close()
        targets.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actions", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=None, help="senders per target")
    parser.add_argument("--ceiling", action="store_true", help="also time a bare httpx loop")
    parser.add_argument(
        "--clients",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only measure bare loops per HTTP client and thread count (no dispatcher)",
    )
    parser.add_argument("--serve", choices=("zendesk", "targets"), help=argparse.SUPPRESS)
    parser.add_argument("--tickets", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.tickets)
        return
    if args.clients:
        clients_only(args.actions, args.clients)
        return
    result = run(args.actions, args.workers, args.ceiling)
    print(json.dumps(result, indent=2))
    if not result["exactly_once"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
