"""End-to-end benchmark: generated data served by the fake APIs, through the whole loop.

    python benchmarks/loop_bench.py [--tickets 20000 | --tickets 5000,20000,100000] [--json]

The data set, the reference-stream load (CRM, help center) and every fake (Zendesk, App Store,
the notes drop file, Slack, HubSpot) run in a child process (benchmarks/loop_fakes.py); this
process runs only the pipeline, so its memory is the pipeline's own. Stages, each timed (wall
and this process's CPU seconds) with this process's RSS after it and its peak during it:
collect (Zendesk users, tickets, ticket events and CSAT through the fake Zendesk; reviews
through the fake App Store; notes from a drop file; every page masked and gated by GX as in
production) -> score (routing rules deciding in the same transactions) -> route (the outbox
sent to fake Zendesk, Slack and HubSpot) -> topics -> dbt build. Then the child changes 1% of
the tickets and adds 1% new reviews, and the same loop runs again (the incremental run).

Memory: VmHWM is reset before each stage (`/proc/self/clear_refs`), so each stage's peak is
its own; the pipeline's peak is the largest, and the stage it happened in is printed. Child
processes of the pipeline (dbt, Dask workers) are sampled apart; the fakes are reported apart.

Several sizes (`--tickets 5000,20000`) run one after another, each in a fresh process so no
peak carries over, and end with one scale table. `--sentiment-model encoder` scores on a Dask
LocalCluster (`--dask-workers`, default 1,2: the smallest size once per count) and prints how
scoring divides across the workers. A temporary embedded PostgreSQL server is used and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text

from benchmarks.loop_dask import DaskScoring, per_worker
from expectations.checkpoints import Validator
from feedbackloop.config import Settings
from feedbackloop.db import database_url, embedded_server, ensure_ready
from feedbackloop.forked import COMM_PREFIX, Gate, can_fork, fork_call
from feedbackloop.governance.gate import table_gate
from feedbackloop.marts import DbtRunner, build_marts
from feedbackloop.memory import tune_allocator
from feedbackloop.routing import DecideReport, dispatch, load_rules, scored_hook
from feedbackloop.scoring import score_pending
from feedbackloop.sources import zendesk
from feedbackloop.sources.app_store import AppStoreClient, sync_reviews
from feedbackloop.sources.drops import import_drop
from feedbackloop.topics import assign_topics
from nlp import load_pipeline
from tests.support.threads import Watcher

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "benchmarks" / "loop_fakes.py"
DATABASE = "loop_bench"
RAW_TABLES = (
    "tickets",
    "ticket_comments",
    "ticket_status_changes",
    "satisfaction_ratings",
    "reviews",
    "notes",
)
# "rows" of the end-to-end rate: the feedback-bearing raw rows (as in every earlier table).
ITEMS_SQL = """
SELECT (SELECT count(*) FROM raw.tickets) + (SELECT count(*) FROM raw.ticket_comments)
     + (SELECT count(*) FROM raw.satisfaction_ratings) + (SELECT count(*) FROM raw.reviews)
     + (SELECT count(*) FROM raw.notes)
