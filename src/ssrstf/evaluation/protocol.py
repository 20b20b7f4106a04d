"""The two published Human3.6M evaluation protocols, per-action tables and quick mode.

Both protocols score root-relative poses in millimetres with P1 (MPJPE) and P2 (P-MPJPE) from
`ssrstf.evaluation.metrics`, average per action and then take the unweighted mean over actions.
Each joint's errors are averaged the same way (`EvalResult.per_joint`), so the mean over joints
of the per-joint figures is the headline figure.
They differ in which frames count and in the ground truth (docs/evaluation.md has the evidence):

* ``videopose3d`` (VideoPose3D ``run.py``; P-STMO, STCFormer, MixSTE, ...): every frame of the
  S9 and S11 test streams, camera-frame 3D. Actions merge their variants by the text before the
  first space ("Walking 1" and "Walking" → "Walking"); within an action every frame weighs the
  same. S11 "Directions" is not evaluated: VideoPose3D's data preparation discards it as a
  corrupted video, so no published number of that lineage includes it.
* ``motionbert`` (MotionBERT / MotionAGFormer ``train.py::evaluate``): the frames of the
  non-overlapping T-frame test clips (the ``F mod T`` tail frames of every stream are never
  scored), the 2.5D ground truth (``joints_2.5d_image``, mm), three S9 sequences left out (by
  Human3.6M sequence id where a stream has one), errors of a frame that occurs in several clips
  averaged, frame-weighted within an action (the source's stored action label where it has one).
  Its ``gt_2d`` setting (predicted x, y replaced by the input ground-truth 2D) is the ``gt_2d``
  argument of `evaluate_model` and `evaluate_predictions`. Its results are labelled with T when
  T != 243 and with the data's origin (`ORIGIN_NOTES`).

Test streams that lack a model's 2D input are left out before scoring; `streams_without_input`
names them and `with_left_out` records them in a result.

Scoring takes either stored predictions (`evaluate_predictions`, any method's per-stream
``(F, 17, 3)`` mm arrays) or a model (`evaluate_model`, a callable from batches of 2D input clips
to 3D output clips). Streams come as `EvalStream` objects; ``ssrstf.data.dataset.stream_clips``
builds them from a prepared dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from ssrstf.config import H36M_TEST_SUBJECTS
from ssrstf.data.clips import stitch_clips, window_weights
from ssrstf.evaluation.metrics import joint_errors, mean_per_group, procrustes_joint_errors
from ssrstf.evaluation.results import EvalResult, per_joint_means
from ssrstf.files import open_npz
from ssrstf.geometry import to_root_relative
from ssrstf.skeleton import H36M_17, Skeleton

if TYPE_CHECKING:
    from ssrstf.data.h36m import Streams

logger = logging.getLogger(__name__)


def action_group(action: str) -> str:
    """The action a sequence is reported under: its name up to the first space.

    VideoPose3D ``run.py`` (``action.split(' ')[0]``): "Walking 1" and "Walking" both count as
    "Walking". MotionBERT's per-frame ``action`` labels already merge the sub-actions.
    """
    return action.split(" ")[0]


def report_group(stream: EvalStream) -> str:
    """The action a stream's frames are averaged under.

    The source's own per-frame label when it stores one (``Streams.action_label``: MotionBERT's
    ``evaluate`` groups by the pickle's ``action`` exactly, ``sorted(set(action))``), else the
    stream's name up to the first space (`action_group`).
    """
    return stream.action_label or action_group(stream.action)


ORIGIN_NOTES: dict[str, str] = {
    "convert-motionbert": (
        "data: convert-motionbert (MotionBERT's own 2.5D ground truth and 2.5d_factor)"
    ),
    "prepare-h36m": (
        "data: prepare-h36m (2.5D ground truth with λ = Z_root / f, an approximation of "
        "MotionBERT's 2.5d_factor)"
    ),
    "convert-videopose3d": (
        "data: convert-videopose3d (2.5D ground truth with λ = Z_root / f, an approximation of "
        "MotionBERT's 2.5d_factor)"
    ),
}
"""How a 2.5D-protocol result names the origin of its data (``Streams.origin`` → label text)."""


@dataclass(frozen=True)
class H36MProtocol:
    """A Human3.6M evaluation protocol.

    Attributes:
        name: ``"videopose3d"`` or ``"motionbert"``.
        test_subjects: Subjects whose streams are scored.
        skip_sequences: ``"subject/action"`` sequences left out (all their cameras), matched by
            name for streams without a sequence id (or all streams when there are no ids).
        skip_sequence_ids: The same as Human3.6M ids (``"s_09_act_05_subact_02"``): a stream
            that has an ``EvalStream.sequence_id`` (data converted from MotionBERT's pickle) is
            matched by id only, as MotionBERT's ``block_list`` does (``source[:-6]``).
        extra_skips: ``"subject/action"`` sequences added by `with_skips`, matched by name for
            every stream.
        cover_all_frames: Score every frame (True) or only the frames of the non-overlapping
            T-frame clips, dropping each stream's tail (False).
        ground_truth: ``"camera"`` (camera-frame mm) or ``"image_2.5d"`` (2.5D-scaled mm).
        description: One line for tables.
        published_clip_len: The clip length of the published figures (MotionBERT: 243); a
            result with another T says so in its label. 0: any T.
        model_root: What `evaluate_model` does with a model's root output: ``"zero"`` sets it
            to 0 and keeps the other joints as predicted (MotionBERT ``evaluate`` for
            root-relative models: ``predicted_3d_pos[:, :, 0, :] = 0``); ``"subtract"``
            subtracts it from every joint.
    """

    name: str
    test_subjects: tuple[str, ...]
    skip_sequences: tuple[str, ...] = ()
    skip_sequence_ids: tuple[str, ...] = ()
    cover_all_frames: bool = True
    ground_truth: Literal["camera", "image_2.5d"] = "camera"
    description: str = ""
    extra_skips: tuple[str, ...] = ()
    published_clip_len: int = 0
    model_root: Literal["subtract", "zero"] = "subtract"

    def with_skips(self, sequences: Iterable[str]) -> H36MProtocol:
        """This protocol with extra ``"subject/action"`` sequences left out (labelled as such)."""
        known = self.skip_sequences + self.extra_skips
        extra = tuple(dict.fromkeys(s for s in sequences if s not in known))
        if not extra:
            return self
        return replace(
            self,
            name=f"{self.name}+skip",
            extra_skips=self.extra_skips + extra,
            description=f"{self.description}; also skipped: {', '.join(extra)}",
        )

    def is_skipped(self, stream: EvalStream) -> bool:
        """Whether a stream belongs to a left-out sequence.

        By sequence id when the stream has one and the protocol lists ids (a name can belong
        to another sequence: MotionBERT's "SittingDown 1" is subaction 1, not the blocked
        ``s_09_act_10_subact_02``), otherwise by ``"subject/action"``; `with_skips` names
        always by name.
        """
        return self.skips(stream.subject, stream.action, stream.sequence_id)

    def skips(self, subject: str, action: str, sequence_id: str = "") -> bool:
        """`is_skipped` for a stream given by its subject, action and sequence id."""
        sequence = f"{subject}/{action}"
        if sequence in self.extra_skips:
            return True
        if sequence_id and self.skip_sequence_ids:
            return sequence_id in self.skip_sequence_ids
        return sequence in self.skip_sequences

    def caveats(self, clip_len: int, origins: Iterable[str], *, gt_2d: bool) -> tuple[str, ...]:
        """What a result label must say besides the protocol name (2.5D protocol only).

        A clip length other than the published one, where the data came from (its 2.5D ground
        truth is MotionBERT's own only for ``convert-motionbert``), and the GT-2D setting.
        """
        if self.ground_truth != "image_2.5d":
            return ()
        out = []
        if self.published_clip_len and clip_len != self.published_clip_len:
            out.append(f"not the published T={self.published_clip_len}")
        for origin in sorted(set(origins)):
            out.append(ORIGIN_NOTES.get(origin, f"data: {origin or 'origin unknown'}"))
        if gt_2d:
            out.append("GT-2D: predicted x, y replaced by the input ground-truth 2D")
        return tuple(out)


VIDEOPOSE3D = H36MProtocol(
    name="videopose3d",
    test_subjects=H36M_TEST_SUBJECTS,
    # VideoPose3D data/prepare_data_h36m.py: "Discard corrupted video" for S11 "Directions"
    # (one of its four videos is broken), so the lineage never scores this sequence.
    skip_sequences=("S11/Directions",),
    cover_all_frames=True,
    ground_truth="camera",
    description="VideoPose3D: every frame of S9/S11, camera-frame 3D, root-relative mm",
)
"""The VideoPose3D-lineage protocol (P-STMO, STCFormer, MixSTE, PoseFormerV2, KTPFormer)."""

MOTIONBERT = H36MProtocol(
    name="motionbert",
    test_subjects=H36M_TEST_SUBJECTS,
    # MotionBERT train.py `block_list`: these S9 sequences have ground truth misaligned with the
    # video (the Stacked-Hourglass detections of exactly these three are 30-52 px off on every
    # camera; MHFormer issue #92 names the same three). Names: Martinez-style and H36M ids.
    # The ids are MotionBERT's; the names are the same sequences in the Martinez-style naming
    # of prepare-h36m, used for streams without an id only (in MotionBERT's own naming
    # "SittingDown 1" is s_09_act_10_subact_01, which MotionBERT keeps).
    skip_sequences=("S9/Greeting", "S9/SittingDown 1", "S9/Waiting 1"),
    skip_sequence_ids=("s_09_act_05_subact_02", "s_09_act_10_subact_02", "s_09_act_13_subact_01"),
    cover_all_frames=False,
    ground_truth="image_2.5d",
    description="MotionBERT: non-overlapping T-frame clips, 3 S9 sequences skipped, 2.5D mm",
    published_clip_len=243,
    model_root="zero",
)
"""The MotionBERT-lineage protocol (MotionBERT, MotionAGFormer; SSR-STF's 37.4 mm)."""

PROTOCOLS: dict[str, H36MProtocol] = {p.name: p for p in (VIDEOPOSE3D, MOTIONBERT)}
"""The published protocols by name (``EvalConfig.protocol``)."""


class EvalStream(Protocol):
    """What the protocol reads of a test stream (``ssrstf.data.dataset.StreamClips``).

    ``ground_truth`` is (F, J, 3) mm in the protocol's ground-truth space (absolute; made
    root-relative here); ``clips`` are (K, T) frame indices. ``inputs`` (F, J, C) and
    ``output_scale`` (F,) (model output units → mm) are needed by `evaluate_model` and by the
    ``gt_2d`` setting only. ``action_label`` (`report_group`) and ``origin`` (result labels) may
    be ``""``. ``windows`` (K', T) are the overlapping windows of `evaluate_model`'s ``overlap``
    (None otherwise).
    """

    key: str
    subject: str
    action: str
    sequence_id: str
    ground_truth: np.ndarray
    clips: np.ndarray
    inputs: np.ndarray | None
    output_scale: np.ndarray | None
    action_label: str
    origin: str
    windows: np.ndarray | None


Predictor = Callable[[np.ndarray], np.ndarray]
"""Model hook: a batch of input clips (B, T, J, C) → output clips (B, T, J, 3) in model units
(multiplied by the stream's ``output_scale`` to get mm). Flip TTA, devices and batching of the
model belong inside it."""


def select_streams(
    protocol: H36MProtocol, streams: Iterable[EvalStream]
) -> tuple[list[EvalStream], list[str]]:
    """The streams a protocol scores (test subjects, not skipped), sorted by key.

    Returns:
        ``(scored streams, keys of skipped streams)``.

    Raises:
        ValueError: If a scored stream's clips do not follow the protocol (`check_clips`).
    """
    tested = [s for s in streams if s.subject in protocol.test_subjects]
    kept = sorted((s for s in tested if not protocol.is_skipped(s)), key=lambda s: s.key)
    skipped = sorted(s.key for s in tested if protocol.is_skipped(s))
    for stream in kept:
        check_clips(protocol, stream)
    return kept, skipped


def streams_without_input(
    protocol: H36MProtocol, streams: Streams, source: str
) -> tuple[list[dict[str, object]], list[str]]:
    """The protocol's test streams that lack the 2D source ``source`` (a model's input).

    ``stream_clips(..., input_source=source)`` (``streams_with_source``) leaves such streams out
    before any protocol sees them: the Stacked-Hourglass release lacks S11 "Directions" camera
    54138969, so with ``sh`` input the motionbert protocol, which scores that sequence, misses
    one of its streams. This names them, for `with_left_out`.

    Returns:
        ``(left_out, skipped)``, both sorted by key: a record per stream the protocol would
        otherwise score (``stream``, ``subject``, ``action``, ``camera``, ``reason`` and
        ``frames``, the stream's length: the protocol scores at most these) and the keys of
        those its skip list leaves out anyway (videopose3d: S11 "Directions").
        Empty when the dataset does not store ``source`` at all (``stream_clips`` refuses it).
    """
    if source not in streams.has_2d:
        return [], []
    left_out, skipped = [], []
    for i in np.flatnonzero(~np.asarray(streams.has_2d[source], dtype=bool)):
        subject, action = str(streams.subject[i]), str(streams.action[i])
        if subject not in protocol.test_subjects:
            continue
        key = streams.keys[i]
        if protocol.skips(subject, action, str(streams.sequence_id[i])):
            skipped.append(key)
            continue
        left_out.append({
            "stream": key, "subject": subject, "action": action,
            "camera": str(streams.camera[i]), "frames": int(streams.lengths[i]),
            "reason": f"no {source} 2D in the dataset",
        })  # fmt: skip
    return sorted(left_out, key=lambda r: str(r["stream"])), sorted(skipped)


def with_left_out(
    result: EvalResult,
    source: str,
    left_out: Sequence[Mapping[str, object]],
    skipped: Iterable[str] = (),
) -> EvalResult:
    """``result`` with the test streams that lacked its 2D input made explicit
    (`streams_without_input`); its figures are unchanged.

    Streams the protocol skips anyway join ``result.skipped`` (as they do with a complete
    input); the others, not scored, add a caveat to the label (see `describe_left_out`).
    """
    caveats = result.caveats
    if left_out:
        frames = sum(int(r["frames"]) for r in left_out)
        caveats += (f"{len(left_out)} test stream(s) ({frames} frames) without {source} 2D "
                    "not scored",)  # fmt: skip
    return replace(
        result,
        skipped=tuple(sorted({*result.skipped, *skipped})),
        caveats=caveats,
        left_out=tuple(dict(r) for r in left_out),
    )


def describe_left_out(left_out: Sequence[Mapping[str, object]]) -> str:
    """One line: which test streams were not scored, their frames and why."""
    frames = sum(int(r["frames"]) for r in left_out)
    reasons = "; ".join(sorted({str(r["reason"]) for r in left_out}))
    shown = ", ".join(str(r["stream"]) for r in left_out[:5])
    more = " ..." if len(left_out) > 5 else ""
    return f"{len(left_out)} test stream(s), {frames} frames, not scored ({reasons}): {shown}{more}"


def check_clips(protocol: H36MProtocol, stream: EvalStream) -> None:
    """Check that a stream's clips select the frames the protocol scores.

    ``cover_all_frames``: every frame is in some clip. Otherwise: non-overlapping clips starting
    at frame 0 without the tail, or one resampled clip for a stream shorter than T.

    Raises:
        ValueError: Naming the stream and the protocol.
    """
    num_frames = len(stream.ground_truth)
    if num_frames == 0:
        raise ValueError(f"stream {stream.key!r} has no frames: nothing to score")
    num_clips, clip_len = stream.clips.shape
    covered = np.unique(stream.clips)
    if protocol.cover_all_frames:
        ok = covered.size == num_frames and covered[0] == 0 and covered[-1] == num_frames - 1
    elif num_frames < clip_len:
        ok = num_clips == 1
    else:
        full = (num_frames // clip_len) * clip_len
        ok = covered.size == num_clips * clip_len == full and covered[-1] == full - 1
    if not ok:
        rule = "cover every frame" if protocol.cover_all_frames else "be non-overlapping, no tail"
        raise ValueError(
            f"stream {stream.key!r}: its {num_clips} clips of {clip_len} frames over "
            f"{num_frames} frames do not follow the {protocol.name} protocol (clips must {rule})"
        )


def _selected_clips(streams: Sequence[EvalStream], every: int) -> list[np.ndarray]:
    """Per stream, the clips kept in quick mode: every ``every``-th clip over all streams."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    out, counter = [], 0
    for stream in streams:
        index = np.arange(counter, counter + len(stream.clips))
        out.append(stream.clips[index % every == 0])
        counter += len(stream.clips)
    return out


def _frame_errors(
    pred_mm: np.ndarray, gt_mm: np.ndarray, root: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint P1 and P2 errors of root-relative poses, (..., J) float64 each (their means
    over joints are the frame's MPJPE and P-MPJPE)."""
    pred_rel = to_root_relative(np.asarray(pred_mm, dtype=np.float64), root)
    gt_rel = to_root_relative(np.asarray(gt_mm, dtype=np.float64), root)
    return joint_errors(pred_rel, gt_rel), procrustes_joint_errors(pred_rel, gt_rel)


def _aggregate(
    protocol: H36MProtocol,
    streams: Sequence[EvalStream],
    p1: list[np.ndarray],
    p2: list[np.ndarray],
    *,
    every: int,
    skipped: list[str],
    gt_2d: bool,
    joint_names: Sequence[str],
    overlap: int = 0,
) -> EvalResult:
    """Per-action frame-weighted means, then the unweighted mean over actions; ``p1``, ``p2``
    hold per-joint errors (F, J) per stream."""
    groups = [report_group(s) for s, e in zip(streams, p1, strict=True) for _ in range(len(e))]
    if not groups:
        raise ValueError("no frames to evaluate (no test streams or no clips selected)")
    p1_all, p2_all = np.concatenate(p1), np.concatenate(p2)
    p1_action = mean_per_group(p1_all.mean(axis=-1), groups)
    p2_action = mean_per_group(p2_all.mean(axis=-1), groups)
    counts = {g: 0 for g in p1_action}
    for g in groups:
        counts[g] += 1
    clip_len = _clip_len(streams)
    origins = sorted({s.origin for s in streams})
    per_action = {
        g: {"p1_mm": p1_action[g], "p2_mm": p2_action[g], "frames": counts[g]}
        for g in sorted(p1_action)
    }
    return EvalResult(
        protocol=protocol.name,
        p1_mm=float(np.mean([v["p1_mm"] for v in per_action.values()])),
        p2_mm=float(np.mean([v["p2_mm"] for v in per_action.values()])),
        per_action=per_action,
        frames=len(groups),
        streams=sum(1 for e in p1 if len(e)),
        clip_len=clip_len,
        every=every,
        skipped=tuple(skipped),
        gt_2d=gt_2d,
        data_origin=", ".join(o for o in origins if o),
        overlap=overlap,
        caveats=protocol.caveats(clip_len, origins, gt_2d=gt_2d)
        + ((f"windows overlapping by {overlap} frames, stitched",) if overlap else ()),
        per_joint=per_joint_means(p1_all, p2_all, groups, joint_names),
    )


def _check_gt_2d(protocol: H36MProtocol, streams: Sequence[EvalStream]) -> None:
    """MotionBERT's ``gt_2d`` needs the 2.5D protocol and every stream's 2D inputs."""
    if protocol.ground_truth != "image_2.5d":
        raise ValueError(
            f"gt_2d (MotionBERT's setting) applies to the 2.5D protocol (motionbert), "
            f"not {protocol.name}"
        )
    for stream in streams:
        if stream.inputs is None or stream.output_scale is None:
            raise ValueError(
                f"gt_2d needs the 2D inputs of stream {stream.key!r} (stream_clips with "
                "input_source='gt', target_space='image_2.5d')"
            )


def _clip_len(streams: Sequence[EvalStream]) -> int:
    lengths = {int(s.clips.shape[1]) for s in streams if len(s.clips)}
    if len(lengths) > 1:
        raise ValueError(f"streams have different clip lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def evaluate_predictions(
    protocol: H36MProtocol,
    streams: Iterable[EvalStream],
    predictions: Mapping[str, np.ndarray],
    *,
    every: int = 1,
    gt_2d: bool = False,
    skeleton: Skeleton = H36M_17,
) -> EvalResult:
    """Score stored predictions with a protocol.

    Args:
        protocol: The protocol.
        streams: Test streams with ground truth and clips.
        predictions: Stream key → (F, J, 3) predictions in mm in the protocol's ground-truth
            frame (made root-relative here). Keys of streams that are not scored are ignored
            with a warning.
        every: Quick mode: score only every ``every``-th test clip.
        gt_2d: MotionBERT's ``gt_2d`` setting (2.5D protocol only): the predicted x, y are
            replaced by the streams' input 2D in mm (``inputs[..., :2] · output_scale``; build
            the streams with the ``gt`` source and the ``image_2.5d`` target space).
        skeleton: Supplies the root joint.

    Raises:
        ValueError: If a scored stream is missing from ``predictions`` (the message names it),
            has the wrong shape or non-finite values; with ``gt_2d``, if the protocol is not
            the 2.5D one or a stream has no inputs.
    """
    scored, skipped = select_streams(protocol, streams)
    if gt_2d:
        _check_gt_2d(protocol, scored)
    wanted = {s.key for s in scored}
    _warn_extra(set(predictions) - wanted - set(skipped))
    missing = [s.key for s in scored if s.key not in predictions]
    if missing:
        shown = ", ".join(repr(k) for k in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"predictions lack {len(missing)} test stream(s): {shown}")
    p1, p2 = [], []
    for stream, clips in zip(scored, _selected_clips(scored, every), strict=True):
        pred = np.asarray(predictions[stream.key])
        if pred.shape != stream.ground_truth.shape:
            raise ValueError(
                f"predictions[{stream.key!r}] has shape {pred.shape}, "
                f"expected {stream.ground_truth.shape} (frames, joints, 3)"
            )
        if not np.isfinite(pred).all():
            raise ValueError(f"predictions[{stream.key!r}] has NaN or infinite values")
        if gt_2d:
            pred = np.array(pred, dtype=np.float64)
            pred[..., :2] = stream.inputs[..., :2] * stream.output_scale[:, None, None]
        # A stream's predictions are fixed per frame, so frames shared by clips score once.
        frames = np.unique(clips)
        e1, e2 = _frame_errors(pred[frames], stream.ground_truth[frames], skeleton.root)
        p1.append(e1)
        p2.append(e2)
    return _aggregate(
        protocol, scored, p1, p2, every=every, skipped=skipped, gt_2d=gt_2d,
        joint_names=skeleton.joint_names,
    )  # fmt: skip


def evaluate_model(
    protocol: H36MProtocol,
    streams: Iterable[EvalStream],
    predict: Predictor,
    *,
    every: int = 1,
    batch_size: int = 32,
    gt_2d: bool = False,
    skeleton: Skeleton = H36M_17,
    overlap: int = 0,
) -> EvalResult:
    """Score a model with a protocol: run it on every scored clip.

    Each clip's output is multiplied by the stream's ``output_scale`` (→ mm), its root joint
    handled as ``protocol.model_root`` says; the per-frame errors of a frame that occurs in
    several clips are averaged (MotionBERT's occurrence count). With ``gt_2d`` (MotionBERT's
    setting, 2.5D protocol only) the output x, y are replaced by the input x, y first, as
    MotionBERT's ``evaluate`` does; the inputs should then be the ground-truth 2D (``gt``
    source), which the caller chooses.

    With ``overlap`` > 0 (protocols that score every frame) the model runs on each stream's
    ``windows``, overlapping by that many frames (``stream_clips(..., overlap=)``), and the
    frames of the protocol's clips are scored once on the *predictions* stitched as ``ssrstf
    infer`` stitches them (triangular cross-fade, `window_weights`). The scored frames are those
    of any overlap, in quick mode too (the frames of every ``every``-th clip, each stitched from
    all the windows that contain it), so figures at different overlaps compare frame for frame.

    Args:
        protocol: The protocol.
        streams: Test streams with ``inputs`` and ``output_scale``.
        predict: (B, T, J, C) inputs → (B, T, J, 3) outputs (`Predictor`).
        every: Quick mode: score only every ``every``-th test clip.
        batch_size: Clips per ``predict`` call.
        gt_2d: Replace the predicted x, y by the input x, y.
        skeleton: Supplies the root joint.
        overlap: Frames shared by consecutive clips, whose predictions are stitched (0: none).
    """
    if overlap and not protocol.cover_all_frames:
        raise ValueError(
            f"overlapping windows apply to protocols that score every frame (videopose3d), "
            f"not {protocol.name}, whose clips are fixed"
        )
    scored, skipped = select_streams(protocol, streams)
    if gt_2d:
        _check_gt_2d(protocol, scored)
    p1, p2 = [], []
    for stream, clips in zip(scored, _selected_clips(scored, every), strict=True):
        if stream.inputs is None or stream.output_scale is None:
            raise ValueError(f"stream {stream.key!r} has no model inputs")
        num_frames = len(stream.ground_truth)
        if overlap and len(clips):
            frames = np.unique(clips)  # scored; run every window that holds one of them
            if stream.windows is None or not np.isin(frames, stream.windows).all():
                raise ValueError(f"stream {stream.key!r}: no overlapping windows cover its frames")
            windows = stream.windows[np.isin(stream.windows, frames).any(axis=1)]
            out = _predict_mm(protocol, stream, windows, predict, batch_size, gt_2d, skeleton)
            weights = window_weights(windows.shape[1])  # ssrstf infer's cross-fade
            stitched = stitch_clips(out, windows, num_frames, weights=weights)[frames]
            e1, e2 = _frame_errors(stitched, stream.ground_truth[frames], skeleton.root)
            p1.append(e1)
            p2.append(e2)
            continue
        num_joints = stream.ground_truth.shape[1]
        sums = np.zeros((2, num_frames, num_joints))
        counts = np.zeros(num_frames)
        for start in range(0, len(clips), batch_size):
            batch = clips[start : start + batch_size]
            out = _predict_mm(protocol, stream, batch, predict, batch_size, gt_2d, skeleton)
            e1, e2 = _frame_errors(out, stream.ground_truth[batch], skeleton.root)
            np.add.at(sums[0], batch.reshape(-1), e1.reshape(-1, num_joints))
            np.add.at(sums[1], batch.reshape(-1), e2.reshape(-1, num_joints))
            np.add.at(counts, batch.reshape(-1), 1.0)
        seen = counts > 0
        p1.append(sums[0, seen] / counts[seen, None])
        p2.append(sums[1, seen] / counts[seen, None])
    return _aggregate(
        protocol, scored, p1, p2, every=every, skipped=skipped, gt_2d=gt_2d,
        joint_names=skeleton.joint_names, overlap=overlap,
    )  # fmt: skip


def _predict_mm(
    protocol: H36MProtocol,
    stream: EvalStream,
    clips: np.ndarray,
    predict: Predictor,
    batch_size: int,
    gt_2d: bool,
    skeleton: Skeleton,
) -> np.ndarray:
    """The model's output for clips (K, T) of one stream, in mm, (K, T, J, 3) float64."""
    outs = []
    for start in range(0, len(clips), batch_size):
        batch = clips[start : start + batch_size]
        out = np.asarray(predict(stream.inputs[batch]), dtype=np.float64)
        if out.shape != (*batch.shape, stream.ground_truth.shape[1], 3):
            raise ValueError(f"predict returned {out.shape} for inputs {batch.shape}")
        if protocol.model_root == "zero":
            out[..., skeleton.root, :] = 0.0
        if gt_2d:
            out[..., :2] = stream.inputs[batch][..., :2]
        outs.append(out * stream.output_scale[batch][..., None, None])
    return np.concatenate(outs)


def _warn_extra(extra: set[str]) -> None:
    if extra:
        shown = ", ".join(repr(k) for k in sorted(extra)[:5]) + (" ..." if len(extra) > 5 else "")
        logger.warning(
            "ignoring %d prediction stream(s) that are not scored test streams of the dataset: %s",
            len(extra),
            shown,
        )


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """Read a predictions ``.npz``: key ``"S9/Walking 1/54138969"`` → (F, 17, 3) mm.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If an entry is not a (F, J, 3) numeric array.
    """
    out = {}
    with open_npz(path, "predictions file") as data:
        for key in data.files:
            array = data[key]
            if array.ndim != 3 or array.shape[-1] != 3 or not np.issubdtype(array.dtype, np.number):
                raise ValueError(f"{path}[{key!r}] must be a (frames, joints, 3) array in mm")
            if not np.isfinite(array).all():
                raise ValueError(f"{path}[{key!r}] has NaN or infinite values")
            out[key] = array
    return out
