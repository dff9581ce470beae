"""NLP for feedbackloop: PII masking (`nlp.pii`) and sentiment/frustration scoring on spaCy."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nlp.pipeline import load_pipeline

__all__ = ["load_pipeline"]


def __getattr__(name: str) -> Any:
    # Lazy: importing spaCy imports torch when it is installed (nlp.topics' light encoder must
    # run without a deep-learning framework), and `nlp.pii`, which governance imports
    # everywhere, must not load spaCy with it.
    if name == "load_pipeline":
        from nlp.pipeline import load_pipeline

        return load_pipeline
    raise AttributeError(f"module 'nlp' has no attribute {name!r}")


class _ThincWithoutTorch(importlib.abc.MetaPathFinder):
    """thinc (spaCy's ML library) imports torch in `thinc.compat` when torch is installed: about
    250 MB of RSS in every process that loads a pipeline. No component here runs a thinc torch
    layer (the encoder model runs on ONNX Runtime), so torch is hidden from that one probe;
    `import torch` elsewhere (the ONNX export, MiniLM topics) still works (docs/decisions.md)."""

    def find_spec(
        self, name: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "thinc.compat" or "torch" in sys.modules:
            return None
        sys.meta_path.remove(self)  # once: find the real spec, then wrap its loader
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _HidingTorch(spec.loader)
        return spec


class _HidingTorch(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail
        try:
            self._loader.exec_module(module)
        finally:
            if sys.modules.get("torch", 0) is None:
                del sys.modules["torch"]


if "thinc.compat" not in sys.modules:
    sys.meta_path.insert(0, _ThincWithoutTorch())