"""


# ------------------------------------------------------------------------------ memory


def _proc_status() -> dict[str, float]:
    """VmRSS and VmHWM of this process, in MB."""
    values: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
    return values


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: `5` to clear_refs), so each stage's peak
    is its own; False where the kernel does not allow it (then VmHWM is the peak so far)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cmdline(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _child_label(pid: int) -> str:
    cmdline = _cmdline(pid)
    if cmdline and cmdline == _cmdline("self"):
        # A `fork_call` worker names itself (`feedbackloop.forked`); any other child with our
        # command line is forked and not yet exec'd: its RSS is still ours.
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return "skip"
        return f"forked {comm[len(COMM_PREFIX) :]}" if comm.startswith(COMM_PREFIX) else "skip"
    if not cmdline:
        return "skip"  # gone
    if "loop_fakes" in cmdline:
        return "skip"  # the fakes, before their pid is known to be excluded
    if "dbt" in cmdline:
        return "dbt"
    if "distributed" in cmdline or "dask" in cmdline:
        return "Dask worker"
    if "resource_tracker" in cmdline:
        return "multiprocessing resource tracker"
    if "multiprocessing" in cmdline:
        return "multiprocessing child"
    return cmdline.split(" ", 1)[0].rsplit("/", 1)[-1] or "?"


class ChildSampler(Watcher):
    """Max RSS of this process's descendants (dbt or Dask workers, when they run as
    processes), sampled every `interval` s from /proc; `exclude` (the fakes) and its own
    descendants are left out. Sampled because getrusage(RUSAGE_CHILDREN) is no use here: a
    child made by fork or vfork + exec reports the parent's RSS at the fork as its own peak.

    A forked worker (`feedbackloop.forked`, labelled "forked <name>") shares the pages it
    inherited with this process, so its RSS counts them twice; `private_mb` keeps the peak of
    its own pages (Private_Clean + Private_Dirty of /proc/<pid>/smaps_rollup), what the
    machine pays for it on top of this process."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.exclude: set[int] = set()
        self.peak_mb: dict[str, float] = {}
        self.private_mb: dict[str, float] = {}
        # Max over samples of this process's RSS plus its forked workers' private memory.
        self.pipeline_mb = 0.0
        super().__init__(name="child-rss")

    def _watch(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.interval):
            parents: dict[int, int] = {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            # The pipeline's memory at this instant: this process's RSS and the pages its
            # forked workers do not share with it.
            total = _proc_status()["VmRSS"]
            for pid in parents:
                if self._descends(pid, me, parents):
                    total += self._sample(pid)
            self.pipeline_mb = round(max(total, self.pipeline_mb), 1)

    def _descends(self, pid: int, me: int, parents: dict[int, int]) -> bool:
        """`pid` is below `me` and not the fakes process or below it."""
        seen = 0
        while pid not in self.exclude and seen < 64:
            up = parents.get(pid, 0)
            if up == me:
                return True
            if up <= 1:
                return False
            pid, seen = up, seen + 1
        return False

    def _sample(self, pid: int) -> float:
        """Records `pid`'s RSS (and a forked worker's private memory); returns the latter."""
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0.0
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                mb = int(line.split()[1]) / 1024
                label = _child_label(pid)
                if label == "skip":
                    return 0.0
                self.peak_mb[label] = round(max(mb, self.peak_mb.get(label, 0.0)), 1)
                if label.startswith("forked "):
                    own = round(_private_mb(pid), 1)
                    self.private_mb[label] = max(own, self.private_mb.get(label, 0.0))
                    return own
                return 0.0
        return 0.0


def _private_mb(pid: int | str = "self") -> float:
    """A process's private memory (pages no other process maps, Private_Clean + Private_Dirty
    of its smaps_rollup), MB: what a forked child adds to its parent's; 0 once it is gone."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        return 0.0
    return total / 1024


def _topics_in_child(
    engine: Engine, settings: Settings, gate: Gate
) -> tuple[Any, dict[str, float]]:
    """The topics stage as the flow runs it beside scoring, with the child's own wall, CPU,
    peak RSS (shared pages included) and private memory when it has clustered."""
    _reset_hwm()
    started, cpu = time.perf_counter(), time.process_time()
    figures: dict[str, float] = {}

    def before_write() -> None:
        figures["computed_s"] = time.perf_counter() - started
        figures["private_mb"] = round(_private_mb(), 1)
        gate.wait()

    report = assign_topics(engine, settings, before_write=before_write)
    figures["wall_s"] = round(time.perf_counter() - started, 2)
    figures["cpu_s"] = round(time.process_time() - cpu, 2)
    figures["peak_rss_mb"] = round(_proc_status()["VmHWM"], 1)
    figures["computed_s"] = round(figures["computed_s"], 2)
    return report, figures


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


@dataclass
class Stages:
    """Per stage: wall and CPU seconds, rows, and this process's RSS after and peak during;
    `beside`: a stage's own figures where it ran in a forked child (its row's seconds are then
    this process's wait for it)."""

    beside: dict[str, dict[str, float]] = field(default_factory=dict)
    # Work this process did inside a stage while a forked worker ran (wall seconds).
    meanwhile: dict[str, float] = field(default_factory=dict)
    hwm_resets: bool = True
    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    rss_after: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)
    # CPU of the stage's child processes reaped during it (a forked collect worker, dbt).
    cpu_children: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self.hwm_resets = _reset_hwm() and self.hwm_resets
        started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
        result = fn()
        self.seconds[name] = time.perf_counter() - started
        self.cpu[name] = time.process_time() - cpu
        self.cpu_children[name] = _children_cpu() - children
        status = _proc_status()
        self.rss_after[name] = status["VmRSS"]
        self.peak[name] = status["VmHWM"]
        # As it goes, on stderr: a long run that dies still says how far it got.
        print(
            f"[loop_bench] {name}: {self.seconds[name]:.1f} s, CPU {self.cpu[name]:.1f} s "
            f"(+{self.cpu_children[name]:.1f} s children), "
            f"RSS after {status['VmRSS']:,.0f} MB, peak {status['VmHWM']:,.0f} MB",
            file=sys.stderr,
            flush=True,
        )
        return result

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "cpu_s": {k: round(v, 2) for k, v in self.cpu.items()},
            "cpu_children_s": {k: round(v, 2) for k, v in self.cpu_children.items()},
            "counts": self.counts,
            "rss_after_mb": {k: round(v, 1) for k, v in self.rss_after.items()},
            "peak_mb": {k: round(v, 1) for k, v in self.peak.items()},
            "beside": self.beside,
            "meanwhile": {k: round(v, 2) for k, v in self.meanwhile.items()},
        }


