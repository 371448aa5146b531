"""The import graph of app/, training/ and data/, read from the source: no cycles, and the CLI is a leaf.

Every import counts, also those inside functions: a cycle hidden in a function still ties the two
modules together for whoever changes one of them.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "training", "data")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic loads these by path; nothing imports them
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a `from pkg import name` of a submodule points at the submodule)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                # `import a.b.c` names a.b.c; keep the longest prefix that is one of ours.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}   # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_walk_sees_the_rooms():
    graph = import_graph()
    assert {"app.cli", "app.scoring", "app.services", "app.batch.local", "training.train"} <= set(graph)
    assert "app.scoring" in graph["app.batch.local"] and "app.services.contracts" in graph["app.services"]


def test_no_import_cycle_in_app_training_or_data():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()))


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_nothing_outside_app_cli_imports_it():
    # app/__main__.py is the entry point `python -m app`: it runs the CLI, it is no library.
    offenders = sorted(f"{m} imports {t}" for m, targets in import_graph().items()
                       if not m.startswith("app.cli") and m != "app.__main__"
                       for t in targets if t == "app.cli" or t.startswith("app.cli."))
    assert offenders == []


def test_app_does_not_import_training():
    offenders = sorted(f"{m} imports {t}" for m, targets in import_graph().items() if m.startswith("app")
                       for t in targets if t.startswith(("training", "data")))
    assert offenders == []


def test_a_fast_test_cannot_load_the_real_base_model(_no_real_model_in_fast_tests):
    """tests/conftest.py guards the fast suite: the 135M model is for tests marked integration."""
    import pytest

    from app.modeling import EMBEDDED_DEFAULT, resolve_base_model
    from tests.conftest import RealModelInFastTest

    with pytest.raises(RealModelInFastTest, match="mark the test integration"):
        resolve_base_model(EMBEDDED_DEFAULT)
    assert _no_real_model_in_fast_tests == [EMBEDDED_DEFAULT]   # recorded even if the code had swallowed it
    _no_real_model_in_fast_tests.clear()
