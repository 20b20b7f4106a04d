"""One input into one output folder: the steps ``ssrstf infer`` takes for a video or keypoint file.

`infer_input` is shared by the CLI (one input: its files straight into ``--out``) and the batch
workers (`ssrstf.inference.batch`: one folder per input), so both read, check, lift and write an
input the same way:

1. `ssrstf.inference.people.load_people`: a keypoint file with several people per frame is
   tracked; those go to ``person_k/`` folders (`lift_people`, `write_people_outputs`).
2. Otherwise the existing files are refused before any work (`pipeline.check_outputs`), the
   keypoints are read or detected (`pipeline.load_keypoints`), and, holding the folder's lock
   (`ssrstf.files.output_lock`: a second run into the same folder stops there) and after
   checking the files again, the poses are lifted and written (`lift_and_write`).

Nothing here prints; progress bars only with ``progress``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssrstf.files import output_lock
from ssrstf.inference.tracking import MIN_TRACK_FRAMES
from ssrstf.inference.video import is_video

if TYPE_CHECKING:
    from ssrstf.inference.lifter import Lifter
    from ssrstf.inference.people import People, PersonResult
    from ssrstf.inference.pipeline import InferenceResult
    from ssrstf.inference.readers import Keypoints2D

    LiftAndWrite = Callable[
        [Keypoints2D, str | Path | None], tuple[InferenceResult, dict[str, Path]]
    ]


@dataclass(frozen=True)
class InferOptions:
    """How an input is read, lifted and written (the options of ``ssrstf infer``).

    Attributes:
        fmt: Input format (``auto``, ``video`` or a keypoint format of
            `ssrstf.inference.readers.FORMATS`).
        image_size: (width, height) for keypoint files that do not record it.
        skeleton: Joint order of numpy array files.
        fps: Frame rate, overriding each file's.
        checkpoint: ``"default"`` or a model file (see `ssrstf.inference.lifter.Lifter`).
        device: ``"cpu"``, ``"cuda"``, ...
        flip: Flip test-time augmentation.
        overlap: Frames shared by consecutive windows (None: the lifter's default).
        threads: torch CPU threads per worker process (batches).
        backend: ``"torch"`` or ``"onnxruntime"`` (None: from the checkpoint).
        render: Also write ``render.mp4`` (extra ``viz``).
        viewer_video: Show a video input's frames in ``viewer.html``.
        focal_length: The camera's focal length in pixels (None: from ``fov``).
        fov: The camera's field of view in degrees (None: the default).
        frame: Frame of the BVH and GLB files, ``"world"`` or ``"camera"``.
        rigid: One set of bone lengths: True for every output, False for none, None for BVH
            and GLB only.
        min_track_frames: Several people per frame: lift tracks at least this long.
    """

    fmt: str = "auto"
    image_size: tuple[int, int] | None = None
    skeleton: str | None = None
    fps: float | None = None
    checkpoint: str = "default"
    device: str = "cpu"
    flip: bool = True
    overlap: int | None = None
    threads: int = 1
    backend: str | None = None
    render: bool = False
    viewer_video: bool = False
    focal_length: float | None = None
    fov: float | None = None
    frame: str = "world"
    rigid: bool | None = None
    min_track_frames: int = MIN_TRACK_FRAMES

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.frame not in ("world", "camera"):
            raise ValueError(f"frame must be 'world' or 'camera', got {self.frame!r}")

    def fingerprint(self) -> dict[str, Any]:
        """The options that shape the outputs, as JSON values (``threads`` does not)."""
        values = dataclasses.asdict(self)
        values.pop("threads")
        values["checkpoint"] = str(values["checkpoint"])
        return json.loads(json.dumps(values))


@dataclass(frozen=True)
class InputRun:
    """What `infer_input` did with one input.

    Attributes:
        frames: Frames read.
        paths: The files written (`pipeline.write_outputs` or `write_people_outputs` keys).
        result: The lifted poses of a one-person input; None for several people.
        people: The tracked people of a multi-person keypoint file, else None.
        person_results: Their lifted poses (one per person kept), else None.
        detect_seconds: Seconds inside the 2D detector (videos; None for keypoint files).
    """

    frames: int
    paths: dict[str, Path]
    result: InferenceResult | None = None
    people: People | None = None
    person_results: list[PersonResult] | None = None
    detect_seconds: float | None = None


def _is_video_input(source: str | Path, fmt: str) -> bool:
    return fmt == "video" or (fmt == "auto" and is_video(Path(source)))


def infer_input(
    source: str | Path,
    out_dir: str | Path,
    options: InferOptions,
    lifter: Callable[[], Lifter],
    *,
    overwrite: bool = False,
    progress: bool = False,
    quiet: bool = True,
    before_writing: Callable[[], None] | None = None,
    several_people: Callable[[People], None] | None = None,
    one_person: LiftAndWrite | None = None,
) -> InputRun:
    """Lift one input into ``out_dir`` (see the module docstring for the steps).

    Reading, detection and the checks of existing files come first: an input that fails there
    leaves no trace in ``out_dir``.

    Args:
        source: A video, keypoint file or OpenPose folder.
        out_dir: Its output folder (created).
        options: How to read, lift and write it (the model comes from ``lifter``).
        lifter: Returns the model; called once, when it is needed (one person: inside the
            folder's lock, after the keypoints are read).
        overwrite: Replace existing files.
        progress: Show the detector's, the lifter's and the rendering's progress bars.
        quiet: Keep the detector's native log lines off standard error.
        before_writing: Called once, holding the folder's lock, after lifting and before the
            first file is written (the batch marks the folder as started there).
        several_people: Called with the tracked people of a multi-person keypoint file before
            anything else is done with them (it may raise to refuse them).
        one_person: Lifts and writes a one-person input in place of `lift_and_write`, holding
            the folder's lock: ``(keypoints, frames_from) -> (result, paths)`` (the CLI's adds
            the body mesh); ``lifter`` and ``before_writing`` are then its business.

    Raises:
        ValueError, OSError, MissingExtraError, OutputLockedError: As ``ssrstf infer`` on this
            input.
    """
    from ssrstf.inference import pipeline
    from ssrstf.inference.people import (
        check_people_outputs,
        lift_people,
        load_people,
        write_people_outputs,
    )

    people = load_people(
        source, options.fmt, image_size=options.image_size, skeleton_name=options.skeleton,
        fps=options.fps, min_track_frames=options.min_track_frames,
    )  # fmt: skip
    if people is not None:  # several people per frame in a keypoint file
        if several_people is not None:
            several_people(people)
        check_people_outputs(out_dir, len(people.tracks), render=options.render,
                             overwrite=overwrite)  # fmt: skip
        results = lift_people(
            people, lifter(), focal_length=options.focal_length, fov=options.fov,
            rigid=options.rigid is True,
        )  # fmt: skip
        with output_lock(out_dir):
            if before_writing is not None:
                before_writing()
            paths = write_people_outputs(
                results, people, out_dir, render=options.render, overwrite=overwrite,
                progress=progress, frame=options.frame, rigid_animation=options.rigid is not False,
            )  # fmt: skip
        return InputRun(people.num_frames, paths, people=people, person_results=results)
    pipeline.check_outputs(out_dir, render=options.render, overwrite=overwrite)
    seconds: dict[str, float] = {}
    kp = pipeline.load_keypoints(
        source, options.fmt, image_size=options.image_size, skeleton_name=options.skeleton,
        fps=options.fps, progress=progress, quiet=quiet, seconds=seconds,
    )  # fmt: skip
    frames_from = source if _is_video_input(source, options.fmt) else None
    with output_lock(out_dir):  # a second run into the same folder stops here
        pipeline.check_outputs(out_dir, render=options.render, overwrite=overwrite)
        if one_person is not None:
            result, paths = one_person(kp, frames_from)
        else:
            result, paths = lift_and_write(
                kp, out_dir, options, lifter(), frames_from=frames_from, overwrite=overwrite,
                progress=progress, before_writing=before_writing,
            )  # fmt: skip
    return InputRun(kp.num_frames, paths, result=result, detect_seconds=seconds.get("detect"))


def lift_and_write(
    kp: Keypoints2D,
    out_dir: str | Path,
    options: InferOptions,
    lifter: Lifter,
    *,
    frames_from: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
    before_writing: Callable[[], None] | None = None,
) -> tuple[InferenceResult, dict[str, Path]]:
    """Lift one person's keypoints and write their files (`pipeline.write_outputs`).

    Args:
        kp: The 2D keypoints (any skeleton).
        out_dir: The output folder.
        options: The camera, rigidity and output options (``render``, ``viewer_video``,
            ``frame``).
        lifter: The model.
        frames_from: The input video, for the rendering and ``viewer_video``.
        overwrite: Replace existing files.
        progress: Show the lifter's and the rendering's progress bars.
        before_writing: Called after lifting, before the first file is written.

    Returns:
        ``(result, paths)``: what `pipeline.lift_keypoints` returned and the files written.
    """
    from ssrstf.inference.pipeline import lift_keypoints, write_outputs

    result = lift_keypoints(
        kp, lifter, progress=progress, focal_length=options.focal_length, fov=options.fov,
        rigid=options.rigid is True,
    )  # fmt: skip
    if before_writing is not None:
        before_writing()
    paths = write_outputs(
        result, out_dir, render=options.render, frames_from=frames_from, overwrite=overwrite,
        progress=progress, viewer_video=options.viewer_video, frame=options.frame,
        rigid_animation=options.rigid is not False,
    )  # fmt: skip
    return result, paths