# ------------------------------------------------------------------------------ the fakes


class Fakes:
    """The child process serving the data set (benchmarks/loop_fakes.py), spoken to over its
    stdin/stdout one JSON line at a time."""

    def __init__(self, tickets: int, state_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(FAKES),
                "--tickets",
                str(tickets),
                "--state-dir",
                str(state_dir),
                "--database",
                DATABASE,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"the fakes process ended (exit {code}); see its stderr above")
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"the fakes process: {message['error']}")
        return message

    def ask(self, op: str) -> dict[str, Any]:
        stdin: IO[str] | None = self.proc.stdin
        assert stdin is not None
        stdin.write(json.dumps({"op": op}) + "\n")
        stdin.flush()
        return self._read()

    def stop(self) -> dict[str, Any]:
        if self.proc.poll() is not None:
            return {}
        try:
            return self.ask("stop")
        finally:
            self.proc.wait(timeout=60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------------------ the loop


def _received(result: Any) -> int:
    if hasattr(result, "rows_written"):
        return result.rows_written + result.rows_unchanged + result.quarantined
    return result.written + result.unchanged + result.quarantined


def _items(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(ITEMS_SQL)).scalar_one())


def _raw_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {
            t: int(conn.execute(text(f"SELECT count(*) FROM raw.{t}")).scalar_one())
            for t in RAW_TABLES
        }
        counts["quarantined"] = int(
            conn.execute(text("SELECT count(*) FROM ops.quarantine")).scalar_one()
        )
    return counts


