"""The one pipeline: an input and options in; a `PipelineRun` with its write and report steps out.

``ssrstf infer`` (one input, and each input of a batch, `ssrstf.pipeline.batch`),
``ssrstf demo``, `ssrstf.lift` and `ssrstf.lift_mesh` (`ssrstf.pipeline.api`) all use
`Pipeline`:

1. `Pipeline.read`: a video goes through the offline detector (extra ``video``), a keypoint
   file through `ssrstf.keypoints.readers.read_keypoints`, an array is wrapped
   (`ssrstf.keypoints.inputs`); `Pipeline.read_people` tracks a keypoint file with several
   people per frame (`ssrstf.keypoints.people.load_people`).
2. `Pipeline.lift` (`lift_keypoints`): convert to H36M-17, fill missing joints and frames by
   interpolation (confidence 0, reported in ``filled`` and ``valid``) and check the image size
   (`ssrstf.keypoints.prepare.prepare_keypoints`); windowed lifting with flip test-time
   augmentation (`ssrstf.lifting.lifter.Lifter`), the model run on every s-th frame with s
   from the input's frame rate (`ssrstf.lifting.lifter.auto_frame_stride`: 2 for 100 fps
   with a model trained at 50 fps) unless ``InferOptions.frame_stride`` sets it; then
   (`ssrstf.scene.result.place_in_scene`) the root's camera-space trajectory
   (`ssrstf.scene.trajectory`), the floor, foot contacts and the Y-up world frame
   (`ssrstf.scene.world`), optionally a rigid skeleton and the smoothness and rigidity
   figures (`ssrstf.scene.rigid`); with `MeshOptions`, the body mesh posed from the lifted
   skeleton (`ssrstf.lifting.meshes.MeshRecoverer`, `recover_mesh`; its own windows on
   consecutive frames, whatever the stride of the poses).
3. `PipelineRun.write`: ``poses_3d.npz``, ``poses_3d.json``, ``poses_3d.bvh``,
   ``poses_3d.glb``, ``viewer.html`` and, on request, ``render.mp4``
   (`ssrstf.outputs.folder.write_outputs`); the people's folders
   (`ssrstf.outputs.people.write_people_outputs`); the mesh's files
   (`ssrstf.outputs.mesh_files.write_mesh_outputs`); every file written atomically, none
   overwritten without ``overwrite``. `PipelineRun.report`: the lines ``ssrstf infer`` prints
   (`ssrstf.pipeline.report`).

`Pipeline.infer` takes one input into one output folder the way ``ssrstf infer`` does:

1. A keypoint file with several people per frame is tracked; those go to ``person_k/``
   folders (a person who cannot be lifted, a joint never detected in their track, is skipped
   with a warning and counted as dropped; the input fails only when nobody can be lifted).
2. Otherwise the existing files are refused before any work (`check_outputs`), the keypoints
   are read or detected, and, holding the folder's lock (`ssrstf.files.output_lock`: a second
   run into the same folder stops there) and after checking the files again, the poses are
   lifted and written.

Before any reading or detection, the options are checked: an output folder that is a file, the
model and its options (the `Lifter`, and the `MeshRecoverer` with a mesh: a bad ``overlap`` or
checkpoint fails at once, not after a long video's detection), the optional packages the
outputs need (`check_output_extras`). Reading, detection and the checks of existing files come
next: an input that fails there leaves no trace in the output folder. Nothing here prints;
progress bars only with ``progress``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssrstf.config import ConfigError
from ssrstf.files import output_lock
from ssrstf.keypoints.inputs import array_keypoints, load_keypoints
from ssrstf.keypoints.keypoints2d import Keypoints2D
from ssrstf.keypoints.people import People, load_people
from ssrstf.keypoints.prepare import prepare_keypoints
from ssrstf.keypoints.video import is_video
from ssrstf.lifting.lifter import Lifter, auto_frame_stride
from ssrstf.lifting.meshes import MeshRecoverer, MeshSequence
from ssrstf.outputs.folder import (
    OUTPUT_FILES,
    check_output_extras,
    check_output_folder,
    check_outputs,
    write_outputs,
)
from ssrstf.outputs.mesh_files import MESH_FILES, check_mesh_outputs, write_mesh_outputs
from ssrstf.outputs.people import (
    PEOPLE_FILE,
    PersonResult,
    check_people_outputs,
    write_people_outputs,
)
from ssrstf.pipeline import report
from ssrstf.pipeline.options import InferOptions, MeshOptions
from ssrstf.scene.result import InferenceResult, place_in_scene
from ssrstf.scene.rigid import make_rigid, motion_statistics
from ssrstf.scene.trajectory import CameraIntrinsics, resolve_intrinsics

logger = logging.getLogger(__name__)

Source = np.ndarray | str | Path | Keypoints2D
"""What `Pipeline.read` takes: an array, a video, a keypoint file (or folder), or keypoints."""


@dataclass
class PipelineRun:
    """What the pipeline made of one input, with its write and report steps.

    Attributes:
        options: The options it ran with.
        result: The lifted poses of a one-person input; None for several people.
        mesh: Their body mesh (with `MeshOptions`), else None.
        people: The tracked people of a multi-person keypoint file, else None.
        person_results: Their lifted poses (one per person kept), else None.
        frames_from: The input video, for the rendering and ``viewer_video``; else None.
        detect_seconds: Seconds inside the 2D detector (videos; None for keypoint files).
        paths: The files `write` wrote (keys of `ssrstf.outputs.folder.OUTPUT_FILES`,
            ``person_k/<key>``, ``people``, ``mesh_npz``, ``mesh_glb``).
        out_dir: The folder `write` wrote into, else None.
        skipped: Why each tracked person who could not be lifted was skipped (several
            people; they count in ``people.dropped``).
        frame_stride: The model ran on every s-th frame (``options.frame_stride``, else
            `Pipeline.frame_stride_for` the input's frame rate); 1: consecutive frames.
        model_frame_stride: The lifter's own stride (its training stride, usually 1).
    """

    options: InferOptions = field(default_factory=InferOptions)
    result: InferenceResult | None = None
    mesh: MeshSequence | None = None
    people: People | None = None
    person_results: list[PersonResult] | None = None
    frames_from: str | Path | None = None
    detect_seconds: float | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    out_dir: Path | None = None
    skipped: list[str] = field(default_factory=list)
    frame_stride: int = 1
    model_frame_stride: int = 1

    @property
    def frames(self) -> int:
        """Frames read."""
        if self.people is not None:
            return self.people.num_frames
        assert self.result is not None
        return self.result.num_frames

    def write(
        self, out_dir: str | Path, *, overwrite: bool = False, progress: bool = False
    ) -> dict[str, Path]:
        """Write every output file into ``out_dir`` (see the module docstring); the paths.

        With a mesh and ``options.render``, ``render.mp4`` shows the mesh beside the skeleton.
        A missing optional package (``render``, ``viewer_video``) is refused before the first
        file.
        """
        options = self.options
        viewer_video = options.viewer_video and self.frames_from is not None
        check_output_extras(render=options.render, viewer_video=viewer_video)
        rigid_animation = options.rigid is not False
        if self.people is not None:
            assert self.person_results is not None
            paths = write_people_outputs(
                self.person_results, self.people, out_dir, render=options.render,
                overwrite=overwrite, progress=progress, frame=options.frame,
                rigid_animation=rigid_animation,
            )  # fmt: skip
        else:
            assert self.result is not None
            paths = write_outputs(
                self.result, out_dir, render=options.render and self.mesh is None,
                frames_from=self.frames_from, overwrite=overwrite, progress=progress,
                viewer_video=options.viewer_video, frame=options.frame,
                rigid_animation=rigid_animation,
            )  # fmt: skip
            if self.mesh is not None:
                paths |= write_mesh_outputs(
                    self.result, self.mesh, out_dir, render=options.render,
                    frames_from=self.frames_from, overwrite=overwrite, progress=progress,
                )  # fmt: skip
        self.paths, self.out_dir = paths, Path(out_dir)
        stale = stale_outputs(out_dir, paths.values())
        if stale:
            logger.warning(
                "%s also holds output(s) of an earlier run that this one did not write: %s "
                "(left as they are; remove them, or use a new --out)",
                out_dir, ", ".join(str(p.relative_to(out_dir)) for p in stale),
            )  # fmt: skip
        return paths

    def report(self, *, camera_given: bool | None = None) -> list[str]:
        """The lines ``ssrstf infer`` prints about this run (the files: those of `write`).

        Args:
            camera_given: The camera was set (focal length or field of view), so the report
                does not point to the default; None: from ``options``.
        """
        if camera_given is None:
            camera_given = self.options.focal_length is not None or self.options.fov is not None
        if self.people is not None:
            assert self.person_results is not None
            fps = self.person_results[0].result.keypoints.fps if self.person_results else None
            return report.people_lines(
                self.people,
                self.person_results,
                self.paths,
                self.out_dir or Path("."),
                skipped=self.skipped,
                stride_line=self._stride_line(fps),
            )
        assert self.result is not None
        lines = [] if self.mesh is None else [report.mesh_line(self.mesh, self.result.poses_3d)]
        return lines + report.result_lines(
            self.result, self.paths, camera_given=camera_given,
            stride_line=self._stride_line(self.result.keypoints.fps),
        )  # fmt: skip

    def _stride_line(self, fps: float | None) -> str | None:
        return report.frame_stride_line(
            self.frame_stride, fps=fps, given=self.options.frame_stride is not None,
            model_stride=self.model_frame_stride,
        )  # fmt: skip


def stale_outputs(out_dir: str | Path, written: Iterable[Path]) -> list[Path]:
    """Files and ``person_k`` folders in ``out_dir`` under the names ssrstf writes that are not
    among ``written``: outputs of an earlier run with other options (``render.mp4`` after a
    rerun without ``--render``, ``mesh.glb`` without ``--mesh``, ``person_2/`` when fewer people
    were lifted, a single-person layout beside a multi-person one). Named, never removed: a
    file of that name may be the user's own."""
    out_dir = Path(out_dir)
    written = {Path(p) for p in written}
    names = [*OUTPUT_FILES.values(), *MESH_FILES.values(), PEOPLE_FILE]
    candidates = [out_dir / name for name in names if (out_dir / name).is_file()]
    candidates += sorted(
        p for p in out_dir.glob("person_*") if p.is_dir() and re.fullmatch(r"person_\d+", p.name)
    )
    return [
        p for p in candidates
        if p not in written and not any(p in w.parents for w in written)
    ]  # fmt: skip


class Pipeline:
    """Input and options in, a `PipelineRun` out (see the module docstring for the steps).

    Args:
        options: How inputs are read, lifted and written.
        mesh: Also recover a body mesh (extra ``mesh``); None: no mesh.
        lifter: The model, or a function that returns it (called once, at the first use);
            None: the `Lifter` of ``options`` (``checkpoint``, ``device``, ``flip``,
            ``overlap``, ``backend``) with ``num_threads``. Its own ``frame_stride`` is
            overridden per input (`frame_stride_for`), so one lifter serves every frame rate.
        recoverer: The mesh model, or a function that returns it (called at the first use);
            None: the `MeshRecoverer` of ``mesh`` on the lifter.
        num_threads: torch CPU threads of the lifter made here (0: leave torch's setting
            alone); None: ``options.threads``.
        progress: Show the detector's, the lifter's and the rendering's progress bars.
        quiet: Keep the detector's native log lines (MediaPipe, TFLite) off standard error.
    """

    def __init__(
        self,
        options: InferOptions | None = None,
        *,
        mesh: MeshOptions | None = None,
        lifter: Lifter | Callable[[], Lifter] | None = None,
        recoverer: MeshRecoverer | Callable[[], MeshRecoverer] | None = None,
        num_threads: int | None = None,
        progress: bool = False,
        quiet: bool = True,
    ) -> None:
        self.options = options or InferOptions()
        self.mesh_options = mesh
        self._lifter, self._recoverer = lifter, recoverer
        self.num_threads = self.options.threads if num_threads is None else num_threads
        self.progress, self.quiet = progress, quiet

    @property
    def lifter(self) -> Lifter:
        """The model, made (or fetched) at the first use."""
        if self._lifter is None:
            o = self.options
            self._lifter = Lifter(
                o.checkpoint, device=o.device, flip=o.flip, overlap=o.overlap,
                num_threads=self.num_threads, backend=o.backend,
            )  # fmt: skip
        elif callable(self._lifter):
            self._lifter = self._lifter()
        return self._lifter

    @property
    def recoverer(self) -> MeshRecoverer:
        """The mesh model, made (or fetched) at the first use.

        Raises:
            ConfigError: ``mesh.body_model`` is not the body model the head was trained on.
        """
        if self._recoverer is None:
            mesh = self.mesh_options or MeshOptions()
            recoverer = MeshRecoverer(
                mesh.checkpoint, lifter=self.lifter, device=self.options.device,
                overlap=self.options.overlap, body_model_path=mesh.body_model_path,
                allow_pickle=mesh.allow_pickle or None,  # None: `smpl_pickle_allowed`'s scope
            )  # fmt: skip
            trained = recoverer.cfg.mesh.body_model
            if mesh.body_model and mesh.body_model != trained:
                raise ConfigError(
                    f"--mesh-checkpoint {mesh.checkpoint} is a head for the {trained} body "
                    f"model; --body-model {mesh.body_model} needs a head trained on it "
                    "(mesh.body_model)"
                )
            self._recoverer = recoverer
        elif callable(self._recoverer) and not isinstance(self._recoverer, MeshRecoverer):
            self._recoverer = self._recoverer()
        return self._recoverer

    def frame_stride_for(self, fps: float | None) -> int:
        """The frame stride inputs of ``fps`` are lifted at: ``options.frame_stride`` when set,
        else `ssrstf.lifting.lifter.auto_frame_stride` for the lifter's model."""
        if self.options.frame_stride is not None:
            return self.options.frame_stride
        return auto_frame_stride(fps, self.lifter.cfg)

    def read(self, source: Source, *, seconds: dict[str, float] | None = None) -> Keypoints2D:
        """The 2D keypoints of ``source`` (one person per frame).

        Args:
            source: A video or keypoint file (read with ``options.fmt``, ``image_size``,
                ``skeleton``, ``fps``; see `ssrstf.keypoints.inputs.load_keypoints`); an array
                (F, J, 2|3) of pixels (and confidences) in the joint order ``options.skeleton``
                (default H36M-17; `ssrstf.keypoints.inputs.array_keypoints`; its frame rate
                ``options.fps``); or keypoints.
            seconds: For a video, gets ``detect``: the seconds inside the detector.
        """
        if isinstance(source, Keypoints2D):
            return source
        o = self.options
        if isinstance(source, str | Path):
            return load_keypoints(
                source, o.fmt, image_size=o.image_size, skeleton_name=o.skeleton, fps=o.fps,
                progress=self.progress, quiet=self.quiet, seconds=seconds,
            )  # fmt: skip
        array = np.asarray(source, dtype=np.float64)
        kp = array_keypoints(array, o.skeleton or "h36m", o.image_size)
        return kp if o.fps is None else dataclasses.replace(kp, fps=o.fps)

    def read_people(self, source: Source) -> People | None:
        """The tracked people of a keypoint file with several per frame, else None (videos,
        arrays and files with at most one person per frame)."""
        if not isinstance(source, str | Path):
            return None
        o = self.options
        return load_people(
            source, o.fmt, image_size=o.image_size, skeleton_name=o.skeleton, fps=o.fps,
            min_track_frames=o.min_track_frames,
        )  # fmt: skip

    def lift(self, kp: Keypoints2D, *, frames_from: str | Path | None = None) -> PipelineRun:
        """Lift one person's keypoints (any skeleton), place them in the scene and, with
        `MeshOptions`, recover their body mesh.

        Args:
            kp: The 2D keypoints.
            frames_from: The input video, for the rendering and ``viewer_video``.
        """
        o = self.options
        lifter = self.lifter
        recoverer = None if self.mesh_options is None else self.recoverer  # before any work
        stride = self.frame_stride_for(kp.fps)
        result = lift_keypoints(
            kp, lifter, progress=self.progress, focal_length=o.focal_length, fov=o.fov,
            rigid=o.rigid is True, frame_stride=stride,
        )  # fmt: skip
        mesh = None
        if recoverer is not None:  # its own windows, on consecutive frames, at any stride here
            assert self.mesh_options is not None
            mesh = recover_mesh(result, recoverer, fit_shape=self.mesh_options.fit_shape)
        return PipelineRun(o, result=result, mesh=mesh, frames_from=frames_from,
                           frame_stride=stride, model_frame_stride=lifter.frame_stride)  # fmt: skip

    def lift_people(self, people: People) -> PipelineRun:
        """Lift every tracked person that can be lifted (`lift_people`): the run's ``people``
        keeps only those, the others counted in ``dropped`` and their reasons in ``skipped``.
        """
        o = self.options
        skipped: dict[int, str] = {}
        # Every track is read from the same file: one frame rate, one stride.
        stride = self.frame_stride_for(people.tracks[0].keypoints.fps if people.tracks else None)
        results = lift_people(
            people, self.lifter, focal_length=o.focal_length, fov=o.fov, rigid=o.rigid is True,
            skipped=skipped, frame_stride=stride,
        )  # fmt: skip
        if skipped:
            people = dataclasses.replace(
                people, tracks=[t for k, t in enumerate(people.tracks) if k not in skipped],
                dropped=people.dropped + len(skipped),
            )  # fmt: skip
        return PipelineRun(o, people=people, person_results=results,
                           skipped=list(skipped.values()), frame_stride=stride,
                           model_frame_stride=self.lifter.frame_stride)  # fmt: skip

    def mesh_from_keypoints(self, kp: Keypoints2D) -> MeshSequence:
        """The body mesh of 2D keypoints alone (`ssrstf.lift_mesh`): the mesh head's poses
        from its backbone's own joints, no lifted skeleton."""
        h36m, _ = prepare_keypoints(kp)
        assert h36m.image_size is not None
        return self.recoverer.recover(h36m.keypoints, h36m.image_size)

    def infer(
        self,
        source: Source,
        out_dir: str | Path,
        *,
        overwrite: bool = False,
        before_writing: Callable[[], None] | None = None,
        after_writing: Callable[[PipelineRun], None] | None = None,
    ) -> PipelineRun:
        """Lift one input into ``out_dir`` (see the module docstring for the steps).

        Args:
            source: A video, keypoint file or OpenPose folder (or an array, or keypoints).
            out_dir: Its output folder (created).
            overwrite: Replace existing files.
            before_writing: Called once, holding the folder's lock, after lifting and before
                the first file is written (the batch marks the folder as started there).
            after_writing: Called with the run once, still holding the folder's lock, after
                the last file is written (the batch marks the folder as done there).

        Raises:
            ValueError, OSError, MissingExtraError, OutputLockedError: As ``ssrstf infer`` on
                this input (`ConfigError`, a ValueError, for a mesh of several people).
        """
        o = self.options
        check_output_folder(out_dir)
        _ = self.lifter  # the model and its options fail here, before any reading
        people = self.read_people(source)
        if people is not None:  # several people per frame in a keypoint file
            if self.mesh_options is not None:
                raise ConfigError("--mesh recovers one person; this keypoint file has several")
            check_people_outputs(out_dir, len(people.tracks), render=o.render,
                                 overwrite=overwrite)  # fmt: skip
            check_output_extras(render=o.render)
            run = self.lift_people(people)
            with output_lock(out_dir):
                if before_writing is not None:
                    before_writing()
                run.write(out_dir, overwrite=overwrite, progress=self.progress)
                if after_writing is not None:
                    after_writing(run)
            return run
        check_outputs(out_dir, render=o.render, overwrite=overwrite)
        frames_from = source if _is_video_input(source, o.fmt) else None
        check_output_extras(
            render=o.render, viewer_video=o.viewer_video and frames_from is not None
        )
        if self.mesh_options is not None:
            check_mesh_outputs(out_dir, render=o.render, overwrite=overwrite)
            _ = self.recoverer  # the mesh model too
        seconds: dict[str, float] = {}
        kp = self.read(source, seconds=seconds)
        with output_lock(out_dir):  # a second run into the same folder stops here
            check_outputs(out_dir, render=o.render, overwrite=overwrite)
            if self.mesh_options is not None:
                check_mesh_outputs(out_dir, render=o.render, overwrite=overwrite)
            run = self.lift(kp, frames_from=frames_from)
            run.detect_seconds = seconds.get("detect")
            if before_writing is not None:
                before_writing()
            run.write(out_dir, overwrite=overwrite, progress=self.progress)
            if after_writing is not None:
                after_writing(run)
        return run


def _is_video_input(source: Source, fmt: str) -> bool:
    if not isinstance(source, str | Path):
        return False
    return fmt == "video" or (fmt == "auto" and is_video(Path(source)))


def lift_keypoints(
    kp: Keypoints2D,
    lifter: Lifter,
    *,
    progress: bool = False,
    intrinsics: CameraIntrinsics | None = None,
    focal_length: float | None = None,
    fov: float | None = None,
    rigid: bool = False,
    frame_stride: int | None = None,
    prepared: tuple[Keypoints2D, np.ndarray] | None = None,
) -> InferenceResult:
    """Prepare ``kp`` (any skeleton), lift it with ``lifter`` and place it in the scene.

    Args:
        kp: The 2D keypoints.
        lifter: The loaded model.
        progress: Show the lifting progress bar.
        intrinsics: The camera; default from ``focal_length`` (pixels) or ``fov`` (degrees
            across the image's larger side), else `resolve_intrinsics`'s default.
        focal_length: See ``intrinsics``.
        fov: See ``intrinsics``.
        rigid: Rebuild the poses with one set of bone lengths (`make_rigid`).
        frame_stride: Run the model on every s-th frame (`Lifter.lift`); None: automatic,
            `ssrstf.lifting.lifter.auto_frame_stride` of ``kp.fps`` (2 for 100 fps with a
            model trained at 50 fps; the model's own stride when the fps is unknown).
        prepared: ``prepare_keypoints(kp)`` when the caller already has it.
    """
    h36m, filled = prepare_keypoints(kp) if prepared is None else prepared
    assert h36m.image_size is not None
    if intrinsics is None:
        intrinsics = resolve_intrinsics(h36m.image_size, focal_length=focal_length, fov=fov)
    if frame_stride is None:
        frame_stride = auto_frame_stride(h36m.fps, lifter.cfg)
    start = time.perf_counter()
    poses = lifter.lift(
        h36m.keypoints, h36m.image_size, progress=progress, frame_stride=frame_stride
    )
    lift_s = time.perf_counter() - start
    start = time.perf_counter()
    # From the poses as lifted: their per-frame proportions match the 2D better than a rigid
    # skeleton's (measured on Human3.6M, docs/design.md); make_rigid keeps the root in place.
    trajectory, floor, world = place_in_scene(poses, h36m, intrinsics)
    if rigid:
        poses = make_rigid(poses)
    return InferenceResult(
        poses_3d=poses,
        keypoints=h36m,
        filled=filled,
        seconds={"lift": lift_s, "scene": time.perf_counter() - start},
        trajectory=trajectory,
        floor=floor,
        world=world,
        intrinsics=intrinsics,
        statistics=motion_statistics(poses, trajectory=trajectory),
        rigid=rigid,
    )


def lift_people(
    people: People,
    lifter: Lifter,
    *,
    progress: bool = False,
    focal_length: float | None = None,
    fov: float | None = None,
    rigid: bool = False,
    skipped: dict[int, str] | None = None,
    frame_stride: int | None = None,
) -> list[PersonResult]:
    """Lift every track that can be lifted and place it in the scene (see `lift_keypoints`).

    Every person gets their own root trajectory, floor and world frame, all with the same
    camera (``focal_length`` or ``fov``, else the default field of view). A track whose
    keypoints cannot be prepared (`prepare_keypoints`: a joint without a stand-in never
    detected in it, as for a bystander seen from the waist up) is skipped with a logged
    warning that names it, its frames and why, and the others are lifted: the people lifted
    are numbered ``person_0``, ``person_1``, ... without it.

    Args:
        skipped: Gets the index in ``people.tracks`` and the reason of each track skipped.
        frame_stride: As in `lift_keypoints` (None: automatic, from each track's fps).

    Raises:
        ValueError: No track can be lifted (every track's reason in the message).
    """
    results: list[PersonResult] = []
    reasons: dict[int, str] = {}
    for k, track in enumerate(people.tracks):
        try:  # only the keypoints' own faults skip a person; the lifter's fail the input
            prepared = prepare_keypoints(track.keypoints)
        except ValueError as exc:
            reasons[k] = " ".join(str(exc).split())
            continue
        result = lift_keypoints(
            track.keypoints, lifter, progress=progress, focal_length=focal_length, fov=fov,
            rigid=rigid, frame_stride=frame_stride, prepared=prepared,
        )  # fmt: skip
        results.append(PersonResult(f"person_{len(results)}", track.start_frame, result))
    if not results:
        raise ValueError(
            f"{people.source}: no tracked person can be lifted: {'; '.join(reasons.values())}"
        )
    for reason in reasons.values():
        logger.warning("%s; this person is skipped (the people lifted are numbered without "
                       "them), the others are lifted", reason)  # fmt: skip
    if skipped is not None:
        skipped.update(reasons)
    return results


def recover_mesh(result, recoverer: MeshRecoverer, *, fit_shape: bool = True) -> MeshSequence:
    """The mesh of an `ssrstf.scene.result.InferenceResult` (its filled 2D keypoints),
    posed from its lifted skeleton (``poses_3d``), its body fitted to it (``fit_shape``)."""
    kp = result.keypoints
    assert kp.image_size is not None
    return recoverer.recover(
        kp.keypoints, kp.image_size, skeleton_mm=result.poses_3d, fit_shape=fit_shape
    )
