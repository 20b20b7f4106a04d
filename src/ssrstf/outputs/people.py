"""Several people's outputs: one folder per person, and everyone together.

`write_people_outputs` writes the people tracked in a keypoint file
(`ssrstf.keypoints.people.load_people`) and lifted one by one
(`ssrstf.pipeline.run.lift_people`):

* ``person_0/``, ``person_1/``, ...: each person's ``poses_3d.npz`` / ``.json`` / ``.bvh`` /
  ``.glb`` and ``viewer.html`` (`ssrstf.outputs.folder.write_outputs`), over the frames of its
  track (its first input frame is ``start_frame`` in ``people.json``);
* ``viewer.html``: everyone on one timeline; ``people.json``: who is where; and with ``render``,
  ``render.mp4`` with everyone's 2D and 3D skeletons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ssrstf.files import atomic_write
from ssrstf.keypoints.people import People
from ssrstf.outputs import viewer
from ssrstf.outputs.bvh import CAMERA_TO_BVH
from ssrstf.outputs.folder import (
    OUTPUT_FILES,
    check_output_extras,
    check_output_folder,
    write_outputs,
)
from ssrstf.outputs.viewer import SIDE_BY_SIDE_MM
from ssrstf.scene.result import InferenceResult

PEOPLE_FILE = "people.json"
"""Summary of the people written by `write_people_outputs`."""


PEOPLE_OUTPUTS = {"viewer": OUTPUT_FILES["viewer"], "people": PEOPLE_FILE}
"""Files written next to the ``person_k`` folders (plus ``render.mp4`` on request)."""


@dataclass(frozen=True)
class PersonResult:
    """One person's lifted poses and where they go.

    Attributes:
        name: ``person_k``, also the name of the output folder.
        start_frame: Input frame of the first pose.
        result: The lifted track.
    """

    name: str
    start_frame: int
    result: InferenceResult


def people_output_paths(out_dir: str | Path, count: int, *, render: bool) -> dict[str, Path]:
    """Every file a run with ``count`` people writes, keyed ``viewer``, ``people``, ``render``
    and ``person_k/<key>`` (keys of `ssrstf.outputs.folder.OUTPUT_FILES`)."""
    out_dir = Path(out_dir)
    paths = {key: out_dir / name for key, name in PEOPLE_OUTPUTS.items()}
    if render:
        paths["render"] = out_dir / OUTPUT_FILES["render"]
    for k in range(count):
        for key, name in OUTPUT_FILES.items():
            if key != "render":
                paths[f"person_{k}/{key}"] = out_dir / f"person_{k}" / name
    return paths


def check_people_outputs(
    out_dir: str | Path, count: int, *, render: bool, overwrite: bool
) -> dict[str, Path]:
    """`people_output_paths`, after refusing up front to replace existing files or to write
    into a file."""
    check_output_folder(out_dir)
    paths = people_output_paths(out_dir, count, render=render)
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (
            f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        )
        raise FileExistsError(
            f"{shown} already exist(s); pass --overwrite to replace, or --out DIR"
        )
    return paths


def _summary(results: list[PersonResult], people: People) -> dict:
    first = results[0].result.keypoints
    return {
        "format": "ssrstf-people",
        "format_version": 1,
        "source": people.source,
        "num_frames": people.num_frames,
        "fps": first.fps,
        "image_size": list(first.image_size) if first.image_size else None,
        "dropped_tracks": people.dropped,
        "people": [
            {
                "name": r.name,
                "folder": r.name,
                "start_frame": r.start_frame,
                "num_frames": r.result.num_frames,
                "detected_frames": int(r.result.valid.sum()),
            }
            for r in results
        ],
    }


def write_people_outputs(
    results: list[PersonResult],
    people: People,
    out_dir: str | Path,
    *,
    render: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    frame: str = "world",
    rigid_animation: bool = True,
) -> dict[str, Path]:
    """Write each person's folder, then ``viewer.html``, ``people.json`` (and ``render.mp4``).

    Root motion and the world frame are each person's own (``frame`` and ``rigid_animation``
    as in `ssrstf.outputs.folder.write_outputs`); the shared viewer and rendering use the first
    person's world frame for everyone (one camera, one floor). Without root motion they place
    people side by side.
    """
    if not results:
        raise ValueError("no people to write")
    paths = check_people_outputs(out_dir, len(results), render=render, overwrite=overwrite)
    check_output_extras(render=render)
    for r in results:
        written = write_outputs(
            r.result, Path(out_dir) / r.name, overwrite=overwrite, frame=frame,
            rigid_animation=rigid_animation,
        )  # fmt: skip
        paths.update({f"{r.name}/{key}": path for key, path in written.items()})
    trajectories = [r.result.trajectory for r in results]
    world = results[0].result.world_from_camera
    fps = results[0].result.keypoints.fps
    shown = [
        viewer.ViewerPerson(r.name.replace("_", " "), r.result.poses_3d, trajectory,
                            valid=r.result.valid, start_frame=r.start_frame)
        for r, trajectory in zip(results, trajectories, strict=True)
    ]  # fmt: skip
    viewer.write_viewer(
        paths["viewer"], shown, fps, world_from_camera=world,
        title=f"ssrstf: {len(results)} people, {people.source}", overwrite=overwrite,
    )  # fmt: skip
    text = json.dumps(_summary(results, people), indent=1) + "\n"
    atomic_write(
        paths["people"], lambda t: t.write_text(text, encoding="utf-8"), overwrite=overwrite
    )
    if render:
        _render(paths["render"], results, people, overwrite, progress)
    return paths


def _render(
    path: Path, results: list[PersonResult], people: People, overwrite: bool, progress: bool
) -> None:
    """``render.mp4`` with everyone: absolute poses in the first person's world frame when the
    scene steps ran (upright, as the single-person rendering), else side by side."""
    from ssrstf.outputs.render import RenderedPerson, render_people_video

    world = results[0].result.world
    placed = []
    for k, r in enumerate(results):
        poses, trajectory = r.result.poses_3d, r.result.trajectory
        if trajectory is None:  # root-relative: side by side, as in the viewer
            shown = poses + [(k - (len(results) - 1) / 2) * SIDE_BY_SIDE_MM, 0.0, 0.0]
        elif world is None:
            shown = poses + trajectory[:, None]
        else:  # world (Y up) -> the camera-like axes (y down) the renderer takes
            shown = world.to_world(poses + trajectory[:, None]) @ CAMERA_TO_BVH
        name = r.name.replace("_", " ")
        placed.append(RenderedPerson(name, shown, r.result.keypoints.keypoints, r.start_frame))
    first = results[0].result.keypoints
    assert first.image_size is not None
    render_people_video(
        path, placed, num_frames=people.num_frames, fps=first.fps or 30.0,
        image_size=first.image_size, overwrite=overwrite, progress=progress,
    )  # fmt: skip
