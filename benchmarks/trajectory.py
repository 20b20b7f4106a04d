"""Root trajectory, floor and rigid skeleton on Human3.6M, against the known cameras.

Usage::

    python benchmarks/trajectory.py --data data/h36m.npz \\
        [--cameras ../shared/data/h36m/h36m_cameras.json] [--inputs gt sh] [--subjects S9 S11]
        [--one-camera] [--sequence-stride N] [--smoothing 1e3 ...] [--lateral-smoothing 1e2]
        [--checkpoint default] [--overlap N] [--cache DIR] [--json OUT]

For every selected stream it lifts the 2D input (``poses_2d_<input>``) with the packaged model
exactly as ``ssrstf infer`` does (`Lifter` with its defaults: flip, overlap T/6; lifted poses
are cached in ``--cache``, one folder per model file (its SHA-256) and lifting setting, so
reruns and other settings only redo the geometry), then measures:

* **trajectory** (`solve_root_translation` with the stream's own intrinsics fx, fy, cx, cy; and
  with the default intrinsics of an unknown camera, `resolve_intrinsics`): root position error
  (mean and median over frames, mm) and the absolute camera-space MPJPE (the lifted pose plus
  the trajectory against the camera-frame ground truth, no alignment);
* **floor** (`estimate_floor` on the absolute poses): the angle between the estimated floor
  normal and the true one (world z, ``R_world_to_cam`` of h36m_cameras.json), the floor height
  error under the person, the ankle heights on the detected contact frames (in our world frame,
  and the ground-truth ankle above the true floor on the same frames), and the contact labels'
  precision and recall against contacts found by the same rule on the ground truth;
* **rigid** (`make_rigid`): P1 (root-relative MPJPE, per-action mean as in the VideoPose3D
  protocol, S11 "Directions" left out) with and without, and the median bone-length
  coefficient of variation and mean acceleration of both.

``--one-camera`` keeps one camera per sequence (the k-th sequence's k mod 4-th camera, so all
four cameras take turns) and ``--sequence-stride N`` every N-th sequence, to bound the lifting
time on a small CPU. ``--smoothing`` (depth) takes several values to compare (the first is used
for floor and rigid); ``--lateral-smoothing`` is one value for x and y.
Prints one JSON object. Not a test; Human3.6M is research-only and nothing of it is written
outside ``--cache``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ssrstf.checkpoint import resolve_checkpoint
from ssrstf.data.h36m import load_streams
from ssrstf.evaluation.protocol import VIDEOPOSE3D, action_group
from ssrstf.files import file_sha256
from ssrstf.lifting.lifter import Lifter
from ssrstf.scene import world as world_module
from ssrstf.scene.rigid import (
    bone_vectors,
    fit_bone_lengths,
    make_rigid,
    mean_acceleration,
    motion_statistics,
)
from ssrstf.scene.trajectory import (
    DEFAULT_LATERAL_SMOOTHING,
    DEFAULT_SMOOTHING,
    CameraIntrinsics,
    resolve_intrinsics,
    solve_root_translation,
)
from ssrstf.scene.world import ANKLE_HEIGHT_MM, FOOT_JOINTS, ground, point_speed
from ssrstf.skeleton import H36M_17


def lifted(lifter: Lifter, key: str, keypoints: np.ndarray, size, cache: Path) -> np.ndarray:
    """The lifted poses of a stream (cached as float32 .npy in ``cache``)."""
    path = cache / (key.replace("/", "__").replace(" ", "_") + ".npy")
    if path.exists():
        return np.load(path).astype(np.float64)
    poses = lifter.lift(keypoints, tuple(int(v) for v in size))
    cache.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp.npy")
    np.save(temp, poses.astype(np.float32))
    temp.replace(path)  # a killed run leaves no truncated cache entry
    return poses


def selected(streams, subject: str, one_camera: bool, sequence_stride: int) -> list[int]:
    """Stream indices of ``subject``: every ``sequence_stride``-th sequence (sorted by name), all
    its cameras or (``one_camera``) the k-th sequence's camera k mod 4."""
    sequences: dict[str, list[int]] = {}
    for i, key in enumerate(streams.keys):
        if key.startswith(f"{subject}/"):
            sequences.setdefault(key.rsplit("/", 1)[0], []).append(i)
    out = []
    for k, name in enumerate(sorted(sequences)[::sequence_stride]):
        cameras = sorted(sequences[name], key=lambda i: streams.keys[i])
        out.extend([cameras[k % len(cameras)]] if one_camera else cameras)
    return out


