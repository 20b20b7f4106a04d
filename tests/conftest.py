"""Shared fixtures: a synthetic Human3.6M-like dataset (no real data: its licence forbids it).

3D poses are random walks of a skeleton with fixed bone lengths on `H36M_17`, seen by four known
pinhole cameras on a circle. `synthetic_h36m_raw` writes them in the raw layout that
``ssrstf data prepare-h36m`` reads; `synthetic_h36m` runs that preparation and returns the path of
a prepared ``.npz`` in the project format (docs/data-format.md).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from ssrstf.geometry import H36M_CAMERA_IDS, H36M_CAMERA_RESOLUTIONS
from ssrstf.skeleton import H36M_17, STACKED_HOURGLASS_16

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

SUBJECTS = ("S1", "S9", "S11")
ACTIONS = ("Directions", "Walking 1")
MISSING_SH_STREAM = "S11/Directions/54138969"
"""Like the real release, one stream has no Stacked-Hourglass detections."""


def random_walk_poses(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """(F, 17, 3) world poses in metres: a skeleton with fixed bone lengths walking randomly.

    World z is up. Bone directions start from a standing pose and drift by a random walk on the
    sphere; the root wanders on the floor plane at pelvis height.
    """
    parents = H36M_17.parents
    lengths = rng.uniform(0.1, 0.45, size=len(parents))
    up, down = np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])
    start = np.array([up if H36M_17.parts[j] in (0, 3, 4) else down for j in range(len(parents))])
    start[[H36M_17.index("left_hip"), H36M_17.index("left_shoulder")]] = [0.0, 1.0, 0.0]
    start[[H36M_17.index("right_hip"), H36M_17.index("right_shoulder")]] = [0.0, -1.0, 0.0]
    directions = start + 0.3 * rng.normal(size=(num_frames, *start.shape)).cumsum(0) / 10
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    root = np.array([0.0, 0.0, 0.9]) + np.cumsum(rng.normal(scale=0.01, size=(num_frames, 3)), 0)
    root[:, 2] = 0.9
    poses = np.zeros((num_frames, len(parents), 3))
    for joint, parent in enumerate(parents):  # parents precede children in H36M order
        poses[:, joint] = (
            root if parent < 0 else poses[:, parent] + lengths[joint] * directions[:, joint]
        )
    return poses


def look_at_camera(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation of a camera at ``center`` looking at ``target``."""
    forward = (target - center) / np.linalg.norm(target - center)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(forward, right), forward])


def synthetic_cameras() -> dict[str, dict]:
    """``h36m_cameras.json`` entries: 4 pinhole cameras (no distortion) per subject."""
    cameras = {}
    for subject in SUBJECTS:
        for i, camera_id in enumerate(H36M_CAMERA_IDS):
            angle = np.pi / 4 + i * np.pi / 2
            center = np.array([4.5 * np.cos(angle), 4.5 * np.sin(angle), 1.5])
            width, height = H36M_CAMERA_RESOLUTIONS[camera_id]
            cameras[f"{subject}/{camera_id}"] = {
                "R_world_to_cam": look_at_camera(center, np.array([0.0, 0.0, 1.0])).tolist(),
                "cam_center_world_m": center.tolist(),
                "f": [1145.0, 1143.0],
                "c": [width / 2 + 5.0, height / 2 - 3.0],
                "k": [0.0, 0.0, 0.0],
                "p": [0.0, 0.0],
                "res_w": width,
                "res_h": height,
            }
    return cameras


def write_synthetic_raw(folder: Path, seed: int = 0) -> Path:
    """Write the raw layout (3D world npz, cameras json, SH 2D npz) into ``folder``."""
    from ssrstf.data.prepare import RAW_CAMERAS, RAW_KEYPOINTS_SH, RAW_POSES_3D
    from ssrstf.geometry import world_to_camera

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cameras = synthetic_cameras()
    poses, detections = {}, {}
    sh_from_h36m = [H36M_17.index(name) for name in STACKED_HOURGLASS_16.joint_names]
    for s, subject in enumerate(SUBJECTS):
        for a, action in enumerate(ACTIONS):
            world = random_walk_poses(rng, num_frames=36 + 3 * s + 2 * a)
            poses[f"{subject}/{action}"] = world.astype(np.float32)
            for camera_id in H36M_CAMERA_IDS:
                key = f"{subject}/{action}/{camera_id}"
                if key == MISSING_SH_STREAM:
                    continue
                cam = cameras[f"{subject}/{camera_id}"]
                points = world_to_camera(world, cam["R_world_to_cam"], cam["cam_center_world_m"])
                pixels = np.asarray(cam["f"]) * points[..., :2] / points[..., 2:] + cam["c"]
                noisy = pixels[:, sh_from_h36m] + rng.normal(scale=3.0, size=(len(world), 16, 2))
                detections[key] = np.round(noisy).astype(np.int16)
    np.savez(folder / RAW_POSES_3D, **poses)
    np.savez(folder / RAW_KEYPOINTS_SH, **detections)
    (folder / RAW_CAMERAS).write_text(json.dumps(cameras))
    return folder


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator."""
    return np.random.default_rng(0)


@pytest.fixture
def synthetic_h36m_raw(tmp_path: Path) -> Path:
    """Folder with a synthetic dataset in the raw layout read by ``data prepare-h36m``."""
    return write_synthetic_raw(tmp_path / "raw")


@pytest.fixture
def synthetic_h36m(synthetic_h36m_raw: Path, tmp_path: Path) -> Path:
    """Path of a prepared dataset (project format): 3 subjects (S1 train; S9, S11 test) × 2
    actions × 4 cameras × 36-41 frames; 2D sources ``gt`` and ``sh`` (noisy, one stream absent).
    """
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import prepare_h36m

    streams = prepare_h36m(synthetic_h36m_raw, progress=False)
    return save_streams(streams, tmp_path / "h36m_synthetic.npz")


@pytest.fixture(scope="session")
def anny_body():
    """One anny body model (`ssrstf.mesh.anny_body.AnnyBody`) shared by every mesh test.

    anny's first construction builds a ~0.8 GB cache (35-75 s; ``ANNY_CACHE_DIR``, default
    ``~/.cache/anny``), later ones take a second: building it once per session keeps CI short.
    """
    pytest.importorskip("anny", reason="needs the mesh extra (pip install -e '.[mesh]')")
    from ssrstf.mesh.model import build_body_model

    return build_body_model("anny")  # the instance every mesh model of the session shares


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised model (``configs/tiny_debug.yaml``, T = 9) exported like the
    packaged one, every parameter perturbed (the zero-initialised residual scales too) so that
    every branch changes the output."""
    import torch

    from ssrstf.checkpoint import export_weights
    from ssrstf.config import load_config
    from ssrstf.models import SSRSTF

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny_debug.yaml")
    torch.manual_seed(0)
    model = SSRSTF(cfg.model).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    export_weights(path, model, cfg)
    return path


@pytest.fixture(scope="session")
def benchmark_script():
    """``benchmark_script("NAME")``: the script ``benchmarks/NAME.py`` as the module ``NAME``.

    ``benchmarks/`` is on ``sys.path`` (last, for the session), so the processes a script spawns
    and the dataclasses and pickles it makes find it by name as well.
    """
    sys.path.append(str(BENCHMARKS))
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(str(BENCHMARKS))
