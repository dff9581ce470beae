"""The demo loop: generated data through every stage that is built so far.

Stages today: prepare the database -> generate -> govern and load into `raw` -> count.
Each later stage (collect through fake APIs, score, route, marts) becomes one more task here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feedbackloop.demo.generator import DemoDataset, generate
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from feedbackloop.config import get_settings
from feedbackloop.db import ensure_ready
from feedbackloop.db.stats import row_counts
from feedbackloop.demo.load import LoadReport, load_dataset


@task(retries=3, retry_delay_seconds=[2, 5, 10], cache_policy=NO_CACHE)
def prepare_database() -> Engine:
    return ensure_ready(get_settings())


@task(cache_policy=NO_CACHE)
def generate_demo_data(seed: int, tickets: int, now: datetime | None) -> DemoDataset:
    return generate(seed=seed, tickets=tickets, now=now)


@task(retries=2, retry_delay_seconds=[5, 15], cache_policy=NO_CACHE, timeout_seconds=1800)
def load_raw(engine: Engine, dataset: DemoDataset) -> LoadReport:
    return load_dataset(engine, dataset, hash_key=get_settings().hash_key())


@task(cache_policy=NO_CACHE)
def count_rows(engine: Engine) -> dict[str, int]:
    return row_counts(engine)


@flow(name="demo-loop", flow_run_name="demo-seed{seed}-{tickets}-tickets")
def demo_loop(seed: int = 42, tickets: int = 5000, now: datetime | None = None) -> dict[str, Any]:
    logger = get_run_logger()
    engine = prepare_database()
    dataset = generate_demo_data(seed, tickets, now)
    report = load_raw(engine, dataset)
    if not report.reconciles():
        raise RuntimeError(f"load does not reconcile: {report}")
    counts = count_rows(engine)
    logger.info(
        "loaded %s rows, quarantined %s",
        sum(report.written.values()),
        sum(report.quarantined.values()),
    )
    return {"report": report, "counts": counts, "generated": dataset.counts()}