def true_floor(camera: dict) -> tuple[np.ndarray, float]:
    """(normal, height) of the world plane z = 0 in camera coordinates (mm)."""
    rotation = np.asarray(camera["R_world_to_cam"], dtype=np.float64)
    center_mm = 1000.0 * np.asarray(camera["cam_center_world_m"], dtype=np.float64)
    normal = rotation[:, 2]  # world z in camera axes; z_world = normal · p + C_z
    return normal, -center_mm[2]


GT_CONTACT_HEIGHT_MM = world_module.CONTACT_HEIGHT_MM
"""The ground truth's contact rule keeps the library's default even under --contact-height-mm."""


def gt_contacts(ankles_cam: np.ndarray, normal: np.ndarray, height: float, fps: float):
    """Contacts of the ground truth by the same low-and-slow rule, with the true floor."""
    heights = ankles_cam @ normal - height
    level = np.percentile(heights, 5)
    slow = point_speed(ankles_cam, fps) < world_module.CONTACT_SPEED_MM_S
    return (heights - level <= GT_CONTACT_HEIGHT_MM) & slow, heights


def per_action_p1(rows: list[tuple[str, np.ndarray]]) -> float:
    """Per-action mean of frame errors, then the mean over actions (VideoPose3D style)."""
    groups: dict[str, list[np.ndarray]] = {}
    for action, errors in rows:
        groups.setdefault(action_group(action), []).append(errors)
    return float(np.mean([np.concatenate(v).mean() for v in groups.values()]))


def evaluate_stream(pred, gt, keypoints, intrinsics, default_k, camera, fps, smoothings, lateral):
    """Every figure of one stream (dict of arrays / floats)."""
    out: dict[str, object] = {}
    rel_gt = gt - gt[:, :1]
    out["p1"] = np.linalg.norm(pred - rel_gt, axis=-1).mean(-1)

    def solve(poses, k, s):
        return solve_root_translation(
            keypoints, poses, k, fps=fps, smoothing=s, lateral_smoothing=lateral
        )

    for s in smoothings:
        traj = solve(pred, intrinsics, s)
        out[f"root_err@{s:g}"] = np.linalg.norm(traj - gt[:, 0], axis=-1)
        out[f"root_axis_err@{s:g}"] = np.abs(traj - gt[:, 0])
        out[f"abs_mpjpe@{s:g}"] = np.linalg.norm(pred + traj[:, None] - gt, axis=-1).mean(-1)
        out[f"traj_acc@{s:g}"] = mean_acceleration(traj)
    smoothing = smoothings[0]
    traj = solve(pred, intrinsics, smoothing)
    traj_default = solve(pred, default_k, smoothing)
    out["root_err_default_k"] = np.linalg.norm(traj_default - gt[:, 0], axis=-1)
    oracle = solve(rel_gt, intrinsics, smoothing)
    out["root_err_oracle"] = np.linalg.norm(oracle - gt[:, 0], axis=-1)
    out["depth_ratio_default_k"] = float(np.median(traj_default[:, 2] / gt[:, 0, 2]))
    # floor
    absolute = pred + traj[:, None]
    floor, world = ground(absolute, fps)
    normal_true, height_true = true_floor(camera)
    out["normal_err_deg"] = float(np.degrees(np.arccos(np.clip(floor.normal @ normal_true, -1, 1))))
    under = traj.mean(0) - floor.heights(traj.mean(0)) * floor.normal  # our floor below the root
    out["floor_height_err"] = float(abs(under @ normal_true - height_true))
    feet = [H36M_17.index(n) for n in FOOT_JOINTS]
    contact = floor.contacts
    ours_world = world.to_world(absolute[:, feet])[..., 1]  # ankle heights in our world frame
    truth_contact, gt_heights = gt_contacts(gt[:, feet], normal_true, height_true, fps)
    out["ankle_h_ours_on_contacts"] = ours_world[contact]
    out["ankle_h_gt_on_contacts"] = gt_heights[contact]
    out["ankle_h_gt_on_gt_contacts"] = gt_heights[truth_contact]
    out["contact_tp"] = int((contact & truth_contact).sum())
    out["contact_pred"] = int(contact.sum())
    out["contact_true"] = int(truth_contact.sum())
    # rigid
    if RIGID_LENGTHS[0] == "nearest":
        rigid = nearest_rigid(pred, fit_bone_lengths(pred))
    else:
        rigid = make_rigid(pred, lengths=rigid_lengths(pred, RIGID_LENGTHS[0], rel_gt))
    out["p1_rigid"] = np.linalg.norm(rigid - rel_gt, axis=-1).mean(-1)
    stats, stats_rigid = motion_statistics(pred), motion_statistics(rigid)
    out["bone_cv"] = stats.median_bone_length_cv
    out["bone_cv_rigid"] = stats_rigid.median_bone_length_cv
    out["acc"] = stats.mean_acceleration_mm
    out["acc_rigid"] = stats_rigid.mean_acceleration_mm
    traj_rigid = solve(rigid, intrinsics, smoothing)
    out["root_err_rigid"] = np.linalg.norm(traj_rigid - gt[:, 0], axis=-1)
    return out


