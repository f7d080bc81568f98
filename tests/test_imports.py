"""The package has no import cycle: every module imports in a fresh interpreter on its own, and
the graph of imports between reprolib modules (function-local ones included) is acyclic."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reprolib"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path) -> set[str]:
    """The reprolib modules ``path`` imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in MODULES}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                if child in MODULES:
                    found.add(child)  # from reprolib import evaluate
                elif node.module in MODULES:
                    found.add(node.module)  # from reprolib.evaluate import measure
    return found - {module_name(path)}


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` (a list of modules, first == last), or [] when it is acyclic."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_import_graph_is_acyclic():
    graph = {name: imported_modules(path) for name, path in MODULES.items()}
    assert graph["reprolib.evaluate"] >= {"reprolib.restorers", "reprolib.runs"}
    assert cycle(graph) == [], " -> ".join(cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []


# Third-party packages are loaded once; then each reprolib module is imported in a forked child
# in which no reprolib module is loaded yet: reprolib's own import order is what is tested.
_ISOLATED_IMPORTS = """
import importlib, os, sys, traceback
import numpy, pandas, PIL.Image, scipy.ndimage, torch, yaml
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1]:
        failed.append(name)
print("failed:", *failed)
sys.exit(1 if failed else 0)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_every_module_imports_alone_in_a_fresh_interpreter():
    """Each module on its own (an import cycle can hide behind the order modules load in)."""
    done = subprocess.run([sys.executable, "-c", _ISOLATED_IMPORTS, *sorted(MODULES)],
                          capture_output=True, text=True, cwd=PACKAGE.parent)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
