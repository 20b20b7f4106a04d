"""What ``--mesh`` adds to ``ssrstf infer``: time per frame of each stage, and agreement.

Runs the packaged lifter and mesh head (or ``--mesh-checkpoint``) on the built-in sample (or
a keypoint ``.npy`` in H36M-17 pixel order) and reports, per frame, the process CPU time (all
threads; with ``--threads 1`` it is the single-core cost, what an idle machine's wall clock
shows, so the figure does not depend on how busy a shared machine is) and the wall time of:
the head (backbone features, swing IK, head), the body model (full mesh), ``mesh.npz`` and
``mesh.glb`` writing, and the mesh panel of the rendering. Also the median distance of the
mesh joints from the lifted ``poses_3d``.

    python benchmarks/mesh.py --threads 1 [--frames 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ssrstf.keypoints.sample import make_sample
from ssrstf.lifting.lifter import Lifter
from ssrstf.lifting.meshes import MeshRecoverer, mesh_agreement_mm
from ssrstf.outputs.mesh_files import write_mesh_npz
from ssrstf.outputs.mesh_gltf import write_mesh_glb


def _timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def _per_frame(cpu: float, wall: float, frames: int) -> dict[str, float]:
    return {"cpu": 1e3 * cpu / frames, "wall": 1e3 * wall / frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh-checkpoint", default="default")
    parser.add_argument("--keypoints", help="(F, 17, 2|3) H36M-17 pixels .npy (default: sample)")
    parser.add_argument("--image-size", default="1000x1000")
    parser.add_argument("--frames", type=int, default=200, help="sample length in frames")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--render-frames", type=int, default=10, help="mesh panels to time")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = tuple(int(v) for v in args.image_size.split("x"))
    if args.keypoints:
        keypoints = np.load(args.keypoints, allow_pickle=False)
    else:
        keypoints = make_sample(seconds=args.frames / 50.0).keypoints.keypoints
    frames = len(keypoints)
    lifter = Lifter("default", flip=True)
    recoverer = MeshRecoverer(args.mesh_checkpoint, lifter=lifter)
    recoverer.recover(keypoints[:30], size)  # warm-up (caches, kernels)
    poses, lift_cpu, lift_wall = _timed(lambda: lifter.lift(keypoints, size))
    mesh, mesh_cpu, mesh_wall = _timed(lambda: recoverer.recover(keypoints, size))
    figures = {
        "frames": frames,
        "threads": args.threads,
        "lift_ms_per_frame": {"cpu": 1e3 * lift_cpu / frames, "wall": 1e3 * lift_wall / frames},
        "mesh_ms_per_frame": {"cpu": 1e3 * mesh_cpu / frames, "wall": 1e3 * mesh_wall / frames},
        "mesh_stage_wall_ms_per_frame": {k: 1e3 * v / frames for k, v in mesh.seconds.items()},
    }
    with tempfile.TemporaryDirectory() as folder:
        npz = Path(folder) / "mesh.npz"
        glb = Path(folder) / "mesh.glb"
        _, npz_cpu, npz_wall = _timed(lambda: write_mesh_npz(npz, mesh, 50.0))
        _, glb_cpu, glb_wall = _timed(lambda: write_mesh_glb(glb, mesh, 50.0))
        figures["npz_ms_per_frame"] = {
            "cpu": 1e3 * npz_cpu / frames,
            "wall": 1e3 * npz_wall / frames,
        }
        figures["glb_ms_per_frame"] = {
            "cpu": 1e3 * glb_cpu / frames,
            "wall": 1e3 * glb_wall / frames,
        }
        figures["npz_bytes_per_frame"] = npz.stat().st_size / frames
        figures["glb_bytes"] = glb.stat().st_size
    try:
        from ssrstf.outputs.mesh_render import MeshShader

        shader = MeshShader(mesh.vertices, mesh.faces, size=480)
        count = min(args.render_frames, frames)
        _, cpu, wall = _timed(lambda: [shader.draw(mesh.vertices[i]) for i in range(count)])
        figures["mesh_panel_ms_per_frame"] = {"cpu": 1e3 * cpu / count, "wall": 1e3 * wall / count}
    except ImportError:
        pass
    distance = mesh_agreement_mm(mesh, poses)
    figures["mesh_vs_poses_3d_mm"] = {"median": float(np.median(distance)),
                                      "mean": float(distance.mean())}  # fmt: skip
    extra = figures["mesh_ms_per_frame"]["cpu"] + figures["npz_ms_per_frame"]["cpu"]
    figures["extra_ms_per_frame_cpu"] = extra + figures["glb_ms_per_frame"]["cpu"]
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
