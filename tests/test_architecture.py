"""The package's floors (README « Architecture »), checked on the source itself.

Every ``import`` of a ``ptsm_diag`` module is read from the syntax tree, including the
imports inside functions (a deferred import still couples two modules), then:

- no module imports a module of a higher floor;
- there is no import cycle among modules;
- importing :mod:`ptsm_diag.compute` loads no plotting, notebook or terminal library;
- ``ptsm-diag --help`` loads no pandas.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ptsm_diag"

# Floor of each part of the package. A module may import its own floor and those listed
# in ALLOWED for it; "base" (errors, fmt, paths) is below everything.
FLOORS = {
    "ptsm_diag": "api",
    "ptsm_diag.errors": "base",
    "ptsm_diag.fmt": "base",
    "ptsm_diag.paths": "base",
    "ptsm_diag.catalog": "catalog",
    "ptsm_diag.compute": "compute",
    "ptsm_diag.io": "io",
    "ptsm_diag.demo": "demo",
    "ptsm_diag.diagnostic": "facades",
    "ptsm_diag.viz": "viz",
    "ptsm_diag.report": "report",
    "ptsm_diag.cli": "cli",
    "ptsm_diag.testing": "testing",
    "ptsm_diag.assets": "base",
}
ALLOWED = {
    "base": {"base"},
    "catalog": {"base"},
    "compute": {"base", "catalog"},
    "io": {"base", "catalog"},
    "demo": {"base", "catalog", "io"},
    "facades": {"base", "catalog", "compute", "io", "demo"},
    "viz": {"base", "catalog", "compute"},
    "report": {"base", "catalog", "compute", "io", "demo", "facades", "viz"},
    "cli": {"base", "catalog", "compute", "io", "demo", "facades", "viz", "report", "api"},
    "api": {"base", "catalog", "compute", "io", "facades", "report"},
    "testing": {"base", "catalog", "compute", "io", "demo", "facades", "viz", "report"},
}
PRESENTATION = ("plotly", "folium", "branca", "IPython", "papermill", "nbconvert", "jinja2",
                "rich")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """ptsm_diag modules imported by a module (top level and inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target.startswith("ptsm_diag") and target in known and target != name:
                found.add(target)
    return found


def _floor(module: str) -> str:
    best = max((prefix for prefix in FLOORS
                if module == prefix or module.startswith(prefix + ".")), key=len)
    return FLOORS[best]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_every_module_has_a_floor() -> None:
    for name in _modules():
        assert _floor(name), name


def test_no_module_imports_a_higher_floor() -> None:
    violations = []
    for name, targets in _graph().items():
        floor = _floor(name)
        for target in sorted(targets):
            if target == "ptsm_diag" and floor != "api":  # only __version__ is read there
                continue
            other = _floor(target)
            if other != floor and other not in ALLOWED[floor]:
                violations.append(f"{name} ({floor}) imports {target} ({other})")
    assert not violations, "\n".join(violations)


def test_no_import_cycle() -> None:
    graph = _graph()
    # packages' own __init__ re-exporting their modules is not a cycle of logic
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not cycles, cycles


def _loaded_after(statement: str) -> set[str]:
    code = (f"import sys, json; {statement}; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
            "| {m for m in sys.modules if m.startswith('ptsm_diag')})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", sorted(
    name for name in _modules() if name.startswith("ptsm_diag.compute")))
def test_compute_loads_no_presentation(module: str) -> None:
    loaded = _loaded_after(f"import {module}")
    assert not loaded & set(PRESENTATION), sorted(loaded & set(PRESENTATION))
    upper = {m for m in loaded if m.startswith("ptsm_diag.")
             and _floor(m) in {"viz", "report", "cli", "demo", "facades", "io"}}
    assert not upper, sorted(upper)


def test_help_loads_no_pandas() -> None:
    code = ("import sys, contextlib, io\n"
            "from ptsm_diag.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            "        main(['--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print(sorted(m for m in ('pandas', 'numpy', 'pandera', 'geopandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
