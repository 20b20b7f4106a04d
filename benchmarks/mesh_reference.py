"""Reference figures for the mesh results: what a mesh could do at best, measured the same way.

Two figures that put the mesh protocol and ``ssrstf infer --mesh`` numbers in context
(docs/results.md, "Mesh recovery"):

* ``--data``: the self-intersection share of the neutral body (anny) posed by swing IK on the
  **ground-truth** 3D joints of Human3.6M S9/S11 (no head, no residual; ``--frames`` random
  frames, one in every ``--stride`` of each test stream), beside the rest pose's. It is the share
  a mesh without collision handling reaches with perfect joints;
* ``--outputs``: for ``ssrstf infer`` output folders, the median distance between ``poses_3d``
  and the rigid skeleton along its own bone directions (`ssrstf.scene.rigid.make_rigid`),
  with the median bone-length variation. One body per sequence cannot follow a skeleton whose
  bones change length much closer than this.

    python benchmarks/mesh_reference.py --data data/h36m.npz --outputs ssrstf_demo OUT2 ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ssrstf.config import H36M_TEST_SUBJECTS
from ssrstf.scene.rigid import bone_length_variation, make_rigid
from ssrstf.skeleton import H36M_17


def ground_truth_ik(data: str, frames: int, stride: int, seed: int) -> dict[str, float]:
    """Self-intersection shares of swing IK on ground-truth joints and of the rest pose."""
    from ssrstf.mesh.metrics import SelfIntersection
    from ssrstf.mesh.model import load_mesh_model

    model, _ = load_mesh_model("default")
    body = model.body
    detector = SelfIntersection(body.anny)
    with np.load(data) as d:
        subjects, offsets, poses = d["stream_subject"], d["stream_offsets"], d["poses_3d"]
        chosen = [
            poses[offsets[s] : offsets[s + 1] : stride]
            for s in np.nonzero(np.isin(subjects, H36M_TEST_SUBJECTS))[0]
        ]
    joints = np.concatenate(chosen)
    joints = joints - joints[:, H36M_17.root : H36M_17.root + 1]
    pick = np.random.default_rng(seed).permutation(len(joints))[:frames]
    target = torch.as_tensor(joints[pick] / 1000.0, dtype=torch.float32)[None]  # mm -> m
    with torch.no_grad():
        pose = model.ik_pose(target).float()
        shape = body.neutral_shape()[None].float()
        posed = body(pose, shape, vertices=True).vertices[0]
        rest = body(body.rest_pose(1, 1), shape, vertices=True).vertices[0]
    faces = detector(posed)
    return {
        "frames": int(len(faces)),
        "gt_ik_self_intersection_share": float(np.mean(faces > 0)),
        "rest_pose_intersecting_faces": int(detector(rest)[0]),
    }


def rigid_floor(folder: str) -> dict[str, float]:
    """Median distance (mm) of ``poses_3d`` from its rigid version, and its bone variation."""
    with np.load(Path(folder) / "poses_3d.npz") as d:
        poses = d["poses_3d"].astype(np.float64)
    poses = poses - poses[:, H36M_17.root : H36M_17.root + 1]
    distance = np.linalg.norm(make_rigid(poses) - poses, axis=-1)
    return {
        "frames": len(poses),
        "rigid_distance_median_mm": float(np.median(distance)),
        "median_bone_length_cv": float(np.median(bone_length_variation(poses))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="prepared Human3.6M file: the ground-truth IK figure")
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--stride", type=int, default=600, help="one frame in N per stream")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outputs", nargs="*", default=[], help="ssrstf infer output folders")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result: dict[str, object] = {}
    if args.data:
        result["ground_truth_ik"] = ground_truth_ik(args.data, args.frames, args.stride, args.seed)
    result["rigid_floor"] = {folder: rigid_floor(folder) for folder in args.outputs}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