def _loop(
    engine: Engine,
    settings: Settings,
    fakes: Fakes,
    validator: Validator,
    nlp: Any,
    dask: DaskScoring | None = None,
) -> tuple[Stages, dict[str, int]]:
    key = settings.hash_key()
    hooks = zendesk.SyncHooks(gate=table_gate(validator))
    conf = fakes.ready["settings"]
    stages = Stages()
    counts = stages.counts
    client = zendesk.ZendeskClient(
        conf["zendesk_base_url"], conf["zendesk_email"], conf["zendesk_api_token"]
    )

    # As the feedback-loop flow (`pull_tickets(prepare_marts=True)`): dbt parses the project
    # in this process while the events child finishes; the build below skips dbt's parse.
    def parse() -> None:
        started = time.perf_counter()
        DbtRunner(settings).parse()
        stages.meanwhile["dbt parse"] = time.perf_counter() - started

    synced = stages.run(
        "collect: zendesk",
        lambda: zendesk.sync_all(
            engine, client, hash_key=key, hooks=hooks, workers=settings.workers, meanwhile=parse
        ),
    )
    counts["collect: zendesk"] = sum(_received(r) for r in synced.values())
    store = AppStoreClient(
        conf["reviews_base_url"],
        conf["reviews_app_id"],
        conf["reviews_issuer_id"],
        conf["reviews_key_id"],
        Path(conf["reviews_private_key_path"]).read_text(),
    )
    reviews = stages.run(
        "collect: reviews", lambda: sync_reviews(engine, store, hash_key=key, hooks=hooks)
    )
    counts["collect: reviews"] = _received(reviews)
    drop = Path(fakes.ready["drop_path"])
    notes = stages.run(
        "collect: drops", lambda: import_drop(engine, drop, hash_key=key, actor="bench")
    )
    counts["collect: drops"] = _received(notes)
    rules = load_rules(settings.routing_rules_path)
    decided = DecideReport()

    def score() -> Any:
        if dask is None:
            return stages.run(
                "score + decide",
                lambda: score_pending(engine, nlp, on_scored=scored_hook(rules, report=decided)),
            )
        # The workers' CPU is theirs: the stage's CPU column counts only this process.
        return stages.run(
            "score + decide", lambda: dask.score(engine, settings, nlp, rules, decided)
        )

    # As the feedback-loop flow: topics cluster in a forked child beside score + decide and
    # write once the decisions are made (FEEDBACKLOOP_WORKERS=1: after send, in this process).
    if settings.workers > 1 and can_fork():
        with Gate() as gate:
            beside = fork_call(
                _topics_in_child, engine, settings, gate, engines=[engine], name="topics"
            )
            try:
                report = score()
                gate.open()
                sent = stages.run("route: send", lambda: dispatch(engine, settings))
                # This process's share is the wait for the child; the child's figures apart.
                topics, stages.beside["topics"] = stages.run("topics", beside.result)
            finally:
                beside.kill()  # nothing to do once its result came back
    else:
        report = score()
        sent = stages.run("route: send", lambda: dispatch(engine, settings))
        topics = stages.run("topics", lambda: assign_topics(engine, settings))
    counts["score + decide"] = report.scored
    counts["route: send"] = sent.processed
    counts["topics"] = topics.considered
    stages.run("dbt build", lambda: build_marts(settings, quiet=True))
    counts["dbt build"] = _items(engine)
    return stages, {"scored": report.scored, "decided": decided.decided, "sent": sent.sent}


