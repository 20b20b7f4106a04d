"""What ``ssrstf infer`` and ``ssrstf demo`` print about a run, as lines of text.

`ssrstf.pipeline.run.PipelineRun.report` puts them together: for one person the mesh line
(with a mesh), the input and the lifting (`result_lines`; with the frame stride when the model
did not run on consecutive frames, `frame_stride_line`), the root path, floor and motion
(`scene_lines`) and the files written; for several people their tracks and folders
(`people_lines`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssrstf.keypoints.people import People
from ssrstf.lifting.lifter import TRAINING_FPS
from ssrstf.lifting.meshes import MeshSequence, mesh_agreement_mm
from ssrstf.outputs.people import PersonResult
from ssrstf.scene.result import InferenceResult
from ssrstf.scene.trajectory import DEFAULT_FOV_DEG


def mesh_line(mesh: MeshSequence, poses_3d: np.ndarray) -> str:
    """The recovered mesh: its size, its time and how far its joints are from ``poses_3d``."""
    seconds = sum(mesh.seconds.values())
    agreement = float(np.median(mesh_agreement_mm(mesh, poses_3d)))
    return (
        f"mesh ({mesh.body_model}, {mesh.vertices.shape[1]} vertices): recovered in "
        f"{seconds:.2f} s ({1000 * seconds / mesh.num_frames:.1f} ms/frame); its joints are "
        f"{agreement:.1f} mm (median) from poses_3d"
    )


def ordinal(n: int) -> str:
    """``2nd``, ``3rd``, ``11th``, ``21st``, ..."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def frame_stride_line(
    frame_stride: int, *, fps: float | None, given: bool, model_stride: int = 1
) -> str | None:
    """How the model stepped through the frames and why; None for consecutive frames (1).

    Args:
        frame_stride: The stride the poses were lifted at.
        fps: The input's frame rate, when known.
        given: The stride was set (``--frame-stride``), not chosen from the frame rate.
        model_stride: The lifter's own stride (its training stride).
    """
    if frame_stride == 1:
        return None
    if given:
        why = f"--frame-stride {frame_stride}"
    elif frame_stride == model_stride or not fps:
        why = f"the model was trained on every {ordinal(model_stride)} frame"
    else:
        why = (
            f"{fps:.4g} fps input, model trained at {TRAINING_FPS:g} fps; --frame-stride 1 to "
            "lift consecutive frames"
        )
    return f"lifted every {ordinal(frame_stride)} frame per model window ({why})"


def scene_lines(result: InferenceResult, *, camera_given: bool) -> list[str]:
    """The trajectory, floor and motion figures of a run, one line each."""
    lines = []
    if result.trajectory is not None and result.intrinsics is not None:
        path = result.trajectory
        travelled = float(np.linalg.norm(np.diff(path, axis=0), axis=-1).sum()) / 1000
        camera = f"focal length {result.intrinsics.fx:.0f} px"
        if not camera_given:
            camera += f" (default {DEFAULT_FOV_DEG:g}° field of view; set --focal-length or --fov)"
        lines.append(
            f"root path: starts {path[0, 2] / 1000:.2f} m in front of the camera, "
            f"{travelled:.2f} m travelled; {camera}"
        )
    if result.floor is not None:
        tilt = np.degrees(np.arccos(np.clip(-result.floor.normal[1], -1.0, 1.0)))
        contact = result.floor.contacts.any(axis=1).mean()
        lines.append(
            f"floor: from the foot contacts (a foot on the floor in {contact:.0%} of frames); "
            f"its normal is {tilt:.1f}° from the camera's up axis (-y)"
        )
    if result.statistics is not None:
        rigid = " (poses rigid)" if result.rigid else ""
        lines.append(result.statistics.summary() + rigid)
    return lines


def result_lines(
    result: InferenceResult,
    paths: dict[str, Path],
    *,
    camera_given: bool = False,
    stride_line: str | None = None,
) -> list[str]:
    """One person's run: the input, the lifting (and ``stride_line``, `frame_stride_line`),
    the scene (`scene_lines`) and the files."""
    kp = result.keypoints
    assert kp.image_size is not None
    frames = result.num_frames
    filled = result.filled.mean()
    lift_s = result.seconds.get("lift", 0.0)
    return [
        f"input: {kp.source}",
        f"{frames} frames, {kp.image_size[0]}x{kp.image_size[1]} px, "
        f"{f'{kp.fps:.4g} fps' if kp.fps else 'fps unknown'}; person detected in "
        f"{kp.valid.mean():.1%} of frames; {filled:.1%} of joints filled by interpolation",
        f"lifted in {lift_s:.2f} s ({frames / max(lift_s, 1e-9):,.0f} frames/s)",
        *([stride_line] if stride_line else []),
        *scene_lines(result, camera_given=camera_given),
        *(f"  {name:6s} {path}" for name, path in paths.items()),
    ]


def people_lines(
    people: People,
    results: list[PersonResult],
    paths: dict[str, Path],
    out_dir: str | Path,
    *,
    skipped: list[str] | tuple[str, ...] = (),
    stride_line: str | None = None,
) -> list[str]:
    """The tracked people of a multi-person input and their folders, one line each.

    ``skipped``: why each person who could not be lifted was skipped (counted in
    ``people.dropped`` with the tracks shorter than the minimum). ``stride_line``: how the
    model stepped through the frames (`frame_stride_line`), after the tracks' line.
    """
    shorter = people.dropped - len(skipped)
    dropped = [f"{shorter} shorter tracks dropped"] if shorter > 0 else []
    if skipped:
        dropped.append(f"{len(skipped)} that cannot be lifted skipped")
    lines = [
        f"input: {people.source}",
        f"{people.num_frames} frames; {len(results)} people tracked"
        + (f" ({', '.join(dropped)})" if dropped else ""),
        *(f"  skipped: {reason}" for reason in skipped),
        *([stride_line] if stride_line else []),
    ]
    for r in results:
        last = r.start_frame + r.result.num_frames - 1
        lines.append(
            f"  {r.name}: frames {r.start_frame}-{last}, detected in "
            f"{r.result.valid.mean():.1%} of them -> {Path(out_dir) / r.name}"
        )
    shown = [key for key in ("viewer", "people", "render") if key in paths]
    lines.extend(f"  {key:6s} {paths[key]}" for key in shown)
    return lines
