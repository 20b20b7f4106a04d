"""The mesh protocol: score a mesh-recovery model on the Human3.6M test subjects (S9, S11).

What is measured, per `evaluate_mesh_checkpoint` (VideoPose3D protocol: every frame of the
test streams, camera-frame ground truth; the 2D source is the checkpoint's own unless given):

* **joints**: P1 (MPJPE) and P2 (PA-MPJPE) of the mesh joints on the 17 Human3.6M joints
  (root-relative) and on the 14 joints of the mesh benchmarks (`ssrstf.skeleton.H36M_14_JOINTS`,
  centred on the mid-hip), beside the same figures of the backbone's own joints computed in
  the same pass (no flip: the mesh has none) and, for reference, with flip TTA; per-action
  means, then the mean over actions, as the lifting protocol;
* **smoothness**: acceleration error (mm/frame²) of both, over every frame;
* **agreement**: the distance of the mesh joints from the backbone's joints (median, mean);
* **plausibility** (on every ``sample_every``-th test clip): the share of frames whose mesh
  intersects itself (anny backend only), the share of frames whose feet go more than
  `FLOOR_TOLERANCE_MM` below the floor and the mean depth, and the spread of the per-clip body
  height, scale and shape values within each subject.

The floor of a stream is the plane perpendicular to the world's up (``Streams.up``) at the
height of the lowest ground-truth ankle of the stream minus the mesh's own ankle-to-sole height
(its rest pose, the clip's shape and scale); each predicted mesh is placed at the ground-truth
pelvis for this figure. What cannot be measured here is said in `MeshEvalResult.not_measured`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ssrstf.config import ExperimentConfig
from ssrstf.data.dataset import StreamClips
from ssrstf.evaluation.metrics import acceleration_error, mean_per_group, mpjpe, p_mpjpe
from ssrstf.evaluation.protocol import evaluate_predictions, report_group, select_streams
from ssrstf.mesh.head import MeshRecovery
from ssrstf.mesh.metrics import SelfIntersection, feet_below_floor, shape_spread
from ssrstf.mesh.model import load_mesh_model
from ssrstf.models.tta import make_predictor
from ssrstf.skeleton import H36M_14_JOINTS, H36M_17
from ssrstf.training.scoring import build_eval_streams, load_experiment_streams, protocol_of

FLOOR_TOLERANCE_MM = 20.0
"""A foot counts as below the floor when it is more than this under it."""
NOT_MEASURED = (
    "MPVE / PVE (no ground-truth surfaces: Human3.6M's SMPL fits are licence-gated)",
    "3DPW (not available here)",
)


@dataclass
class MeshEvalResult:
    """Figures of the mesh protocol (see the module docstring); mm unless named otherwise."""

    checkpoint: str
    input_source: str
    frames: int
    streams: int
    joints: dict[str, dict[str, float]] = field(default_factory=dict)
    """``mesh`` / ``lifter`` / ``lifter_flip`` → ``p1_17``, ``p2_17``, ``p1_14``, ``p2_14``,
    ``accel`` (acceleration error, mm/frame²; not for ``lifter_flip``)."""
    agreement: dict[str, float] = field(default_factory=dict)
    plausibility: dict[str, float] = field(default_factory=dict)
    shape_spread: dict[str, dict[str, float]] = field(default_factory=dict)
    sample_every: int = 0
    not_measured: tuple[str, ...] = NOT_MEASURED

    def to_dict(self) -> dict:
        """Plain data (JSON)."""
        return asdict(self)

    def text(self) -> str:
        """The main figures as terminal text (a table and the plausibility lines)."""
        lines = [
            f"mesh protocol, {self.checkpoint}: Human3.6M S9/S11, {self.input_source} 2D, "
            f"{self.frames} frames, {self.streams} streams",
            f"{'':<16}{'P1-17':>8}{'P2-17':>8}{'P1-14':>8}{'P2-14':>8}{'accel':>8}",
        ]
        for name, row in self.joints.items():
            accel = f"{row['accel']:8.2f}" if "accel" in row else f"{'-':>8}"
            lines.append(
                f"{name:<16}{row['p1_17']:8.2f}{row['p2_17']:8.2f}{row['p1_14']:8.2f}"
                f"{row['p2_14']:8.2f}{accel}"
            )
        a = self.agreement
        lines.append(
            f"mesh joints vs lifter joints: median {a['median_mm']:.1f} mm, mean {a['mean_mm']:.1f}"
        )
        p = self.plausibility
        lines.append(
            f"plausibility (every {self.sample_every}-th clip, {int(p['frames'])} frames): "
            f"self-intersecting frames {_percent(p.get('self_intersection_share'))}, feet > "
            f"{FLOOR_TOLERANCE_MM:.0f} mm below the floor {_percent(p['feet_below_share'])} "
            f"(mean depth {p['feet_below_mean_mm']:.1f} mm)"
        )
        for subject, spread in self.shape_spread.items():
            values = ", ".join(f"{k} {v:.3g}" for k, v in spread.items())
            lines.append(f"shape spread (std over clips) {subject}: {values}")
        lines.append("not measured: " + "; ".join(self.not_measured))
        return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _errors_14(pred_mm: np.ndarray, gt_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame P1, P2 on the 14 joints, both centred on the mid-hip point."""
    hips = [H36M_17.index("left_hip"), H36M_17.index("right_hip")]
    joints = list(H36M_14_JOINTS)
    pred = pred_mm[..., joints, :] - pred_mm[..., hips, :].mean(-2, keepdims=True)
    gt = gt_mm[..., joints, :] - gt_mm[..., hips, :].mean(-2, keepdims=True)
    return mpjpe(pred, gt), p_mpjpe(pred, gt)


