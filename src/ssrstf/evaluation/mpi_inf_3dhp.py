"""The MPI-INF-3DHP test protocol: MPJPE, PCK and AUC as the official MATLAB scripts compute them.

The official evaluation (``mpii_test_predictions_py.m`` → ``mpii_evaluate_errors.m`` →
``mpii_compute_3d_pck.m``, redistributed with P-STMO and PoseFormerV2) does, per test sequence
TS1..TS6:

* keep the frames with ``valid_frame == 1``;
* ground truth = ``univ_annot3`` minus its pelvis (MPI joint 14), in mm;
* per-joint Euclidean errors of the 17 joints against the prediction;
* MPJPE = mean error over the 17 joints and the valid frames;
* PCK = 100 · share of (frame, joint) pairs of the 14 PCK joints (head top, neck, shoulders,
  elbows, wrists, hips, knees, ankles; `ssrstf.skeleton.PCK_JOINTS_MPI`) with error **< 150 mm**
  (strict: exactly 150 mm is a miss);
* AUC = 100 · mean over the thresholds 0, 5, ..., 150 mm of that share (31 thresholds; the 0 mm
  term is always 0, so a perfect prediction scores 100 · 30 / 31).

Scene scores (green screen TS1-2, no green screen TS3-4, outdoor TS5-6) and the overall score are
frame-weighted means of the sequence scores (the official README's formula), which equal the
pooled frame means computed here. The prediction is made root-relative too (its own pelvis
subtracted); for the root-relative predictions every code base writes into its
``inference_data.mat`` this is exactly the official number.

Predictions come per test sequence (``"TS1"`` → (F, 17, 3) mm over *all* frames of the
sequence, `ssrstf.skeleton.MPI_INF_3DHP_17` order). Streams are read as the ``EvalStream`` duck
type of `ssrstf.evaluation.protocol` plus ``valid`` (``ssrstf.data.dataset.StreamClips``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ssrstf.evaluation.metrics import (
    AUC_THRESHOLDS_MM,
    PCK_THRESHOLD_MM,
    auc,
    joint_errors,
    mean_per_group,
    pck,
)
from ssrstf.evaluation.protocol import EvalStream, Predictor
from ssrstf.evaluation.results import ScoredResult
from ssrstf.evaluation.tables import Column, Table
from ssrstf.files import open_npz
from ssrstf.geometry import to_root_relative
from ssrstf.skeleton import (
    H36M_COMPARABLE_JOINTS_MPI,
    MPI_INF_3DHP_17,
    MPI_INF_3DHP_TEST_SCENES,
    PCK_JOINTS_MPI,
)


@dataclass(frozen=True)
class MPIInf3DHPProtocol:
    """The MPI-INF-3DHP evaluation rules (defaults: the official ones).

    Attributes:
        name: ``"mpi_inf_3dhp"``, or ``"mpi_inf_3dhp_cross"`` for the H36M-model variant.
        scenes: Scene name → its test sequences.
        pck_joints: Joints of PCK and AUC (`ssrstf.skeleton.PCK_JOINTS_MPI`).
        mpjpe_joints: Joints averaged by MPJPE; all 17 when empty.
        pck_threshold_mm: PCK threshold (strict ``<``).
        auc_thresholds_mm: AUC thresholds.
        description: One line for tables.
    """

    name: str = "mpi_inf_3dhp"
    scenes: tuple[tuple[str, tuple[str, ...]], ...] = tuple(MPI_INF_3DHP_TEST_SCENES.items())
    pck_joints: tuple[int, ...] = PCK_JOINTS_MPI
    mpjpe_joints: tuple[int, ...] = ()
    pck_threshold_mm: float = PCK_THRESHOLD_MM
    auc_thresholds_mm: tuple[float, ...] = AUC_THRESHOLDS_MM
    description: str = "MPI-INF-3DHP: TS1-TS6 valid frames, univ_annot3, root-relative mm"

    # Attributes read by the shared scoring code (`ssrstf.training.scoring`), named as in
    # `ssrstf.evaluation.protocol.H36MProtocol`.
    ground_truth: str = "camera"
    cover_all_frames: bool = True

    @property
    def test_subjects(self) -> tuple[str, ...]:
        """The test sequences TS1..TS6 (the ``subject`` of the test streams)."""
        return tuple(s for _, seqs in self.scenes for s in seqs)

    @property
    def scene_of(self) -> dict[str, str]:
        """Test sequence → scene name."""
        return {s: scene for scene, seqs in self.scenes for s in seqs}


MPI_INF_3DHP = MPIInf3DHPProtocol()
"""The official protocol."""

MPI_INF_3DHP_CROSS = replace(
    MPI_INF_3DHP,
    name="mpi_inf_3dhp_cross",
    pck_joints=tuple(j for j in PCK_JOINTS_MPI if j in H36M_COMPARABLE_JOINTS_MPI),
    mpjpe_joints=H36M_COMPARABLE_JOINTS_MPI,
    description="MPI-INF-3DHP with a Human3.6M-skeleton model: the comparable joints only "
    "(no head top): MPJPE over 16 joints, PCK/AUC over 13",
)
"""For Human3.6M-skeleton models: only `ssrstf.skeleton.H36M_COMPARABLE_JOINTS_MPI` are scored
(MPJPE over those 16, PCK/AUC over the 13 PCK joints among them)."""


@dataclass(frozen=True)
class MPIInf3DHPResult(ScoredResult):
    """Scores of one MPI-INF-3DHP evaluation; PCK and AUC in percent, errors in mm.

    Attributes:
        protocol: Protocol name.
        mpjpe_mm: Frame-weighted MPJPE over every scored frame.
        pck: Frame-weighted PCK (percent).
        auc: Frame-weighted AUC (percent).
        per_sequence: ``"TS1"`` → ``{"mpjpe_mm", "pck", "auc", "frames"}``.
        per_scene: ``"GS"``/``"noGS"``/``"Outdoor"`` → the same keys (sequences present only).
        frames: Scored frames.
        every: Quick mode: only the valid frames of every ``every``-th test clip (1 = full).
        clip_len: Test clip length T of a model run (0 for stored predictions).
    """

    protocol: str
    mpjpe_mm: float
    pck: float
    auc: float
    per_sequence: dict[str, dict[str, float]]
    per_scene: dict[str, dict[str, float]]
    frames: int
    every: int = 1
    clip_len: int = 0
    description: str = field(default="", repr=False)

    @property
    def p1_mm(self) -> float:
        """MPJPE (the figure training selects its best checkpoint by)."""
        return self.mpjpe_mm

    def title(self) -> str:
        """Protocol name."""
        return f"MPI-INF-3DHP {self.protocol} protocol"

    def metrics(self) -> dict[str, float]:
        """The headline figures, for training logs."""
        return {"mpjpe_mm": self.mpjpe_mm, "pck": self.pck, "auc": self.auc}

    def table(self) -> Table:
        """Per sequence, per scene and all: MPJPE, PCK, AUC, frames (`ssrstf.evaluation.tables`)."""
        rows = [
            (name, v["mpjpe_mm"], v["pck"], v["auc"], v["frames"])
            for table in (self.per_sequence, self.per_scene)
            for name, v in table.items()
        ]
        return Table(
            label=self.label,
            columns=(
                Column("sequence", "sequence", 10),
                Column("MPJPE (mm)", "mpjpe_mm", 12),
                Column("PCK (%)", "pck", 10),
                Column("AUC (%)", "auc", 10),
                Column("frames", "frames", 9, decimals=0),
            ),
            rows=(*rows, ("All", self.mpjpe_mm, self.pck, self.auc, self.frames)),
        )


def _frame_scores(
    protocol: MPIInf3DHPProtocol, pred_mm: np.ndarray, gt_mm: np.ndarray
) -> np.ndarray:
    """Per-frame (MPJPE mm, PCK fraction, AUC fraction), (F, 3) float64."""
    root = MPI_INF_3DHP_17.root
    pred = to_root_relative(np.asarray(pred_mm, dtype=np.float64), root)
    gt = to_root_relative(np.asarray(gt_mm, dtype=np.float64), root)
    errors = joint_errors(pred, gt)
    mpjpe_joints = list(protocol.mpjpe_joints) or slice(None)
    return np.stack(
        [
            errors[:, mpjpe_joints].mean(axis=-1),
            pck(pred, gt, threshold=protocol.pck_threshold_mm, joints=protocol.pck_joints),
            auc(pred, gt, thresholds=protocol.auc_thresholds_mm, joints=protocol.pck_joints),
        ],
        axis=-1,
    )


def _aggregate(
    protocol: MPIInf3DHPProtocol,
    names: list[str],
    scores: list[np.ndarray],
    *,
    every: int,
    clip_len: int,
) -> MPIInf3DHPResult:
    """Frame-weighted means per sequence, per scene and overall (PCK, AUC × 100)."""
    labels = [n for n, s in zip(names, scores, strict=True) for _ in range(len(s))]
    if not labels:
        raise ValueError("no valid frames to evaluate")
    frames = np.concatenate(scores)
    scene_of = protocol.scene_of

    def table(groups: list[str]) -> dict[str, dict[str, float]]:
        means = [mean_per_group(frames[:, k], groups) for k in range(3)]
        counts = {g: groups.count(g) for g in means[0]}
        return {
            g: {
                "mpjpe_mm": means[0][g],
                "pck": 100.0 * means[1][g],
                "auc": 100.0 * means[2][g],
                "frames": counts[g],
            }
            for g in means[0]
        }

    overall = frames.mean(axis=0)
    return MPIInf3DHPResult(
        protocol=protocol.name,
        mpjpe_mm=float(overall[0]),
        pck=float(100.0 * overall[1]),
        auc=float(100.0 * overall[2]),
        per_sequence=table(labels),
        per_scene=table([scene_of[n] for n in labels]),
        frames=len(labels),
        every=every,
        clip_len=clip_len,
        description=protocol.description,
    )


def _scored_streams(protocol: MPIInf3DHPProtocol, streams: Iterable[EvalStream]) -> list:
    """The test sequences of the protocol, in TS order; at most one stream per sequence."""
    order = {name: i for i, name in enumerate(protocol.test_subjects)}
    scored = sorted((s for s in streams if s.subject in order), key=lambda s: order[s.subject])
    names = [s.subject for s in scored]
    if len(set(names)) != len(names):
        raise ValueError(f"more than one stream per test sequence: {names}")
    if not scored:
        raise ValueError(
            f"the dataset has no MPI-INF-3DHP test sequences ({', '.join(protocol.test_subjects)})"
        )
    return scored


def _valid(stream: EvalStream) -> np.ndarray:
    valid = getattr(stream, "valid", None)
    if valid is None:
        return np.ones(len(stream.ground_truth), bool)
    return np.asarray(valid, dtype=bool)


def evaluate_predictions(
    protocol: MPIInf3DHPProtocol,
    streams: Iterable[EvalStream],
    predictions: Mapping[str, np.ndarray],
    *,
    source: str = "predictions",
) -> MPIInf3DHPResult:
    """Score stored predictions.

    Args:
        protocol: `MPI_INF_3DHP` (or `MPI_INF_3DHP_CROSS`).
        streams: Test streams (``subject`` = ``"TS1"`` ..., ``ground_truth`` (F, 17, 3) mm,
            ``valid`` (F,) bool).
        predictions: ``"TS1"`` → (F, 17, 3) mm for every frame of the sequence, MPI order.
        source: Name of the predictions (file path) for messages.

    Raises:
        ValueError: Naming ``source`` and the sequence, for a missing test sequence, a wrong
            shape or frame count, or NaN / inf values in valid frames.
    """
    scored = _scored_streams(protocol, streams)
    unknown = sorted(set(predictions) - set(protocol.test_subjects))
    missing = [s.subject for s in scored if s.subject not in predictions]
    if unknown or missing:
        raise ValueError(
            f"{source}: keys must be the test sequences {', '.join(s.subject for s in scored)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    names, scores = [], []
    for stream in scored:
        pred = np.asarray(predictions[stream.subject])
        expected = stream.ground_truth.shape
        if pred.shape != expected:
            raise ValueError(
                f"{source}[{stream.subject!r}] has shape {pred.shape}; expected {expected} "
                f"(all {expected[0]} frames of the sequence, 17 joints, xyz mm)"
            )
        valid = _valid(stream)
        if not np.isfinite(pred[valid]).all():
            raise ValueError(f"{source}[{stream.subject!r}] has NaN or inf in valid frames")
        names.append(stream.subject)
        scores.append(_frame_scores(protocol, pred[valid], stream.ground_truth[valid]))
    return _aggregate(protocol, names, scores, every=1, clip_len=0)


def predict_sequences(
    streams: Sequence[EvalStream], predict: Predictor, *, every: int = 1, batch_size: int = 32
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run a model over the clips of each stream and stitch per-frame predictions in mm.

    A frame covered by several clips (the end-aligned last clip) gets the mean of its
    predictions. Quick mode keeps every ``every``-th clip over all streams.

    Returns:
        ``(predictions, covered)``: subject → (F, J, 3) mm (zeros where not covered) and
        subject → (F,) bool, the frames some clip covered.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    predictions, covered, counter = {}, {}, 0
    for stream in streams:
        if stream.inputs is None or stream.output_scale is None:
            raise ValueError(f"stream {stream.key!r} has no model inputs")
        clips = stream.clips[(np.arange(len(stream.clips)) + counter) % every == 0]
        counter += len(stream.clips)
        num_frames, num_joints = stream.ground_truth.shape[:2]
        sums, counts = np.zeros((num_frames, num_joints, 3)), np.zeros(num_frames)
        for start in range(0, len(clips), batch_size):
            batch = clips[start : start + batch_size]
            out = np.asarray(predict(stream.inputs[batch]), dtype=np.float64)
            if out.shape != (*batch.shape, num_joints, 3):
                raise ValueError(f"predict returned {out.shape} for inputs {batch.shape}")
            out = out * stream.output_scale[batch][..., None, None]
            np.add.at(sums, batch.reshape(-1), out.reshape(-1, num_joints, 3))
            np.add.at(counts, batch.reshape(-1), 1.0)
        seen = counts > 0
        sums[seen] /= counts[seen, None, None]
        predictions[stream.subject], covered[stream.subject] = sums, seen
    return predictions, covered


def evaluate_model(
    protocol: MPIInf3DHPProtocol,
    streams: Iterable[EvalStream],
    predict: Predictor,
    *,
    every: int = 1,
    batch_size: int = 32,
) -> MPIInf3DHPResult:
    """Score a model: `predict_sequences`, then the valid frames that some clip covered.

    Args:
        protocol: The protocol.
        streams: Test streams with ``inputs``, ``output_scale`` and ``clips``.
        predict: (B, T, J, C) inputs → (B, T, 17, 3) outputs in MPI order (model units).
        every: Quick mode: every ``every``-th test clip.
        batch_size: Clips per ``predict`` call.
    """
    scored = _scored_streams(protocol, streams)
    predictions, covered = predict_sequences(scored, predict, every=every, batch_size=batch_size)
    names, scores = [], []
    for stream in scored:
        keep = covered[stream.subject] & _valid(stream)
        names.append(stream.subject)
        scores.append(
            _frame_scores(protocol, predictions[stream.subject][keep], stream.ground_truth[keep])
        )
    clip_len = int(scored[0].clips.shape[1]) if len(scored[0].clips) else 0
    return _aggregate(protocol, names, scores, every=every, clip_len=clip_len)


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """Read a predictions ``.npz``: ``"TS1"`` ... ``"TS6"`` → (F, 17, 3) mm.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not an npz of numeric (F, 17, 3) arrays (naming the file).
    """
    out = {}
    with open_npz(path, "predictions file") as data:
        for key in data.files:
            array = data[key]
            joints = MPI_INF_3DHP_17.num_joints
            if array.ndim != 3 or array.shape[1:] != (joints, 3):
                raise ValueError(f"{path}[{key!r}] has shape {array.shape}, not (F, {joints}, 3)")
            if not np.issubdtype(array.dtype, np.number):
                raise ValueError(f"{path}[{key!r}] is not numeric ({array.dtype})")
            out[key] = array
    return out
