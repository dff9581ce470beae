"""Imports only point down, and no module imports itself back through others.

Every `import` of every module (function-level and `TYPE_CHECKING` ones too) is read with
`ast`, resolved to the module it names, and checked against the layer map below.

Layers, top to bottom (a module may import its own layer and the ones below it):

    demo          the demo package: may import anything; nothing in the product imports it,
                  except the CLI's demo command, lazily (inside a function)
    entry         feedbackloop.cli, feedbackloop.serve, feedbackloop.web
    flows         flows/ (Prefect flows and tasks)
    wiring        feedbackloop.resources (Settings -> engine, dbt, GX, notifier targets)
    domain        every other feedbackloop module (sources, governance, scoring, routing,
                  notify, topics, monitoring, review, faq, marts, ...)
    foundation    feedbackloop.db, feedbackloop.config and the small helpers they sit beside
    leaves        nlp/ and expectations/: each imports nothing outside itself
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("feedbackloop", "flows", "nlp", "expectations", "demo")

DEMO, ENTRY, FLOWS, WIRING, DOMAIN, FOUNDATION, LEAF = 60, 50, 40, 30, 20, 10, 0
# Module prefix -> layer; the longest matching prefix wins.
LAYER_MAP: dict[str, int] = {
    "demo": DEMO,
    "feedbackloop.demo": DEMO,  # until the demo has moved out of the core package
    "flows.demo": DEMO,
    "feedbackloop.cli": ENTRY,
    "feedbackloop.serve": ENTRY,
    "feedbackloop.web": ENTRY,
    "flows": FLOWS,
    "feedbackloop.resources": WIRING,
    "feedbackloop": DOMAIN,
    "feedbackloop.db": FOUNDATION,
    "feedbackloop.config": FOUNDATION,
    "feedbackloop.vocabulary": FOUNDATION,
    "feedbackloop.project": FOUNDATION,
    "feedbackloop.processes": FOUNDATION,
    "feedbackloop.scratch": FOUNDATION,
    "feedbackloop.progress": FOUNDATION,
    "feedbackloop.memory": FOUNDATION,
    "feedbackloop.forked": FOUNDATION,
    "feedbackloop.yamlfile": FOUNDATION,
    "nlp": LEAF,
    "expectations": LEAF,
}
LAYER_NAMES = {
    DEMO: "demo",
    ENTRY: "entry",
    FLOWS: "flows",
    WIRING: "wiring",
    DOMAIN: "domain",
    FOUNDATION: "foundation",
    LEAF: "leaf",
}
DEMO_PACKAGES = ("demo", "feedbackloop.demo", "flows.demo")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")) if (REPO / package).is_dir() else ():
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _known(name: str) -> str | None:
    """The module of ours that `name` lives in (a module, or the package above a name)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:  # relative: resolved against the importing package
        package = module.split(".")
        if path.name != "__init__.py":
            package.pop()
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([base] if base else [])])
    for alias in node.names:
        # `from pkg import sub` imports the submodule; `from pkg import name`, the package.
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def _imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        functions = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        nested = {id(n) for f in functions for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = {_known(name) for name in _targets(module, path, node)}
                for target in sorted(t for t in targets if t and t != module):
                    found.append(Import(module, target, node.lineno, id(node) in nested))
    return found


IMPORTS = _imports()


def layer_of(module: str) -> int:
    prefix = max(
        (p for p in LAYER_MAP if module == p or module.startswith(p + ".")),
        key=len,
        default=None,
    )
    assert prefix is not None, f"{module} is in no layer: add it to LAYER_MAP"
    return LAYER_MAP[prefix]


def _is_demo(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in DEMO_PACKAGES)


def _top(module: str) -> str:
    return module.split(".")[0]


def upward_imports(imports: list[Import]) -> list[str]:
    wrong = []
    for imp in imports:
        src, dst = layer_of(imp.importer), layer_of(imp.imported)
        where = f"{imp.importer}:{imp.line} imports {imp.imported}"
        if _is_demo(imp.imported) and not _is_demo(imp.importer):
            # The product never imports the demo; the CLI's demo command may, when run.
            if not (imp.importer.startswith("feedbackloop.cli") and imp.in_function):
                wrong.append(f"{where} (the demo)")
        elif src == LEAF and _top(imp.importer) != _top(imp.imported):
            wrong.append(f"{where} (a leaf imports nothing outside itself)")
        elif dst > src and not _is_demo(imp.importer):
            wrong.append(f"{where} ({LAYER_NAMES[src]} -> {LAYER_NAMES[dst]})")
    return wrong


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in imports:
        graph.setdefault(imp.importer, set()).add(imp.imported)
        graph.setdefault(imp.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 100
    for module in MODULES:
        layer_of(module)


def test_imports_only_point_down() -> None:
    assert upward_imports(IMPORTS) == []


def test_no_import_cycles() -> None:
    assert import_cycles(IMPORTS) == []


def test_the_checks_catch_what_they_look_for() -> None:
    """The checks themselves, on made-up edges: an upward import, a leaf reaching out, the
    product importing the demo, and a cycle."""
    fake = [
        Import("feedbackloop.db.upsert", "feedbackloop.governance.audit", 1, False),
        Import("nlp.pii_masker", "feedbackloop.governance", 1, False),
        Import("feedbackloop.scoring", "feedbackloop.demo", 1, True),
        Import("feedbackloop.cli", "feedbackloop.demo", 1, True),
        Import("flows.score", "flows.ingest", 1, False),
        Import("flows.ingest", "flows.score", 1, True),
    ]
    assert len(upward_imports(fake)) == 3
    assert import_cycles(fake) == [["flows.ingest", "flows.score"]]
