"""The package's layout rules (style guide §4.2, docs/architecture.md), by an ``ast`` scan.

* Imports point one way, down the data's way: foundation <- 2D keypoints, data, models <-
  lifting <- scene <- outputs <- pipeline <- cli (`FLOW`); training and evaluation beside.
* The lower layers keep their narrower rules (`ALLOWED`).
* No import circles between modules.
* Small files and packages: no source file over `MAX_LINES`, no CLI file over
  `MAX_CLI_LINES`, no package over a quarter of the package's lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ssrstf"

# The stages of the data's way, first to last: a module may import only from its own package
# or from packages of earlier stages (packages of one stage do not import each other).
FLOW: tuple[tuple[str, ...], ...] = (
    ("skeleton", "geometry", "files", "extras"),  # foundation: leaves
    ("config",),
    ("data", "models"),
    ("checkpoint",),  # builds models from configs
    ("keypoints", "mesh", "evaluation"),  # 2D in (keypoints reuses data.missing's fill rule)
    ("lifting", "training"),
    ("scene",),
    ("outputs",),
    ("pipeline",),
    ("__init__",),  # the public API
    ("cli",),
    ("__main__",),
)
STAGE = {layer: index for index, layer in enumerate(FLOW) for layer in layer}

# Which top-level modules of ssrstf the lower layers may import (besides themselves): narrower
# than their stage in `FLOW`.
ALLOWED = {
    "config": {"files"},
    "skeleton": set(),
    "geometry": set(),
    "files": set(),  # atomic writes and output locks, used by every writer
    "extras": set(),  # optional dependencies and their install hints
    "models": {"config", "skeleton"},
    # Checkpoint I/O sits below every layer that reads checkpoints (evaluation, training,
    # lifting), so none of them reaches sideways into another for it.
    "checkpoint": {"config", "models", "files"},
    "data": {"config", "skeleton", "geometry", "files"},
    # Evaluation reads data's pure clip logic (windows and their stitching, shared with lifting).
    "evaluation": {"skeleton", "geometry", "config", "checkpoint", "files", "data"},
    # Mesh recovery: body models and the mesh head on a lifter backbone (checkpoints through
    # ssrstf.checkpoint); below training (which trains it) and lifting (which runs it).
    "mesh": {"config", "models", "skeleton", "checkpoint", "files"},
    "training": {
        *("models", "data", "evaluation", "config", "skeleton", "geometry", "checkpoint"),
        *("files", "mesh"),
    },
}

MAX_LINES = 650
MAX_CLI_LINES = 450
MAX_PACKAGE_SHARE = 0.25


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["ssrstf", *parts])


def _imported_modules(path: Path) -> set[str]:
    """Every ``ssrstf`` module ``path`` imports (at the top, in functions, for type checking),
    a ``from package import module`` resolved to the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ssrstf" or node.module.startswith("ssrstf."):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    folder = PACKAGE.parent / Path(*sub.split("."))
                    is_module = folder.with_suffix(".py").exists() or folder.is_dir()
                    found.add(sub if is_module else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ssrstf.")}
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: use absolute imports")
    return found


def _imports(path: Path) -> set[str]:
    """The top-level modules and packages of ssrstf that ``path`` imports."""
    return {m.split(".")[1] if "." in m else "__init__" for m in _imported_modules(path)}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_stage() -> None:
    # A new top-level module or package must be placed in FLOW, or the rules skip it.
    unplaced = {_layer(p) for p in _sources()} - set(STAGE)
    assert not unplaced, unplaced


def test_imports_follow_the_data_flow() -> None:
    violations = []
    for path in _sources():
        layer = _layer(path)
        for target in _imports(path) - {layer}:
            if STAGE[target] >= STAGE[layer]:
                violations.append(f"{path.relative_to(PACKAGE)} imports ssrstf.{target}")
    assert not violations, violations


def test_lower_layers_import_only_downwards() -> None:
    violations = []
    for path in _sources():
        layer = _layer(path)
        if layer not in ALLOWED:
            continue
        for target in _imports(path) - {layer}:
            if target not in ALLOWED[layer]:
                violations.append(f"{path.relative_to(PACKAGE)} imports ssrstf.{target}")
    assert not violations, violations


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    graph = {_module_name(p): _imported_modules(p) - {_module_name(p)} for p in _sources()}
    cycles = _cycles(graph)
    assert not cycles, cycles


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_files_are_small() -> None:
    long = []
    for path in _sources():
        lines = len(path.read_text().splitlines())
        limit = MAX_CLI_LINES if _layer(path) == "cli" else MAX_LINES
        if lines > limit:
            long.append(f"{path.relative_to(PACKAGE)}: {lines} lines (at most {limit})")
    assert not long, long


def test_no_package_holds_more_than_a_quarter_of_the_lines() -> None:
    lines: dict[str, int] = {}
    for path in _sources():
        lines[_layer(path)] = lines.get(_layer(path), 0) + len(path.read_text().splitlines())
    total = sum(lines.values())
    big = {k: v for k, v in lines.items() if v > MAX_PACKAGE_SHARE * total}
    assert not big, f"{big} of {total} lines"


# Lifting, the scene, outputs, the pipeline and evaluation read checkpoints through
# ssrstf.checkpoint, never training/; nothing but the entry point imports the CLI.
@pytest.mark.parametrize(
    ("imported", "importers"), [("training", ("training", "cli")), ("cli", ("cli", "__main__"))]
)
def test_only_these_layers_import(imported: str, importers: tuple[str, ...]) -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in _sources()
        if _layer(p) not in importers and imported in _imports(p)
    ]
    assert not offenders


def test_no_joint_index_lists_outside_the_skeleton_module() -> None:
    # Flip pairs of H36M-17 are the most tempting literal to copy; they must live in skeleton.py.
    for path in _sources():
        if path.name != "skeleton.py":
            text = path.read_text().replace(" ", "")
            assert "[4,5,6,11,12,13]" not in text and "(4,5,6,11,12,13)" not in text, path


def test_test_subjects_are_defined_once() -> None:
    # The Human3.6M test subjects live in ssrstf.config (H36M_TEST_SUBJECTS) and nowhere else.
    for path in _sources():
        if path.name != "config.py":
            text = path.read_text().replace(" ", "")
            assert '("S9","S11")' not in text and "['S9','S11']" not in text, path
