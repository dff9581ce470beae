"""Data sources, validation definitions and checkpoints for every suite, from one function.

`configure_checkpoints(context, ...)` runs the same way on an ephemeral context (tests) and on
the file context under `STATE_DIR/gx` (production: Data Docs for governance reviewers).
`Validator` wraps both and turns GX results into what the pipeline acts on: which rows failed
which expectation, and a summary without any row values for `ops.validation_runs`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.core.result_format import ResultFormat
from great_expectations.data_context import AbstractDataContext
from great_expectations.datasource.fluent.sql_datasource import GxDatasourceWarning

from expectations import contacts, marts, raw_feedback, scored_feedback
from expectations.data_docs import ensure_offline_site
from expectations.docs_html import page_path, site_dir

INFLIGHT = "inflight"
WAREHOUSE = "warehouse"
# GX writes data source configs to disk in a file context; the URL (and its password) stays
# in the context's runtime environment (in memory) and is substituted at run time.
URL_VARIABLE = "FEEDBACKLOOP_GX_DATABASE_URL"
ROW_KEY = "row_key"

RAW_GATE = "raw_feedback_gate"
CONTACTS_GATE = "contacts_gate"
SCORED_CHECK = "scored_feedback_check"
MARTS_CHECK = "marts_check"


@dataclass
class Outcome:
    """One checkpoint run, reduced to what the pipeline needs. Holds no row values."""

    checkpoint: str
    success: bool
    evaluated: int
    failed_rows: dict[str, list[str]] = field(default_factory=dict)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Suite name -> its result's page, relative to the Data Docs site.
    pages: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(1 for e in self.expectations if not e["success"])

    def summary(self) -> dict[str, Any]:
        return {
            "expectations": self.expectations,
            "failed_rows": len(self.failed_rows),
            "errors": self.errors,
            "pages": self.pages,
        }


def get_context(
    state_dir: Path, *, ephemeral: bool = False, database_url: str | None = None
) -> AbstractDataContext:
    """The file context under `state_dir/gx` (or an ephemeral one); `database_url` is what the
    warehouse data source connects to, handed to GX in memory (not the environment, no file)."""
    runtime = {URL_VARIABLE: database_url} if database_url else None
    if ephemeral:
        context = gx.get_context(mode="ephemeral", runtime_environment=runtime)
    else:
        root = state_dir / "gx"
        root.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(
            mode="file", project_root_dir=str(root), runtime_environment=runtime
        )
        # Data Docs that render offline, however they are built (docs_html, data_docs).
        ensure_offline_site(context)
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    return context


def configure_checkpoints(
    context: AbstractDataContext,
    *,
    known_sources: Iterable[str],
    now: datetime | None = None,
    include_marts: bool = False,
) -> dict[str, gx.Checkpoint]:
    """Register suites, data, validation definitions and checkpoints; idempotent.

    GX checks that a table exists when its asset is added, so the marts checkpoint is
    configured only once dbt has built them (`include_marts=True`). The warehouse connects
    to the context's `URL_VARIABLE` (`get_context(..., database_url=...)`)."""
    inflight = context.data_sources.add_or_update_pandas(INFLIGHT)
    with warnings.catch_warnings():
        # GX suggests add_postgres, which rejects unix-socket URLs (docs/decisions.md).
        warnings.simplefilter("ignore", GxDatasourceWarning)
        warehouse = context.data_sources.add_or_update_sql(
            WAREHOUSE, connection_string="${" + URL_VARIABLE + "}"
        )

    def in_memory(asset_name: str, suite: gx.ExpectationSuite) -> gx.ValidationDefinition:
        asset = _get_or_add(inflight, asset_name, lambda: inflight.add_dataframe_asset(asset_name))
        batch = _get_or_add_batch(asset, "whole", asset.add_batch_definition_whole_dataframe)
        return _definition(context, suite, batch)

    def table(schema: str, name: str, suite: gx.ExpectationSuite) -> gx.ValidationDefinition:
        asset_name = f"{schema}.{name}"
        asset = _get_or_add(
            warehouse,
            asset_name,
            # A query asset names the schema without the deprecated `schema_name` argument.
            lambda: warehouse.add_query_asset(
                asset_name, query=f'SELECT * FROM "{schema}"."{name}"'
            ),
        )
        batch = _get_or_add_batch(asset, "whole", asset.add_batch_definition_whole_table)
        return _definition(context, suite, batch)

    raw_def = in_memory("feedback_batch", raw_feedback.build_suite(known_sources, now))
    contacts_def = in_memory("contacts_batch", contacts.build_suite())
    scored_def = table("nlp", "feedback_scores", scored_feedback.build_suite())
    marts_defs = (
        [table(c.schema, c.table, marts.build_suite(c)) for c in marts.TABLE_CHECKS]
        if include_marts
        else []
    )

    # Data Docs are rebuilt by the once-per-run checks; the per-page gates only store their
    # results (rendering the site per page cost 0.9 s a page and grew with every run), and the
    # flows that run gates build the site once at their end (`build_data_docs`).
    docs = [] if _is_ephemeral(context) else [UpdateDataDocsAction(name="update_data_docs")]
    row_level = {
        "result_format": ResultFormat.COMPLETE,
        "unexpected_index_column_names": [ROW_KEY],
        "return_unexpected_index_query": False,
    }
    specs = {
        RAW_GATE: ([raw_def], row_level),
        CONTACTS_GATE: ([contacts_def], row_level),
        SCORED_CHECK: ([scored_def], {"result_format": ResultFormat.SUMMARY}),
    }
    if marts_defs:
        specs[MARTS_CHECK] = (marts_defs, {"result_format": ResultFormat.SUMMARY})
    per_page = (RAW_GATE, CONTACTS_GATE)
    return {
        name: context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name,
                validation_definitions=defs,
                actions=[] if name in per_page else docs,
                result_format=fmt,
            )
        )
        for name, (defs, fmt) in specs.items()
    }