def _mean_over_actions(values: list[np.ndarray], streams: list[StreamClips]) -> float:
    groups = [report_group(s) for s, v in zip(streams, values, strict=True) for _ in range(len(v))]
    per_action = mean_per_group(np.concatenate(values), groups)
    return float(np.mean(list(per_action.values())))


@dataclass
class _StreamOutputs:
    mesh: np.ndarray  # (F, 17, 3) mm, root-relative
    lifter: np.ndarray
    lifter_flip: np.ndarray | None = None


def _run_stream(model: MeshRecovery, stream: StreamClips, batch_size: int, lifter_flip):
    """Per-frame mean of the mesh and lifter joints over the clips covering each frame (mm),
    and per clip its shape, scale and clip index."""
    frames = len(stream.ground_truth)
    sums = {k: np.zeros((frames, 17, 3)) for k in ("mesh", "lifter", "lifter_flip")}
    counts = np.zeros(frames)
    shapes, scales = [], []
    device = next(model.head.parameters()).device
    for start in range(0, len(stream.clips), batch_size):
        batch = stream.clips[start : start + batch_size]
        x = torch.as_tensor(stream.inputs[batch], device=device)
        out = model(x, vertices=False)
        mm = stream.output_scale[batch][..., None, None]
        parts = {"mesh": out.joints, "lifter": out.lifter_joints}
        if lifter_flip is not None:
            parts["lifter_flip"] = torch.as_tensor(lifter_flip(stream.inputs[batch]))
        for key, value in parts.items():
            value = value.double().cpu().numpy() * mm
            value = value - value[..., :1, :]
            np.add.at(sums[key], batch.reshape(-1), value.reshape(-1, 17, 3))
        np.add.at(counts, batch.reshape(-1), 1.0)
        shapes.append(out.shape.double().cpu().numpy())
        scales.append(out.scale.double().cpu().numpy())
    seen = counts > 0
    mean = {k: v[seen] / counts[seen, None, None] for k, v in sums.items()}
    outputs = _StreamOutputs(
        mesh=mean["mesh"],
        lifter=mean["lifter"],
        lifter_flip=mean["lifter_flip"] if lifter_flip is not None else None,
    )
    return outputs, seen, np.concatenate(shapes), np.concatenate(scales)


def _rest_geometry(model: MeshRecovery, shapes: np.ndarray, scales: np.ndarray):
    """Per clip, in mm: the rest body's height and its ankle-to-sole height (camera y down)."""
    body = model.body
    device = next(model.head.parameters()).device
    shape = torch.as_tensor(shapes, dtype=torch.float32, device=device)
    pose = body.rest_pose(len(shape), 1).to(device)
    pose[:, :, 0] = body.facing_camera().to(device)
    out = body(pose, shape, vertices=True)
    y = out.vertices[:, 0, :, 1].double().cpu().numpy()
    feet = body.foot_vertex_ids().cpu().numpy()
    ankles = out.joints[:, 0, [H36M_17.index("left_ankle"), H36M_17.index("right_ankle")], 1]
    ankle = ankles.double().cpu().numpy().mean(1)
    size = 1000.0 * scales
    return size * (y.max(1) - y.min(1)), size * (y[:, feet].max(1) - ankle)