RIGID_LENGTHS = ["ls"]
"""How `--rigid-lengths` chooses the bone lengths (set by main)."""


def rigid_lengths(pred: np.ndarray, rule: str, truth: np.ndarray) -> np.ndarray:
    """Bone lengths for `make_rigid`: least squares (the library's), median, mean, the mean
    weighted by how much each bone lies in the image plane (``plane``: 1 − d_z², d its unit
    direction in camera axes), or the subject's true mean lengths (``true``, an oracle from
    ``truth``: a diagnosis, not a rule)."""
    if rule == "ls":
        return fit_bone_lengths(pred)
    if rule == "true":
        return np.linalg.norm(bone_vectors(truth), axis=-1).mean(0)
    bones = bone_vectors(pred)
    lengths = np.linalg.norm(bones, axis=-1)
    if rule == "plane":
        weight = 1.0 - (bones[..., 2] / np.maximum(lengths, 1e-9)) ** 2
        return (weight * lengths).sum(0) / np.maximum(weight.sum(0), 1e-9)
    return np.median(lengths, 0) if rule == "median" else lengths.mean(0)


def nearest_rigid(poses: np.ndarray, lengths: np.ndarray, sweeps: int = 30) -> np.ndarray:
    """The alternative to `make_rigid` that does not keep bone directions: every bone in turn
    is set to its length by moving both ends equally along it (30 sweeps), then the pose is
    made root-relative again."""
    out = poses.copy()
    for _ in range(sweeps):
        for b, (parent, child) in enumerate(H36M_17.bones):
            bone = out[:, child] - out[:, parent]
            norm = np.linalg.norm(bone, axis=-1, keepdims=True)
            step = (norm - lengths[b]) * bone / np.maximum(norm, 1e-9) / 2
            out[:, parent] += step
            out[:, child] -= step
    return out - out[:, :1]