def build_data_docs(state_dir: Path) -> Path | None:
    """Render the Data Docs site from every stored validation result (file context only)."""
    context = get_context(state_dir)
    context.build_data_docs()
    return site_dir(state_dir) / "index.html"


def _is_ephemeral(context: AbstractDataContext) -> bool:
    return type(context).__name__ == "EphemeralDataContext"


def _get_or_add(datasource: Any, name: str, add: Any) -> Any:
    try:
        return datasource.get_asset(name)
    except LookupError:
        return add()


def _get_or_add_batch(asset: Any, name: str, add: Any) -> Any:
    try:
        return asset.get_batch_definition(name)
    except (KeyError, LookupError, ValueError):
        return add(name)


def _definition(
    context: AbstractDataContext, suite: gx.ExpectationSuite, batch: Any
) -> gx.ValidationDefinition:
    suite = context.suites.add_or_update(suite)
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
    )


def reduce_result(checkpoint: str, result: Any, evaluated: int) -> Outcome:
    """Failing rows by `row_key` and a per-expectation summary without values."""
    outcome = Outcome(checkpoint=checkpoint, success=bool(result.success), evaluated=evaluated)
    for key, run in result.run_results.items():
        # Where the result's Data Docs page is (or will be, once the site is built).
        outcome.pages[run.suite_name] = page_path(key.to_tuple())
        for r in run.results:
            config = r.expectation_config
            kwargs = config.kwargs
            target = kwargs.get("column") or ",".join(
                kwargs.get("column_list")
                or [kwargs.get("column_A", ""), kwargs.get("column_B", "")]
            )
            label = f"{run.suite_name}: {config.type}({target})"
            info = r.result or {}
            outcome.expectations.append(
                {
                    "suite": run.suite_name,
                    "expectation": config.type,
                    "column": target,
                    "success": bool(r.success),
                    "unexpected_count": info.get("unexpected_count"),
                    "element_count": info.get("element_count"),
                    "observed_value": _scalar(info.get("observed_value")),
                }
            )
            if r.exception_info and r.exception_info.get("raised_exception"):
                outcome.errors.append(f"{label}: {r.exception_info.get('exception_message')}")
            for index in info.get("unexpected_index_list") or []:
                key = index.get(ROW_KEY) if isinstance(index, dict) else None
                if key is not None:
                    outcome.failed_rows.setdefault(str(key), []).append(label)
    return outcome


def _scalar(value: Any) -> Any:
    return value if isinstance(value, int | float | bool) or value is None else str(value)


class Validator:
    """The configured context plus typed entry points for each gate and check."""

    def __init__(
        self,
        state_dir: Path,
        database_url: str,
        *,
        known_sources: Iterable[str],
        ephemeral: bool = False,
        now: datetime | None = None,
    ) -> None:
        """`state_dir`: where the file context (`gx/`) and Data Docs live."""
        self.state_dir = state_dir
        self.ephemeral = ephemeral
        self._configure = lambda include_marts: configure_checkpoints(
            self.context, known_sources=known_sources, now=now, include_marts=include_marts
        )
        self.context = get_context(state_dir, ephemeral=ephemeral, database_url=database_url)
        self.checkpoints = self._configure(False)

    def _run_frame(
        self, name: str, frame: pd.DataFrame, parameters: dict[str, Any] | None = None
    ) -> Outcome:
        result = self.checkpoints[name].run(
            batch_parameters={"dataframe": frame}, expectation_parameters=parameters
        )
        return reduce_result(name, result, evaluated=len(frame))

    def gate_feedback(self, frame: pd.DataFrame, *, item_types: Iterable[str]) -> Outcome:
        """`item_types`: the row types a batch may hold (the caller's vocabulary)."""
        parameters = {raw_feedback.ITEM_TYPES_PARAMETER: list(item_types)}
        return self._run_frame(RAW_GATE, frame, parameters)

    def gate_contacts(self, frame: pd.DataFrame) -> Outcome:
        return self._run_frame(CONTACTS_GATE, frame)

    def check_scores(self) -> Outcome:
        return reduce_result(SCORED_CHECK, self.checkpoints[SCORED_CHECK].run(), evaluated=0)

    def check_marts(self) -> Outcome:
        if MARTS_CHECK not in self.checkpoints:
            self.checkpoints = self._configure(True)
        return reduce_result(MARTS_CHECK, self.checkpoints[MARTS_CHECK].run(), evaluated=0)

    @property
    def data_docs_index(self) -> Path | None:
        if self.ephemeral:
            return None
        return site_dir(self.state_dir) / "index.html"
