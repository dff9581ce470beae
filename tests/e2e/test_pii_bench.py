"""Presidio stays out of the project's venv, and the PII benchmark reaches it through a worker
process in a venv of its own (`make bench` builds `.venv-presidio`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.processes import run_python

REPO_ROOT = Path(__file__).resolve().parents[2]
PRESIDIO_PYTHON = REPO_ROOT / ".venv-presidio" / "bin" / "python"


def _bench(*args: str) -> dict:
    cmd = ["benchmarks/pii_bench.py", "--n", "300", "--person-n", "20", "--json"]
    return json.loads(run_python(*cmd, *args, cwd=REPO_ROOT, timeout=600))


def test_a_pipeline_process_imports_neither_presidio_nor_transformers() -> None:
    # spaCy imports every `spacy_factories` entry point when a pipeline is made: presidio's
    # would bring transformers into every pipeline process (about +330 MB RSS).
    code = (
        "import sys; from nlp import load_pipeline; load_pipeline(sentiment_model='rules'); "
        "print(json.dumps([m for m in ('presidio_analyzer', 'transformers') if m in sys.modules]))"
    )
    out = run_python("-c", "import json; " + code, cwd=REPO_ROOT, timeout=300)
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_a_worker_without_presidio_is_reported_and_ours_still_measured() -> None:
    # This venv has no presidio (the test above): the worker says so and the bench goes on.
    report = _bench("--presidio-python", sys.executable)
    assert report["presidio"].startswith("SKIPPED, the Presidio worker did not start")
    assert "presidio-analyzer is not importable" in report["presidio"]
    assert list(report["engines"]) == ["feedbackloop"]
    assert report["engines"]["feedbackloop"]["types"]["EMAIL_ADDRESS"]["recall"] == 1.0


@pytest.mark.skipif(not PRESIDIO_PYTHON.exists(), reason="no .venv-presidio (make presidio-venv)")
def test_presidio_in_its_worker_is_scored_on_the_same_corpus() -> None:
    report = _bench("--presidio-python", str(PRESIDIO_PYTHON))
    assert "worker process" in report["presidio"], report["presidio"]
    ours, presidio = report["engines"]["feedbackloop"], report["engines"]["presidio"]
    assert presidio["texts_per_s"] > 0 and report["speedup"] > 0
    # Same corpus: the same gold per type; Presidio finds the easy types (measured 100%).
    for entity, row in presidio["types"].items():
        assert row["gold"] == ours["types"][entity]["gold"]
    assert presidio["types"]["EMAIL_ADDRESS"]["recall"] == 1.0
    assert presidio["types"]["IBAN_CODE"]["recall"] == 1.0
    assert presidio["false_mask_spans"] > 0  # its known look-alike matches