def summarise(rows: list[tuple[str, dict]], smoothings: list[float]) -> dict[str, object]:
    def frames(name: str) -> np.ndarray:
        return np.concatenate([np.atleast_1d(r[name]) for _, r in rows])

    def streams(name: str) -> np.ndarray:
        return np.array([r[name] for _, r in rows], dtype=np.float64)

    result: dict[str, object] = {"streams": len(rows), "frames": int(len(frames("p1")))}
    result["trajectory"] = {
        f"smoothing {s:g}": {
            "root_error_mean_mm": float(frames(f"root_err@{s:g}").mean()),
            "root_error_median_mm": float(np.median(frames(f"root_err@{s:g}"))),
            "root_error_xyz_mean_mm": np.concatenate([r[f"root_axis_err@{s:g}"] for _, r in rows])
            .mean(0)
            .tolist(),
            "absolute_mpjpe_mm": float(frames(f"abs_mpjpe@{s:g}").mean()),
            "root_acceleration_mm_per_frame2": float(streams(f"traj_acc@{s:g}").mean()),
        }
        for s in smoothings
    }
    result["trajectory_default_intrinsics"] = {
        "root_error_mean_mm": float(frames("root_err_default_k").mean()),
        "root_error_median_mm": float(np.median(frames("root_err_default_k"))),
        "median_depth_ratio": float(np.median(streams("depth_ratio_default_k"))),
    }
    result["trajectory_true_relative_pose"] = {
        "root_error_mean_mm": float(frames("root_err_oracle").mean()),
        "root_error_median_mm": float(np.median(frames("root_err_oracle"))),
    }
    tp, pred, true = (streams(k).sum() for k in ("contact_tp", "contact_pred", "contact_true"))
    ours, gt_on, gt_gt = (
        frames(k) for k in ("ankle_h_ours_on_contacts", "ankle_h_gt_on_contacts",
                            "ankle_h_gt_on_gt_contacts")
    )  # fmt: skip
    result["floor"] = {
        "normal_error_mean_deg": float(streams("normal_err_deg").mean()),
        "normal_error_median_deg": float(np.median(streams("normal_err_deg"))),
        "normal_error_p90_deg": float(np.percentile(streams("normal_err_deg"), 90)),
        "floor_height_error_mean_mm": float(streams("floor_height_err").mean()),
        "floor_height_error_median_mm": float(np.median(streams("floor_height_err"))),
        "contact_share": float(pred / (2 * len(frames("p1")))),
        "contact_precision": float(tp / max(pred, 1)),
        "contact_recall": float(tp / max(true, 1)),
        "ankle_height_ours_on_contacts_mean_mm": float(ours.mean()),
        "ankle_height_ours_on_contacts_sd_mm": float(ours.std()),
        "ankle_height_ours_on_contacts_abs_dev_mm": float(np.abs(ours - ANKLE_HEIGHT_MM).mean()),
        "ankle_height_true_on_contacts_mean_mm": float(gt_on.mean()),
        "ankle_height_true_on_contacts_sd_mm": float(gt_on.std()),
        "ankle_height_true_on_true_contacts_median_mm": float(np.median(gt_gt)),
    }
    p1_rows = [(key.split("/")[1], r["p1"]) for key, r in rows]
    p1_rigid_rows = [(key.split("/")[1], r["p1_rigid"]) for key, r in rows]
    result["rigid"] = {
        "p1_mm": per_action_p1(p1_rows),
        "p1_rigid_mm": per_action_p1(p1_rigid_rows),
        "median_bone_cv": float(np.median(streams("bone_cv"))),
        "median_bone_cv_rigid": float(np.median(streams("bone_cv_rigid"))),
        "mean_acceleration_mm_per_frame2": float(streams("acc").mean()),
        "mean_acceleration_rigid_mm_per_frame2": float(streams("acc_rigid").mean()),
        "root_error_mean_mm_rigid": float(frames("root_err_rigid").mean()),
    }
    result["rigid"]["p1_change_mm"] = result["rigid"]["p1_rigid_mm"] - result["rigid"]["p1_mm"]
    return result