def run(
    tickets: int, sentiment_model: str = "rules", dask_workers: int | None = None
) -> dict[str, Any]:
    """One size, in this process; with `dask_workers`, scoring runs on a Dask LocalCluster."""
    setup = _proc_status()
    setup_rss = {"imports": setup["VmRSS"]}
    with tempfile.TemporaryDirectory(prefix="fl-loop-bench-") as state, ExitStack() as stack:
        base = Settings(state_dir=Path(state), embedded_database=DATABASE)
        server = embedded_server(base)
        fakes: Fakes | None = None
        dask: DaskScoring | None = None
        try:
            engine = ensure_ready(base)  # starts the server, creates the database, migrates
            children = stack.enter_context(ChildSampler())
            base.hash_key()  # written to the state dir now: the fakes process reads it too
            started = time.perf_counter()
            fakes = Fakes(tickets, Path(state))
            children.exclude.add(fakes.proc.pid)
            fakes_start_s = time.perf_counter() - started
            url = database_url(base).render_as_string(hide_password=False)
            validator = Validator(base.state_path, url, known_sources=base.known_sources)
            setup_rss["GX validator"] = _proc_status()["VmRSS"]
            nlp = load_pipeline(sentiment_model=sentiment_model)
            setup_rss["spaCy pipeline"] = _proc_status()["VmRSS"]
            ready = fakes.ready
            # Replies, tags and priorities go to the fake Zendesk that served the tickets.
            settings = Settings(
                state_dir=Path(state),
                embedded_database=DATABASE,
                slack_webhook_urls=ready["slack_webhook_urls"],
                hubspot_base_url=ready["hubspot_base_url"],
                hubspot_token=ready["hubspot_token"],
                zendesk_base_url=ready["settings"]["zendesk_base_url"],
                zendesk_email=ready["settings"]["zendesk_email"],
                zendesk_api_token=ready["settings"]["zendesk_api_token"],
                sentiment_model=sentiment_model,
                # The loopback fakes have no rate limit: send as fast as they answer.
                slack_posts_per_second=0,
                zendesk_writes_per_minute=0,
                hubspot_requests_per_second=0,
            )
            if dask_workers:
                dask = stack.enter_context(DaskScoring(dask_workers))
            setup = _proc_status()
            full, full_out = _loop(engine, settings, fakes, validator, nlp, dask)
            full_items = _items(engine)
            full_raw = _raw_counts(engine)
            full_parts = list(dask.parts) if dask else []
            change = fakes.ask("change")
            incremental, inc_out = _loop(engine, settings, fakes, validator, nlp, dask)
            inc_raw = _raw_counts(engine)
            dbt_results = _dbt_results(settings.state_path / "dbt" / "target")
            slowest = _slowest_dbt_nodes(dbt_results)
            nodes = _dbt_nodes(dbt_results)
            stack.close()  # the Dask workers end (and are reaped) here
            fakes_out = fakes.stop()
        finally:
            if fakes is not None:
                fakes.kill()
            server.stop()
    full_s = sum(full.seconds.values())
    inc_s = sum(incremental.seconds.values())
    peaks = {f"full {k}": v for k, v in full.peak.items()}
    peaks |= {f"incremental {k}": v for k, v in incremental.peak.items()}
    peak_stage = max(peaks, key=lambda k: peaks[k])
    return {
        "tickets": tickets,
        "sentiment_model": sentiment_model,
        "dask_workers": dask_workers,
        "dask_start_s": round(dask.start_s, 2) if dask else None,
        # How the full run's scoring divided across the workers.
        "dask_per_worker": per_worker(full_parts),
        "items": full_items,
        "dataset": ready["dataset"],
        "raw_after_full": full_raw,
        "raw_after_incremental": inc_raw,
        "change": change,
        "generate_s": ready["generate_s"],
        "reference_load_s": ready["reference_load_s"],
        "fakes_start_s": round(fakes_start_s, 2),
        "full": full.as_dict(),
        "incremental": incremental.as_dict(),
        "full_s": round(full_s, 2),
        "items_per_s": round(full_items / full_s, 1),
        "incremental_s": round(inc_s, 2),
        "incremental_share": round(inc_s / full_s, 3),
        "incremental_scored": inc_out["scored"],
        "decided": full_out["decided"] + inc_out["decided"],
        "sent": full_out["sent"] + inc_out["sent"],
        "sent_full": full_out["sent"],
        "rss_setup_mb": round(setup["VmRSS"], 1),
        "hwm_setup_mb": round(setup["VmHWM"], 1),
        "hwm_resets": full.hwm_resets and incremental.hwm_resets,
        "peak_rss_mb": round(max([setup["VmHWM"], *peaks.values()]), 1),
        "peak_stage": peak_stage if peaks[peak_stage] >= setup["VmHWM"] else "setup",
        "children_peak_rss_mb": children.peak_mb,
        "forked_private_peak_mb": children.private_mb,
        "pipeline_with_forked_peak_mb": children.pipeline_mb,
        "setup_rss_mb": {k: round(v, 1) for k, v in setup_rss.items()},
        "fakes_peak_rss_mb": fakes_out.get("peak_rss_mb"),
        "incremental_dbt_s": round(incremental.seconds["dbt build"], 2),
        "incremental_dbt_slowest": slowest,
        "incremental_dbt_nodes": nodes,
    }


