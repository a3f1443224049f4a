"""The package's architecture as a test: every import between perf's folders points down the data flow
(spec -> measure -> verdict -> report, shape beside it), and each folder says what it owns in its __init__."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PERF = Path(__file__).resolve().parents[1] / "perf"

# What each part of perf may import (besides itself). The top-level vocabulary (gpus, spec) is open to all.
ALLOWED = {
    "gpus": set(),
    "spec": {"measure"},  # only the Target type, for annotations
    "shape": {"gpus"},
    "measure": {"gpus", "spec"},
    "verdict": {"gpus", "spec", "measure"},
    "report": {"gpus", "spec", "measure", "verdict", "shape"},
    "suite": {"gpus", "spec", "measure", "shape"},
    "history": {"gpus", "spec", "measure", "verdict"},
    "options": {"gpus", "spec", "shape", "measure", "verdict"},
    "commands": {"gpus", "spec", "measure", "verdict", "report", "shape", "suite", "plugin", "options", "history"},
    "plugin": {"gpus", "spec", "measure", "verdict", "report", "shape", "suite", "options", "history", "xdist_hooks",
               "session"},
    # the state of one pytest run, which the plugin's hooks drive: what the plugin imports but report and suite;
    # "plugin" only as the name a fresh-process re-measure loads (`-p perf.plugin`), never an import
    "session": {"gpus", "spec", "measure", "verdict", "shape", "options", "history", "xdist_hooks", "plugin"},
    "xdist_hooks": {"gpus", "measure", "verdict"},  # the plugin's pytest-xdist glue: one worker per GPU
    "cli": {"commands", "report"},
    "__main__": {"cli"},
    "__init__": set(),
}
TOP_LEVEL_MODULES = {"__init__", "__main__", "cli", "plugin", "session", "options", "gpus", "spec", "xdist_hooks"}


def part_of(path: Path) -> str:
    rel = path.relative_to(PERF)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_parts(path: Path) -> set[str]:
    """The perf parts a module imports, top-level or inside functions, by absolute name or string."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "perf":
            parts = node.module.split(".")
            if len(parts) > 1:
                names.add(parts[1])
            else:
                names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("perf."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("perf."):
            names.add(node.value.split(".")[1])  # importlib.import_module("perf.x.y")
    return names


MODULES = sorted(p for p in PERF.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PERF)))
def test_imports_point_down_the_data_flow(path):
    part = part_of(path)
    assert part in ALLOWED, f"{path}: perf/{part} is not a known part of the layout; add it to ALLOWED"
    wrong = {name for name in imported_parts(path) if name != part and name not in ALLOWED[part]}
    assert not wrong, f"{path}: perf/{part} may import {sorted(ALLOWED[part])}, but imports {sorted(wrong)}"


def test_only_entry_points_and_vocabulary_at_the_top():
    top = {p.stem for p in PERF.glob("*.py")}
    assert top == TOP_LEVEL_MODULES, f"modules directly under perf/: {sorted(top - TOP_LEVEL_MODULES)} belong in a folder"


@pytest.mark.parametrize("folder", sorted(p.parent for p in PERF.glob("*/__init__.py")), ids=lambda p: p.name)
def test_each_folder_says_what_it_owns_and_may_import(folder):
    doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
    assert doc and "import" in doc.lower() and len(doc.splitlines()) == 2, f"{folder}/__init__.py: two lines: owns, may import"