def ankle_height(streams, cameras: dict) -> dict[str, float]:
    """Ground-truth ankle height above the true floor on ground-truth contact frames (mm).

    The measurement behind `ANKLE_HEIGHT_MM` (run on the training subjects); no lifting.
    """
    feet = [H36M_17.index(n) for n in FOOT_JOINTS]
    heights = []
    for i in range(len(streams.keys)):
        gt = streams.poses_3d[streams.frames(i)].astype(np.float64)
        normal, height = true_floor(cameras[f"{streams.subject[i]}/{streams.camera[i]}"])
        contact, h = gt_contacts(gt[:, feet], normal, height, float(streams.fps[i]))
        heights.append(h[contact])
    values = np.concatenate(heights)
    return {"streams": len(streams.keys), "contact_frames": int(len(values)),
            "median_mm": float(np.median(values)), "mean_mm": float(values.mean())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/h36m.npz")
    parser.add_argument("--cameras", default="../shared/data/h36m/h36m_cameras.json")
    parser.add_argument("--inputs", nargs="+", default=["gt", "sh"])
    parser.add_argument("--subjects", nargs="+", default=["S9", "S11"])
    parser.add_argument(
        "--one-camera", action="store_true",
        help="one camera per sequence (cycling through the four) instead of all four",
    )  # fmt: skip
    parser.add_argument("--sequence-stride", type=int, default=1, help="every N-th sequence")
    parser.add_argument("--smoothing", type=float, nargs="+", default=[DEFAULT_SMOOTHING])
    parser.add_argument("--lateral-smoothing", type=float, default=DEFAULT_LATERAL_SMOOTHING)
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument(
        "--overlap", type=int, help="frames shared by consecutive windows (default: the Lifter's)"
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ssrstf_trajectory_cache"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--ankle-height", action="store_true",
        help="only measure the ground-truth ankle height on contacts of --subjects (no lifting)",
    )  # fmt: skip
    parser.add_argument(
        "--rigid-lengths", choices=("ls", "median", "mean", "plane", "true", "nearest"),
        default="ls",
        help="bone lengths of make_rigid (least squares, median, mean, 'plane': mean weighted "
        "by how much a bone lies in the image plane, 'true': the subject's own, an oracle), or "
        "'nearest': the least-squares lengths without keeping bone directions (nearest_rigid)",
    )  # fmt: skip
    parser.add_argument("--floor-prior-mm", type=float, default=world_module.PRIOR_MM)
    parser.add_argument("--contact-height-mm", type=float, default=world_module.CONTACT_HEIGHT_MM)
    parser.add_argument("--no-trim", action="store_true", help="floor fit without trimming")
    parser.add_argument("--speed-window-s", type=float, default=world_module.SPEED_WINDOW_S)
    parser.add_argument(
        "--torso-prior", action="store_true",
        help="floor prior from the torso direction of all frames (no standing-frame body axis)",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # Settings of the floor fit and the rigid skeleton, to compare alternatives (design.md).
    world_module.PRIOR_MM = args.floor_prior_mm
    world_module.CONTACT_HEIGHT_MM = args.contact_height_mm
    world_module.TRIM_MAD = np.inf if args.no_trim else world_module.TRIM_MAD
    world_module.SPEED_WINDOW_S = args.speed_window_s
    if args.torso_prior:
        world_module.STANDING_MIN_FRAMES = 2**62
    RIGID_LENGTHS[0] = args.rigid_lengths
    cameras = json.loads(Path(args.cameras).read_text())
    if args.ankle_height:
        streams = load_streams(args.data, subjects=args.subjects, arrays=["poses_3d"])
        print(json.dumps(ankle_height(streams, cameras), indent=2))
        return
    arrays = ["poses_3d", *(f"poses_2d_{name}" for name in args.inputs)]
    streams = load_streams(args.data, subjects=args.subjects, arrays=arrays)
    lifter = Lifter(args.checkpoint, overlap=args.overlap)
    # One cache folder per model file and lifting setting: a changed default model or overlap
    # never reuses poses lifted by another.
    weights = file_sha256(resolve_checkpoint(args.checkpoint))[:12]
    setting = (
        f"{Path(args.checkpoint).stem}-{weights}-overlap{lifter.overlap}-flip{int(lifter.flip)}"
    )
    report: dict[str, object] = {
        "subjects": args.subjects, "one_camera": args.one_camera,
        "sequence_stride": args.sequence_stride, "smoothing": args.smoothing,
        "lateral_smoothing": args.lateral_smoothing, "rigid_lengths": args.rigid_lengths,
        "floor_prior_mm": args.floor_prior_mm, "contact_height_mm": args.contact_height_mm,
        "trim": not args.no_trim, "torso_prior": args.torso_prior,
        "speed_window_s": args.speed_window_s,
    }  # fmt: skip
    for source in args.inputs:
        rows, start = [], time.perf_counter()
        for subject in args.subjects:
            for i in selected(streams, subject, args.one_camera, args.sequence_stride):
                key = streams.keys[i]
                if VIDEOPOSE3D.is_skipped(_Stream(key)) or not streams.has_2d[source][i]:
                    continue
                frames = streams.frames(i)
                keypoints = streams.poses_2d[source][frames].astype(np.float64)
                gt = streams.poses_3d[frames].astype(np.float64)
                size = streams.image_size[i]
                pred = lifted(lifter, key, keypoints, size, args.cache / setting / source)
                fx, fy, cx, cy = streams.intrinsics[i][:4]
                camera = cameras[f"{subject}/{streams.camera[i]}"]
                rows.append((key, evaluate_stream(
                    pred, gt, keypoints, CameraIntrinsics(fx, fy, cx, cy),
                    resolve_intrinsics(tuple(size)), camera, float(streams.fps[i]),
                    args.smoothing, args.lateral_smoothing,
                )))  # fmt: skip
        report[source] = summarise(rows, args.smoothing)
        report[source]["seconds"] = time.perf_counter() - start
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


class _Stream:
    """The fields `H36MProtocol.is_skipped` reads."""

    def __init__(self, key: str) -> None:
        self.subject, self.action, _ = key.split("/")
        self.sequence_id = ""


if __name__ == "__main__":
    main()
