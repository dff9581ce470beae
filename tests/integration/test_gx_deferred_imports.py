"""GX imports `scipy.stats` and `altair` for expectations no suite here uses (about 77 MB per
process): `expectations` defers them. A real gate validation, dbt's `inspect` walk over every
module and a Data Docs build leave them unexecuted; code that uses them still gets them whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import Engine

from feedbackloop.config import Settings
from feedbackloop.db import database_url

PROBE = """
import inspect, json, os, sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from expectations.checkpoints import Validator, build_data_docs
from feedbackloop.governance.gate import gate_feedback

def executed():
    # Submodules the two packages' own code imports: present only once it ran.
    return sorted(m for m in ("scipy.stats._stats_py", "altair.vegalite") if m in sys.modules)

now = datetime(2026, 11, 1, tzinfo=timezone.utc)
state = Path(os.environ["PROBE_STATE"])
validator = Validator(state, os.environ["PROBE_URL"], known_sources=["zendesk"], ephemeral=True,
                      now=now)
rows = [{"source": "zendesk", "source_id": str(i), "subject": "Help",
         "description": text, "created_at": now - timedelta(days=2),
         "updated_at": now - timedelta(days=1)}
        for i, text in enumerate(["How do I export to CSV?", "my card is 4111 1111 1111 1111"])]
decision = gate_feedback(validator, rows, "ticket", lambda r: r["description"])
out = {"passed": len(decision.passed), "rejected": len(decision.rejected)}
out["after_validation"] = executed()
inspect.stack()  # what dbt's adapter start does: inspect.getmodule over sys.modules
out["after_inspect"] = executed()
docs = Validator(state, os.environ["PROBE_URL"], known_sources=["zendesk"], now=now)
gate_feedback(docs, rows, "ticket", lambda r: r["description"])
out["data_docs"] = build_data_docs(state) is not None
out["after_data_docs"] = executed()
from scipy import stats
import altair as alt
out["cdf"] = float(stats.norm.cdf(0.0))
out["chart"] = alt.Chart.__name__
out["after_use"] = executed()
print(json.dumps(out))
"""


def test_scipy_stats_and_altair_run_only_when_used(engine: Engine, settings: Settings) -> None:
    env = {
        **os.environ,
        "PROBE_STATE": str(settings.state_path),
        "PROBE_URL": database_url(settings).render_as_string(hide_password=False),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out["passed"], out["rejected"]) == (1, 1)  # the gate really ran
    assert out["after_validation"] == []
    assert out["after_inspect"] == []
    assert out["data_docs"] is True
    assert out["after_data_docs"] == []
    assert out["cdf"] == 0.5 and out["chart"] == "Chart"
    assert out["after_use"] == ["altair.vegalite", "scipy.stats._stats_py"]