def _dbt_results(target: Path) -> list[dict[str, Any]]:
    """The incremental dbt build's node results (run_results.json); none if it wrote none."""
    try:
        return json.loads((target / "run_results.json").read_text())["results"]
    except (OSError, KeyError, ValueError):
        return []


def _slowest_dbt_nodes(results: list[dict[str, Any]], n: int = 10) -> list[tuple[str, float]]:
    """The slowest models and tests, to see where the build's time goes."""
    ranked = sorted(results, key=lambda r: r.get("execution_time", 0.0), reverse=True)[:n]
    return [(r["unique_id"].split(".", 1)[1], round(r["execution_time"], 2)) for r in ranked]


def _dbt_nodes(results: list[dict[str, Any]]) -> dict[str, int]:
    """The nodes by kind (model, test, ...): each costs dbt about 20 ms whatever its SQL, so
    the count is part of the step's cost."""
    return dict(Counter(r["unique_id"].split(".", 1)[0] for r in results))


# ------------------------------------------------------------------------------ several sizes


def run_fresh(tickets: int, sentiment_model: str, dask_workers: int | None) -> dict[str, Any]:
    """One size in a fresh process (so no peak carries over); its progress goes to stderr."""
    fd, path = tempfile.mkstemp(prefix="fl-loop-bench-", suffix=".json")
    os.close(fd)
    try:
        command = [sys.executable, __file__, "--tickets", str(tickets)]
        command += ["--sentiment-model", sentiment_model, "--result-file", path]
        if dask_workers:
            command += ["--dask-workers", str(dask_workers)]
        proc = subprocess.run(command, stdout=sys.stderr, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"the {tickets:,}-ticket run failed (exit {proc.returncode})")
        result: dict[str, Any] = json.loads(Path(path).read_text())
        return result
    finally:
        os.unlink(path)


def _slowest(result: dict[str, Any]) -> str:
    seconds = result["full"]["seconds"]
    stage = max(seconds, key=lambda k: seconds[k])
    rows = result["full"]["counts"][stage]
    rate = rows / seconds[stage] if seconds[stage] else 0
    return f"{stage} {seconds[stage]:.1f} s ({rate:,.0f} rows/s)"


def _send_rate(result: dict[str, Any]) -> float:
    seconds = result["full"]["seconds"]["route: send"]
    return result["full"]["counts"]["route: send"] / seconds if seconds else 0.0


