"""A loaded pipeline does not pull torch in through thinc (about 250 MB per process), and torch
stays importable for what needs it (the ONNX export, MiniLM topics)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from nlp import load_pipeline
nlp = load_pipeline(sentiment_model="rules")
doc = nlp("I was charged twice and nobody answers.")
import thinc.compat
out = {"label": doc._.sentiment_label, "has_torch": thinc.compat.has_torch,
       "torch_loaded": "torch" in sys.modules,
       "presidio": "presidio_analyzer" in sys.modules}
try:
    import torch
    out["torch_after"] = torch.tensor([1.0, 2.0]).sum().item()
except ImportError:
    out["torch_after"] = None
print(json.dumps(out))
"""


def test_pipeline_loads_without_torch_and_torch_still_imports() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=True
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["label"] in ("negative", "very_negative")
    assert out["has_torch"] is False
    if not out["presidio"]:  # presidio's spaCy factory (bench extra) imports torch itself
        assert out["torch_loaded"] is False
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed: nothing more to check")
    assert out["torch_after"] == 3.0
