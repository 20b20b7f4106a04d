"""The names ssrstf gives the files and folders of an output folder, in one place.

The writers (`ssrstf.outputs.folder`, `ssrstf.outputs.mesh_files`, `ssrstf.outputs.people`)
take their file names from here, and so does `remove_stale_outputs`, which ``--overwrite``
runs after a successful run: it removes what an earlier run into the same folder wrote and
this one did not (``render.mp4`` of an earlier ``--render``, ``mesh.npz`` and ``mesh.glb`` of
an earlier ``--mesh``, ``person_k/`` folders of people this run does not have, ...), so the
folder never mixes two runs. Anything else in the folder (a file or folder of another name, a
``person_k/`` folder that holds anything but these names) is left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

OUTPUT_FILES = {
    "npz": "poses_3d.npz",
    "json": "poses_3d.json",
    "bvh": "poses_3d.bvh",
    "glb": "poses_3d.glb",
    "viewer": "viewer.html",
    "render": "render.mp4",
}
"""File names written into the output folder (one person's; ``render`` on request)."""

MESH_FILES = {"mesh_npz": "mesh.npz", "mesh_glb": "mesh.glb"}
"""The files `ssrstf.outputs.mesh_files.write_mesh_outputs` adds to an output folder."""

PEOPLE_FILE = "people.json"
"""Summary of the people written by `ssrstf.outputs.people.write_people_outputs`."""

OUTPUT_NAMES = frozenset({*OUTPUT_FILES.values(), *MESH_FILES.values(), PEOPLE_FILE})
"""Every file name ssrstf writes into an output folder or a ``person_k/`` folder."""

_PERSON_FOLDER = re.compile(r"person_(0|[1-9][0-9]*)")


def person_folder(k: int) -> str:
    """The name of the ``k``-th person's folder: ``person_k``."""
    return f"person_{k}"


def is_person_folder(name: str) -> bool:
    """Whether ``name`` is a name `person_folder` gives."""
    return _PERSON_FOLDER.fullmatch(name) is not None


def remove_stale_outputs(out_dir: str | Path, written: Iterable[str | Path]) -> list[Path]:
    """Remove the outputs of an earlier run from ``out_dir``: the files of `OUTPUT_NAMES` this
    run did not write, and the ``person_k/`` folders it did not write into that hold nothing
    but files of those names; the paths removed.

    Args:
        out_dir: The output folder.
        written: The files this run wrote (in ``out_dir`` or its ``person_k/`` folders).
    """
    out_dir = Path(out_dir)
    kept_files, kept_folders = set(), set()
    for path in written:
        parts = Path(os.path.relpath(path, out_dir)).parts
        (kept_files if len(parts) == 1 else kept_folders).add(parts[0])
    removed = []
    for path in sorted(out_dir.iterdir()):
        if path.name in OUTPUT_NAMES and path.name not in kept_files and not path.is_dir():
            path.unlink()
            removed.append(path)
        elif is_person_folder(path.name) and path.name not in kept_folders and path.is_dir():
            inside = sorted(path.iterdir())
            if all(p.name in OUTPUT_NAMES and p.is_file() for p in inside):
                for p in inside:
                    p.unlink()
                path.rmdir()
                removed.extend([*inside, path])
    return removed
