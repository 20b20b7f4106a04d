"""Import-direction rules between the package's layers (style guide §4.2), by an ``ast`` scan."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ssrstf"

# Which top-level modules of ssrstf each layer may import (besides itself).
ALLOWED = {
    "config": {"files"},
    "skeleton": set(),
    "geometry": set(),
    "files": set(),  # atomic writes and output locks, used by every writer
    "models": {"config", "skeleton"},
    # Checkpoint I/O sits below every layer that reads checkpoints (evaluation, training,
    # inference), so none of them reaches sideways into another for it.
    "checkpoint": {"config", "models", "files"},
    "data": {"config", "skeleton", "geometry", "files"},
    "evaluation": {"skeleton", "geometry", "config", "checkpoint", "files"},
    # Mesh recovery: body models and the mesh head on a lifter backbone (checkpoints through
    # ssrstf.checkpoint); below training (which trains it) and inference (which runs it).
    "mesh": {"config", "models", "skeleton", "checkpoint", "files"},
    "training": {
        *("models", "data", "evaluation", "config", "skeleton", "geometry", "checkpoint"),
        *("files", "mesh"),
    },
    "inference": {
        *("models", "data", "geometry", "skeleton", "config", "evaluation", "checkpoint"),
        *("files", "mesh"),
    },
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ssrstf."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("ssrstf.")}
    return found


def test_layers_import_only_downwards() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        layer = _layer(path)
        if layer not in ALLOWED:
            continue
        for target in _imports(path) - {layer}:
            if target not in ALLOWED[layer]:
                violations.append(f"{path.relative_to(PACKAGE)} imports ssrstf.{target}")
    assert not violations, violations


def test_every_module_belongs_to_a_layer() -> None:
    # A new top-level module must be placed in ALLOWED, or the rules above silently skip it.
    unplaced = (
        {_layer(p) for p in PACKAGE.rglob("*.py")} - set(ALLOWED) - {"__init__", "__main__", "cli"}
    )
    assert not unplaced, unplaced


def test_inference_and_evaluation_do_not_import_training() -> None:
    # Inference and evaluation read checkpoints through ssrstf.checkpoint, never training/.
    for layer in ("inference", "evaluation"):
        for path in (PACKAGE / layer).rglob("*.py"):
            assert "training" not in _imports(path), path


def test_nothing_imports_the_cli() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if _layer(p) not in ("cli", "__main__") and "cli" in _imports(p)
    ]
    assert not offenders


def test_no_joint_index_lists_outside_the_skeleton_module() -> None:
    # Flip pairs of H36M-17 are the most tempting literal to copy; they must live in skeleton.py.
    for path in PACKAGE.rglob("*.py"):
        if path.name != "skeleton.py":
            text = path.read_text().replace(" ", "")
            assert "[4,5,6,11,12,13]" not in text and "(4,5,6,11,12,13)" not in text, path


def test_test_subjects_are_defined_once() -> None:
    # The Human3.6M test subjects live in ssrstf.config (H36M_TEST_SUBJECTS) and nowhere else.
    for path in PACKAGE.rglob("*.py"):
        if path.name != "config.py":
            text = path.read_text().replace(" ", "")
            assert '("S9","S11")' not in text and "['S9','S11']" not in text, path