def _plausibility(model, streams, up, sample_every, batch_size, progress, intersections):
    """Self-intersections and feet below the floor on every ``sample_every``-th clip."""
    body = model.body
    anny = getattr(body, "cpu_anny", None)  # the detector runs on the CPU
    detector = SelfIntersection(anny) if intersections and anny is not None else None
    feet = body.foot_vertex_ids().cpu().numpy()
    ankles = [H36M_17.index("left_ankle"), H36M_17.index("right_ankle")]
    device = next(model.head.parameters()).device
    counter, intersecting, depths = 0, [], []
    for stream in tqdm(streams, desc="plausibility", unit="stream", disable=not progress):
        index = np.arange(counter, counter + len(stream.clips))
        counter += len(stream.clips)
        chosen = stream.clips[index % sample_every == 0]
        if not len(chosen):
            continue
        gt = stream.ground_truth
        heights = gt[:, ankles] @ up[stream.key]
        for start in range(0, len(chosen), batch_size):
            batch = chosen[start : start + batch_size]
            x = torch.as_tensor(stream.inputs[batch], device=device)
            out = model(x, vertices=True)
            vertices_mm = out.vertices.double().cpu().numpy() * 1000.0
            _, clearance = _rest_geometry(
                model, out.shape.double().cpu().numpy(), out.scale.double().cpu().numpy()
            )
            for clip, verts, gap in zip(batch, vertices_mm, clearance, strict=True):
                placed = verts[:, feet] + gt[clip, :1]  # at the ground-truth pelvis
                floor = heights.min() - gap
                depths.append(feet_below_floor(placed @ up[stream.key], floor))
            if detector is not None:
                flat = out.vertices.reshape(-1, *out.vertices.shape[2:])
                intersecting.append(detector(flat) > 0)
    depth = np.concatenate(depths)
    result = {
        "frames": float(len(depth)),
        "feet_below_share": float(np.mean(depth > FLOOR_TOLERANCE_MM)),
        "feet_below_mean_mm": float(depth.mean()),
    }
    if intersecting:
        result["self_intersection_share"] = float(np.concatenate(intersecting).mean())
    return result