def print_scale(results: list[dict[str, Any]]) -> None:
    print(f"## Scale (sentiment model: {results[0]['sentiment_model']})\n")
    print(
        "| tickets | raw rows | end to end rows/s | slowest stage | send actions/s "
        "| pipeline peak RSS MB (stage) | with forked workers MB | increment share "
        "| incremental dbt s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        n = r.get("dask_workers")
        workers = f" ({n} Dask worker{'s' if n > 1 else ''})" if n else ""
        print(
            f"| {r['tickets']:,}{workers} | {r['items']:,} | {r['items_per_s']:,.0f} "
            f"| {_slowest(r)} | {_send_rate(r):,.0f} "
            f"| {r['peak_rss_mb']:,.0f} ({r['peak_stage']}) "
            f"| {r.get('pipeline_with_forked_peak_mb', 0):,.0f} "
            f"| {r['incremental_share']:.1%} | {r['incremental_dbt_s']:.1f} |"
        )
    scoring = [r for r in results if r.get("dask_workers")]
    if scoring:
        print("\n## Scoring on Dask (full run)\n")
        print(
            "| tickets | workers | items scored | score + decide s | items/s "
            "| per worker: partitions, items, busy s, CPU s |"
        )
        print("|---|---|---|---|---|---|")
        for r in scoring:
            seconds = r["full"]["seconds"]["score + decide"]
            rows = r["full"]["counts"]["score + decide"]
            split = "; ".join(
                f"{name}: {w['partitions']}, {w['rows']:,}, {w['wall_s']:.1f}, {w['cpu_s']:.1f}"
                for name, w in sorted(r["dask_per_worker"].items())
            )
            print(
                f"| {r['tickets']:,} | {r['dask_workers']} | {rows:,} | {seconds:.1f} "
                f"| {rows / seconds if seconds else 0:,.0f} | {split} |"
            )


def _cpu_cell(run: dict[str, Any], stage: str) -> str:
    """This process's CPU s, plus its children's (a forked worker, dbt) when they had any."""
    own = run["cpu_s"][stage]
    children = run.get("cpu_children_s", {}).get(stage, 0.0)
    return f"{own:.2f}" + (f" (+{children:.2f})" if children >= 0.01 else "")


def print_result(result: dict[str, Any]) -> None:
    items, full, inc = result["items"], result["full"], result["incremental"]
    print(
        f"## Whole loop: {result['tickets']:,} tickets -> {items:,} feedback rows"
        f" (sentiment model: {result['sentiment_model']})\n"
    )
    print(
        "| stage | rows | full run s | CPU s | rows/s | RSS after MB | peak MB "
        "| incremental rows | incremental s | incr. peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for stage, seconds in full["seconds"].items():
        rows = full["counts"][stage]
        rate = rows / seconds if seconds else 0
        print(
            f"| {stage} | {rows:,} | {seconds:.2f} | {_cpu_cell(full, stage)} | {rate:,.0f} "
            f"| {full['rss_after_mb'][stage]:,.0f} | {full['peak_mb'][stage]:,.0f} "
            f"| {inc['counts'][stage]:,} | {inc['seconds'][stage]:.2f} "
            f"| {inc['peak_mb'][stage]:,.0f} |"
        )
    print(
        f"| **end to end** | {items:,} | {result['full_s']:.2f} "
        f"| {sum(full['cpu_s'].values()):.2f} | {result['items_per_s']:,.0f} | | | "
        f"| {result['incremental_s']:.2f} ({result['incremental_share']:.1%} of full) | |"
    )
    for run_name, figures in (("full", full), ("incremental", inc)):
        for stage, b in figures.get("beside", {}).items():
            rows = figures["counts"][stage]
            print(
                f"\n{run_name} run, {stage} in a forked child beside score + decide and send: "
                f"wall {b['wall_s']:.2f} s ({rows / b['wall_s'] if b['wall_s'] else 0:,.0f} "
                f"rows/s), CPU {b['cpu_s']:.2f} s, computed after {b['computed_s']:.2f} s; "
                f"peak RSS {b['peak_rss_mb']:,.0f} MB (pages shared with this process "
                f"included), private {b['private_mb']:,.0f} MB; this process waited "
                f"{figures['seconds'][stage]:.2f} s for it."
            )
    for run_name, figures in (("full", full), ("incremental", inc)):
        for what, seconds in figures.get("meanwhile", {}).items():
            print(
                f"\n{run_name} run, {what} in this process while the events child synced "
                f"(inside collect: zendesk): {seconds:.2f} s."
            )
    hwm = "" if result["hwm_resets"] else " (VmHWM could not be reset: peaks are cumulative)"
    setup = ", ".join(f"{k} {v:,.0f}" for k, v in result["setup_rss_mb"].items())
    children = ", ".join(f"{k} {v:,.0f}" for k, v in result["children_peak_rss_mb"].items())
    # A forked worker's RSS counts the pages it shares with the pipeline; its own are these.
    private = result.get("forked_private_peak_mb") or {}
    forked = "".join(f"; {k}: {v:,.0f} of them its own" for k, v in private.items())
    print(
        f"\nactions decided {result['decided']:,}, sent {result['sent']:,}.\n"
        f"Pipeline (this process): RSS after setup {result['rss_setup_mb']:,.0f} MB "
        f"(after {setup}); peak {result['peak_rss_mb']:,.0f} MB in {result['peak_stage']}{hwm}.\n"
        f"Its child processes, sampled max RSS of any one, MB: {children or 'none'}"
        f"{forked}.\n"
        f"The pipeline with its forked workers (this process's RSS plus their own pages, "
        f"sampled together every 0.25 s): peak {result['pipeline_with_forked_peak_mb']:,.0f} MB.\n"
        f"The fakes process (generator, data set, reference load, servers; not the pipeline): "
        f"peak {result['fakes_peak_rss_mb']:,.0f} MB; generator {result['generate_s']} s, "
        f"reference load {result['reference_load_s']} s."
    )
    if result.get("dask_workers"):
        print(
            f"\nscoring on {result['dask_workers']} Dask worker(s) (cluster start "
            f"{result['dask_start_s']} s, not in the stage); the full run per worker:"
        )
        for name, w in sorted(result["dask_per_worker"].items()):
            print(
                f"  worker {name}: {w['partitions']} partitions, {w['rows']:,} items, "
                f"busy {w['wall_s']:.1f} s, CPU {w['cpu_s']:.1f} s"
            )
    nodes = result.get("incremental_dbt_nodes") or {}
    if nodes:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(nodes.items(), key=lambda x: -x[1]))
        print(f"\nincremental dbt build: {sum(nodes.values())} nodes ({kinds})")
    if result["incremental_dbt_slowest"]:
        print("\nincremental dbt build, slowest nodes (s):")
        for node, seconds in result["incremental_dbt_slowest"]:
            print(f"  {seconds:6.2f}  {node}")


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(v.replace("_", "")) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("--tickets takes numbers, e.g. 5000,20000") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("--tickets takes positive numbers")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tickets", type=_sizes, default=[20_000], help="one size, or several: 5000,20000"
    )
    parser.add_argument("--json", action="store_true")
    # The throughput goal (issue #20) is set on the rules model, the fast path; the default
    # encoder model's scoring cost is in the sentiment benchmark.
    parser.add_argument("--sentiment-model", choices=("rules", "encoder"), default="rules")
    parser.add_argument(
        "--dask-workers",
        type=_sizes,
        help="score on a Dask LocalCluster of N worker processes; several (1,2) run the "
        "smallest size once per count (default with --sentiment-model encoder: 1,2)",
    )
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # This process stands for a flow run's: the allocator is set as `flows` sets it.
    tune_allocator()
    # A terminated run still stops its PostgreSQL server and the fakes (the `finally` blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workers = args.dask_workers
    if workers is None and args.sentiment_model == "encoder":
        workers = [1, 2]
    if args.result_file is not None:  # one run, asked for by run_fresh
        result = run(args.tickets[0], args.sentiment_model, workers[0] if workers else None)
        args.result_file.write_text(json.dumps(result))
        return
    sizes = sorted(args.tickets)
    jobs: list[tuple[int, int | None]] = [(n, workers[-1] if workers else None) for n in sizes]
    if workers and len(workers) > 1:
        jobs[:1] = [(sizes[0], w) for w in workers]
    if len(jobs) == 1:
        n, w = jobs[0]
        results = [run(n, args.sentiment_model, w)]
    else:
        results = [run_fresh(n, args.sentiment_model, w) for n, w in jobs]
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
        return
    for result in results:
        print_result(result)
        print()
    print_scale(results)


if __name__ == "__main__":
    main()
