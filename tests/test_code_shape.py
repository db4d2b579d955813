"""The code stays readable in one sitting: short functions with few positional parameters, and
one place that says a database is unavailable."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "importer"
MAX_FUNCTION_LINES = 60
MAX_POSITIONAL = 6


def _functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []
    for source in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((f"{source.relative_to(PACKAGE.parent)}:{node.lineno}", node))
    return found


def test_no_function_is_longer_than_sixty_lines() -> None:
    functions = _functions()
    assert functions
    too_long = [
        f"{where} {node.name} ({(node.end_lineno or node.lineno) - node.lineno + 1} lines)"
        for where, node in functions
        if (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert too_long == []


def test_no_function_takes_more_than_six_positional_parameters() -> None:
    crowded = [
        f"{where} {node.name}"
        for where, node in _functions()
        if len([a for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")])
        > MAX_POSITIONAL
    ]
    assert crowded == []


def test_database_unavailable_is_worded_in_one_place() -> None:
    places = [
        str(source.relative_to(PACKAGE.parent))
        for source in PACKAGE.rglob("*.py")
        if "database unavailable" in source.read_text(encoding="utf-8")
    ]
    assert places == ["importer/db/faults.py"]