def evaluate_mesh_model(
    model: MeshRecovery,
    cfg: ExperimentConfig,
    *,
    checkpoint: str = "",
    sample_every: int = 100,
    every: int = 1,
    batch_size: int = 32,
    with_flip: bool = True,
    progress: bool = True,
    self_intersections: bool = True,
) -> MeshEvalResult:
    """Score a loaded mesh model on ``cfg.data``'s test streams (module docstring).

    Args:
        model: The mesh model (evaluation mode).
        cfg: Its config with the data to use (``data.path``, ``data.input_source``).
        checkpoint: Name for the result's label.
        sample_every: Plausibility figures on every N-th test clip.
        every: Quick mode: score every N-th test clip only (1 = the full protocol).
        batch_size: Clips per forward pass.
        with_flip: Also score the backbone's joints with flip TTA (one more pass).
        progress: Show progress bars.
        self_intersections: Test the sampled meshes for self-intersections (anny only; the
            first use compiles a warp kernel, ~45 s).
    """
    protocol = protocol_of(cfg)
    if protocol.ground_truth != "camera":
        raise ValueError("the mesh protocol scores camera-frame poses (--protocol videopose3d)")
    streams_data = load_experiment_streams(cfg, train=False)
    if streams_data.up is None:  # checked before the long joint pass, not after it
        raise ValueError(
            f"{cfg.data.path}: no stream_up (the world's up per stream), which the mesh "
            "protocol's floor needs; prepare the file again with `ssrstf data prepare-h36m`"
        )
    up = {}
    for i in range(len(streams_data.subject)):
        key = f"{streams_data.subject[i]}/{streams_data.action[i]}/{streams_data.camera[i]}"
        up[key] = np.asarray(streams_data.up[i], dtype=np.float64)
    streams, _ = select_streams(protocol, build_eval_streams(cfg, streams_data))
    if every > 1:
        streams = [replace(s, clips=s.clips[::every]) for s in streams]
        streams = [s for s in streams if len(s.clips)]
    flip = None
    if with_flip:
        device = next(model.backbone.parameters()).device
        flip = make_predictor(model.backbone, H36M_17, flip_test=True, device=device)
    predictions = {k: {} for k in ("mesh", "lifter", "lifter_flip")}
    errors14 = {k: ([], []) for k in predictions}
    accel = {"mesh": [], "lifter": []}
    distances, scored, all_shapes, all_scales, subjects = [], [], [], [], []
    with torch.inference_mode():
        for stream in tqdm(streams, desc="mesh joints", unit="stream", disable=not progress):
            outputs, seen, shapes, scales = _run_stream(model, stream, batch_size, flip)
            gt = stream.ground_truth[seen] - stream.ground_truth[seen][:, :1]
            index = np.flatnonzero(seen)  # the scored frames (all but in quick mode)
            clips = np.searchsorted(index, stream.clips)
            scored.append(replace(stream, ground_truth=stream.ground_truth[seen], clips=clips))
            for name in predictions:
                value = getattr(outputs, name)
                if value is None:
                    continue
                predictions[name][stream.key] = value
                p1, p2 = _errors_14(value, gt)
                errors14[name][0].append(p1)
                errors14[name][1].append(p2)
            # Acceleration over consecutive frames only (quick mode scores scattered clips).
            if len(index) >= 3:
                consecutive = index[2:] - index[:-2] == 2
                for name in accel:
                    error = acceleration_error(getattr(outputs, name), gt)
                    accel[name].append(error[consecutive])
            distances.append(np.linalg.norm(outputs.mesh - outputs.lifter, axis=-1).ravel())
            all_shapes.append(shapes)
            all_scales.append(scales)
            subjects += [stream.subject] * len(shapes)
        joints = {}
        for name, preds in predictions.items():
            if not preds:
                continue
            result = evaluate_predictions(protocol, scored, preds)
            joints[name] = {
                "p1_17": result.p1_mm,
                "p2_17": result.p2_mm,
                "p1_14": _mean_over_actions(errors14[name][0], scored),
                "p2_14": _mean_over_actions(errors14[name][1], scored),
            }
            if name in accel:
                joints[name]["accel"] = float(np.concatenate(accel[name]).mean())
        plausibility = _plausibility(
            model, streams, up, sample_every, batch_size, progress, self_intersections
        )
        shapes, scales = np.concatenate(all_shapes), np.concatenate(all_scales)
        height, _ = _rest_geometry(model, shapes, scales)
    names = list(model.body.shape_names)
    values = np.column_stack([height, scales, shapes])
    spread = {
        subject: dict(zip(["height_mm", "scale", *names], map(float, std), strict=True))
        for subject, std in shape_spread(values, subjects).items()
    }
    all_distances = np.concatenate(distances)
    return MeshEvalResult(
        checkpoint=checkpoint,
        input_source=cfg.data.input_source,
        frames=int(sum(len(s.ground_truth) for s in scored)),
        streams=len(scored),
        joints=joints,
        agreement={
            "median_mm": float(np.median(all_distances)),
            "mean_mm": float(all_distances.mean()),
        },
        plausibility=plausibility,
        shape_spread=spread,
        sample_every=sample_every,
    )


def evaluate_mesh_checkpoint(
    checkpoint: str | Path = "default",
    data_path: str | Path = "data/h36m.npz",
    *,
    input_source: str | None = None,
    body_model_path: str | None = None,
    device: str = "cpu",
    allow_pickle: bool | None = None,
    **kwargs,
) -> MeshEvalResult:
    """Load a mesh checkpoint (``"default"``: the packaged head) and `evaluate_mesh_model` it.

    ``allow_pickle``: read an SMPL ``.pkl`` file (`ssrstf.mesh.model.load_mesh_model`).
    ``kwargs`` go to `evaluate_mesh_model` (``sample_every``, ``every``, ``batch_size``,
    ``with_flip``, ``progress``).
    """
    model, cfg = load_mesh_model(
        checkpoint, device=device, body_model_path=body_model_path, allow_pickle=allow_pickle
    )
    data = replace(
        cfg.data, path=str(data_path), input_source=input_source or cfg.data.input_source
    )
    cfg = replace(cfg, data=data, eval=replace(cfg.eval, protocol="videopose3d"))
    return evaluate_mesh_model(model, cfg, checkpoint=str(checkpoint), **kwargs)


def write_mesh_result(result: MeshEvalResult, path: str | Path) -> Path:
    """Write the result as JSON."""
    from ssrstf.files import atomic_write

    text = json.dumps(result.to_dict(), indent=2)
    return atomic_write(path, lambda temp: temp.write_text(text))
