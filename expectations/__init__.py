"""Great Expectations 1.x suites as code, one module per layer, and the checkpoint runner.

Importing this package first defers two modules GX imports for expectations no suite here
uses: `scipy.stats` (the KL-divergence and KS-test expectations) and `altair` (their
plots). Together about 77 MB of RSS and 1.5 s in every process that validates (issue #20).
Each is executed on first use of any of its attributes, so code that needs them still gets
them whole. Every GX import in this project goes through this package (docs/decisions.md).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

DEFERRED = frozenset({"scipy.stats", "altair"})

_lock = threading.RLock()


class _Deferred(ModuleType):
    """A module whose code has not run yet. Its import-system attributes (`__file__`,
    `__spec__`, `__path__`) are set, so `inspect.getmodule`, which dbt runs on every adapter
    start and which looks at each module's `__file__`, does not load it; `importlib`'s
    `LazyLoader` would, on any attribute at all."""

    def __getattr__(self, attr: str) -> Any:  # only for attributes the module lacks
        with _lock:
            loader = self.__dict__.pop("_deferred_loader", None)
            if loader is not None:
                self.__class__ = ModuleType
                self.__spec__.loader = self.__loader__ = loader
                try:
                    loader.exec_module(self)
                except BaseException:
                    sys.modules.pop(self.__name__, None)  # as a failed import leaves it
                    raise
        if type(self) is _Deferred:  # not loaded and not loading
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        return getattr(self, attr)


class _OnFirstUse(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a plain module, made a `_Deferred` below

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["_deferred_loader"] = self._loader
        module.__class__ = _Deferred


class _DeferringFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in DEFERRED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _OnFirstUse(spec.loader)
                return spec
        return None


if not DEFERRED.intersection(sys.modules) and not any(
    isinstance(f, _DeferringFinder) for f in sys.meta_path
):
    sys.meta_path.insert(0, _DeferringFinder())
