"""Fuzzing of every reader: random bytes and mutated valid files give only the
documented errors (`ValueError`, including `KeypointFormatError` and `ConfigError`, or
`FileNotFoundError`), never another exception, and no example takes over 5 seconds.

Examples are few and derandomised (the same inputs on every run) so CI stays fast and stable;
raise ``SSRSTF_FUZZ_EXAMPLES`` locally for a longer hunt (random seeds then).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssrstf.checkpoint import export_weights, load_checkpoint, load_model, save_checkpoint
from ssrstf.config import load_config, to_dict
from ssrstf.data.h36m import load_streams, save_streams
from ssrstf.data.prepare import load_h36m_cameras, read_npz_object
from ssrstf.evaluation import mpi_inf_3dhp
from ssrstf.evaluation import protocol as h36m_protocol
from ssrstf.keypoints.readers import read_keypoints
from ssrstf.keypoints.sample import make_sample
from ssrstf.models import create_model
from ssrstf.outputs.bvh import read_bvh, write_bvh
from ssrstf.skeleton import H36M_17

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("SSRSTF_FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=5000,  # ms: "no hang over 5 seconds"
    derandomize="SSRSTF_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
DOCUMENTED = (ValueError, FileNotFoundError)


# ------------------------------------------------------------------------- valid seed files


def _seeds(folder: Path) -> dict[str, Path]:
    """One small valid file per reader."""
    from conftest import write_synthetic_raw

    from ssrstf.data.prepare import prepare_h36m

    kp = make_sample().keypoints.keypoints[:12]
    seeds: dict[str, Path] = {}
    seeds["npy"] = folder / "kp.npy"
    np.save(seeds["npy"], kp)
    seeds["npz"] = folder / "kp.npz"
    np.savez(seeds["npz"], keypoints=kp, image_size=np.array([1000, 1000]), fps=np.array(50.0))
    coco = [{"image_id": i, "category_id": 1, "keypoints": [v for p in kp[i, :17] for v in p],
             "score": 0.9} for i in range(len(kp))]  # fmt: skip
    seeds["coco"] = folder / "coco.json"
    seeds["coco"].write_text(json.dumps(coco))
    seeds["openpose"] = folder / "f_000_keypoints.json"
    body25 = np.concatenate([kp[0], kp[0, :8]])
    seeds["openpose"].write_text(
        json.dumps({"people": [{"pose_keypoints_2d": body25.ravel().tolist()}]})
    )
    blaze = {"frames": [np.concatenate([kp[i], kp[i, :16]]).tolist() for i in range(3)],
             "image_size": [1000, 1000], "fps": 25}  # fmt: skip
    seeds["blazepose"] = folder / "blaze.json"
    seeds["blazepose"].write_text(json.dumps(blaze))
    raw = write_synthetic_raw(folder / "raw")
    streams = prepare_h36m(raw, subjects=["S9"], progress=False).select([0])
    seeds["prepared"] = save_streams(streams, folder / "prepared.npz")
    seeds["cameras"] = raw / "h36m_cameras.json"
    cfg = load_config(ROOT / "configs" / "tiny_debug.yaml", ["model.num_frames=9"])
    model = create_model(cfg.model)
    seeds["checkpoint"] = save_checkpoint(
        folder / "tiny.pt", {"config": to_dict(cfg), "model": model.state_dict()}
    )
    seeds["safetensors"] = export_weights(folder / "tiny.safetensors", model, cfg)
    seeds["config"] = ROOT / "configs" / "tiny_debug.yaml"
    seeds["predictions"] = folder / "preds.npz"
    np.savez(seeds["predictions"], **{"S9/Walking/54138969": np.zeros((5, 17, 3))})
    seeds["predictions_3dhp"] = folder / "preds3dhp.npz"
    np.savez(seeds["predictions_3dhp"], TS1=np.zeros((5, 17, 3)))
    seeds["bvh"] = folder / "poses.bvh"
    poses = make_sample().poses_3d[:4]
    write_bvh(seeds["bvh"], poses - poses[:, :1], 50.0, skeleton=H36M_17)
    seeds["videopose3d"] = folder / "data_3d.npz"
    positions = np.empty((), dtype=object)
    positions[()] = {"S9": {"Walking": np.zeros((4, 17, 3), np.float32)}}
    np.savez(seeds["videopose3d"], positions_3d=positions)
    return seeds


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _seeds(tmp_path_factory.mktemp("seeds"))


# The readers, each called on a path (suffix as the seed's) and allowed the documented errors.
READERS: dict[str, Callable[[Path], object]] = {
    "npy": lambda p: read_keypoints(p, skeleton_name="h36m"),
    "npz": lambda p: read_keypoints(p, skeleton_name="h36m"),
    "coco": read_keypoints,
    "openpose": read_keypoints,
    "blazepose": read_keypoints,
    "prepared": load_streams,
    "cameras": load_h36m_cameras,
    "checkpoint": load_model,
    "safetensors": load_model,
    "config": load_config,
    "predictions": h36m_protocol.load_predictions,
    "predictions_3dhp": mpi_inf_3dhp.load_predictions,
    "bvh": read_bvh,
    "videopose3d": lambda p: read_npz_object(p, "positions_3d"),
}


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes replaced, a slice cut out, or cut short."""
    out = bytearray(data)
    kind = draw(st.sampled_from(["flip", "cut", "truncate", "insert"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    elif kind == "cut":
        start = draw(st.integers(0, len(out) - 1))
        del out[start : start + draw(st.integers(1, 64))]
    elif kind == "truncate":
        del out[draw(st.integers(0, len(out) - 1)) :]
    else:
        at = draw(st.integers(0, len(out)))
        out[at:at] = draw(st.binary(min_size=1, max_size=32))
    return bytes(out)


def _check(reader: Callable[[Path], object], path: Path, data: bytes) -> None:
    path.write_bytes(data)
    with contextlib.suppress(*DOCUMENTED):
        reader(path)


@pytest.mark.parametrize("name", sorted(READERS))
def test_random_bytes_give_only_documented_errors(
    name: str, seeds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    target = tmp_path_factory.mktemp("random") / seeds[name].name

    @FUZZ
    @given(data=st.binary(max_size=2048))
    def run(data: bytes) -> None:
        _check(READERS[name], target, data)

    run()


@pytest.mark.parametrize("name", sorted(READERS))
def test_mutated_valid_files_give_only_documented_errors(
    name: str, seeds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    valid = seeds[name].read_bytes()
    READERS[name](seeds[name])  # the seed itself is read without error
    target = tmp_path_factory.mktemp("mutated") / seeds[name].name

    @FUZZ
    @given(data=mutations(valid))
    def run(data: bytes) -> None:
        _check(READERS[name], target, data)

    run()


@FUZZ
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
))  # fmt: skip
def test_valid_json_of_any_shape_gives_only_documented_errors(value: object) -> None:
    # Well-formed JSON that is not a keypoint or camera file: the readers' type checks.
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for name, reader in (("kp.json", read_keypoints), ("c.json", load_h36m_cameras)):
            path = Path(folder) / name
            path.write_text(json.dumps(value))
            with contextlib.suppress(*DOCUMENTED):
                reader(path)


@FUZZ
@given(value=st.recursive(
    st.none() | st.integers() | st.text(max_size=4) | st.just(np.zeros(2)),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
))  # fmt: skip
def test_checkpoints_of_any_content_give_only_documented_errors(value: object) -> None:
    # torch.save of plain data that is not an ssrstf checkpoint (weights_only can read it).
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.pt"
        torch.save({"format_version": 1, "model": value, "config": value}, path)
        for reader in (load_checkpoint, load_model):
            with contextlib.suppress(*DOCUMENTED):
                reader(path)


def test_the_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    # A pickle that would run code must be refused as a documented error, never executed.
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > /dev/null",))

    payload = np.empty((), dtype=object)
    payload[()] = Evil()
    path = tmp_path / "evil.npz"
    with open(path, "wb") as handle:
        np.savez(handle, positions_3d=payload)
    with pytest.raises(ValueError, match="refusing to unpickle"):
        read_npz_object(path, "positions_3d")
    assert pickle.dumps(1)  # pickle itself is only used here to build the payload
