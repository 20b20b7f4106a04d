"""Several people in one keypoint file: one set of outputs per person, and everyone together.

COCO results, AlphaPose/Halpe JSON and OpenPose files can list several people per frame.
`load_people` reads every detection (`readers.read_detections`) and, when some frame holds more
than one person, links them into tracks (`tracking.track_people`); `lift_people` lifts every
track like a single-person input (`pipeline.lift_keypoints`: conversion, filling, windowed
lifting); `write_people_outputs` writes

* ``person_0/``, ``person_1/``, ...: each person's ``poses_3d.npz`` / ``.json`` / ``.bvh`` /
  ``.glb`` and ``viewer.html`` (`pipeline.write_outputs`), over the frames of its track (its
  first input frame is ``start_frame`` in ``people.json``);
* ``viewer.html``: everyone on one timeline; ``people.json``: who is where; and with ``render``,
  ``render.mp4`` with everyone's 2D and 3D skeletons.

People are numbered by their first frame, then from left to right. Inputs with at most one
person per frame (and videos: the MediaPipe detector tracks a single person) keep the
single-person layout of `pipeline.write_outputs`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ssrstf.files import atomic_write
from ssrstf.inference.lifter import Lifter
from ssrstf.inference.pipeline import OUTPUT_FILES, InferenceResult, lift_keypoints, write_outputs
from ssrstf.inference.readers import read_detections
from ssrstf.inference.tracking import MIN_TRACK_FRAMES, Track, track_people

PEOPLE_FILE = "people.json"
"""Summary of the people written by `write_people_outputs`."""
PEOPLE_OUTPUTS = {"viewer": OUTPUT_FILES["viewer"], "people": PEOPLE_FILE}
"""Files written next to the ``person_k`` folders (plus ``render.mp4`` on request)."""


@dataclass(frozen=True)
class People:
    """The tracks of a multi-person keypoint file.

    Attributes:
        tracks: One per person, in output order.
        dropped: Tracks dropped as shorter than the minimum.
        num_frames: Frames of the file.
        source: What was read (`readers.Detections.source`).
    """

    tracks: list[Track]
    dropped: int
    num_frames: int
    source: str


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


def load_people(
    source: str | Path,
    fmt: str = "auto",
    *,
    image_size: tuple[int, int] | None = None,
    skeleton_name: str | None = None,
    fps: float | None = None,
    min_track_frames: int = MIN_TRACK_FRAMES,
) -> People | None:
    """The people of a keypoint file, or None when no frame lists more than one person.

    Videos return None without being opened (the detector is single-person).

    Raises:
        KeypointFormatError: The file cannot be read (as `readers.read_keypoints`).
        ValueError: No track is long enough (`tracking.track_people`).
    """
    from ssrstf.inference import video

    path = Path(source)
    if fmt == "video" or (fmt == "auto" and video.is_video(path)):
        return None
    detections = read_detections(
        path, fmt, skeleton_name=skeleton_name, image_size=image_size, fps=fps
    )
    if detections.max_people <= 1:
        return None
    tracks, dropped = track_people(detections, min_frames=min_track_frames)
    return People(tracks, dropped, detections.num_frames, detections.source)


def lift_people(
    people: People,
    lifter: Lifter,
    *,
    progress: bool = False,
    focal_length: float | None = None,
    fov: float | None = None,
    rigid: bool = False,
) -> list[PersonResult]:
    """Lift every track and place it in the scene (see `pipeline.lift_keypoints`).

    Every person gets their own root trajectory, floor and world frame, all with the same
    camera (``focal_length`` or ``fov``, else the default field of view).
    """
    results = []
    for k, track in enumerate(people.tracks):
        result = lift_keypoints(
            track.keypoints, lifter, progress=progress, focal_length=focal_length, fov=fov,
            rigid=rigid,
        )  # fmt: skip
        results.append(PersonResult(f"person_{k}", track.start_frame, result))
    return results


def people_output_paths(out_dir: str | Path, count: int, *, render: bool) -> dict[str, Path]:
    """Every file a run with ``count`` people writes, keyed ``viewer``, ``people``, ``render``
    and ``person_k/<key>`` (keys of `pipeline.OUTPUT_FILES`)."""
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
    """`people_output_paths`, after refusing up front to replace existing files."""
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
    as in `pipeline.write_outputs`); the shared viewer and rendering use the first person's
    world frame for everyone (one camera, one floor). Without root motion they place people
    side by side.
    """
    from ssrstf.inference import viewer

    if not results:
        raise ValueError("no people to write")
    paths = check_people_outputs(out_dir, len(results), render=render, overwrite=overwrite)
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
    from ssrstf.inference.export import CAMERA_TO_BVH
    from ssrstf.inference.render import RenderedPerson, render_people_video
    from ssrstf.inference.viewer import SIDE_BY_SIDE_MM

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
