"""Lifting a sequence of any length, the `ssrstf.lift` API, `ssrstf infer` and `ssrstf demo`."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import ssrstf
from ssrstf.checkpoint import export_weights
from ssrstf.cli import main
from ssrstf.data.clips import plan_windows, window_weights
from ssrstf.keypoints.keypoints2d import Keypoints2D
from ssrstf.keypoints.prepare import prepare_keypoints
from ssrstf.keypoints.sample import FOCAL_PX, IMAGE_SIZE, make_sample
from ssrstf.lifting.lifter import Lifter
from ssrstf.models.tta import predict_with_flip
from ssrstf.skeleton import COCO_17, H36M_17

T = 9
SIZE = (640, 480)
HAS_VIZ = all(importlib.util.find_spec(m) for m in ("matplotlib", "imageio_ffmpeg", "PIL"))


def random_keypoints(frames: int, seed: int = 0) -> np.ndarray:
    """(F, 17, 3) smooth pixel keypoints inside a 640x480 image, confidence 1."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([200, 100], [440, 400], size=(1, 17, 2))
    drift = np.cumsum(rng.normal(scale=2.0, size=(frames, 17, 2)), axis=0)
    return np.concatenate([base + drift, np.ones((frames, 17, 1))], axis=-1)


def reference_lift(lifter: Lifter, keypoints: np.ndarray, stride: int) -> np.ndarray:
    """Slow, independent stitching: per frame, the weighted mean over the windows covering it."""
    model, window = lifter.model, lifter.num_frames
    x = torch.as_tensor(lifter.model_inputs(keypoints, SIZE))
    frames, before = len(x), 0
    if frames < window:  # centred: the first frame repeated before it, the last after
        before = (window - frames) // 2
        after = window - frames - before
        x = torch.cat([x[:1].expand(before, -1, -1), x, x[-1:].expand(after, -1, -1)])
    starts = list(range(0, len(x) - window + 1, stride))
    if starts[-1] != len(x) - window:
        starts.append(len(x) - window)
    with torch.no_grad():
        outs = {s: predict_with_flip(model, x[None, s : s + window], H36M_17)[0] for s in starts}
    result = np.zeros((frames, 17, 3))
    for f in range(before, before + frames):
        acc, total = np.zeros((17, 3)), 0.0
        for s, out in outs.items():
            if s <= f < s + window:
                w = min(f - s + 1, window - (f - s))
                acc += w * out[f - s].double().numpy()
                total += w
        pose = acc / total * 1000.0
        result[f - before] = pose - pose[0]
    return result


def test_plan_windows_cover_every_frame() -> None:
    assert plan_windows(5, 9, 6) == [0]
    assert plan_windows(9, 9, 6) == [0]
    assert plan_windows(10, 9, 6) == [0, 1]
    assert plan_windows(27, 9, 9) == [0, 9, 18]
    assert plan_windows(30, 9, 6) == [0, 6, 12, 18, 21]
    for frames in range(1, 60):
        starts = plan_windows(frames, 9, 6)
        covered = np.zeros(max(frames, 9), bool)
        for s in starts:
            covered[s : s + 9] = True
        assert covered.all() and starts[-1] + 9 == max(frames, 9)
    assert window_weights(5).tolist() == [1, 2, 3, 2, 1]
    with pytest.raises(ValueError, match="empty"):
        plan_windows(0, 9, 6)
    with pytest.raises(ValueError, match="stride"):
        plan_windows(20, 9, 10)


@pytest.mark.parametrize("frames", [1, 4, T - 1, T, T + 1, 3 * T + 5])
def test_windowed_lifting_matches_slow_reference(tiny_checkpoint: Path, frames: int) -> None:
    lifter = Lifter(tiny_checkpoint, overlap=3, batch_size=2)
    keypoints = random_keypoints(frames)
    poses = lifter.lift(keypoints, SIZE)
    assert poses.shape == (frames, 17, 3)
    np.testing.assert_allclose(poses[:, 0], 0.0, atol=1e-9)
    np.testing.assert_allclose(poses, reference_lift(lifter, keypoints, T - 3), atol=1e-3)


def test_single_window_and_disjoint_windows_equal_direct_calls(tiny_checkpoint: Path) -> None:
    lifter = Lifter(tiny_checkpoint, overlap=0, flip=False)
    keypoints = random_keypoints(2 * T, seed=1)
    poses = lifter.lift(keypoints, SIZE)
    x = torch.as_tensor(lifter.model_inputs(keypoints, SIZE))
    with torch.no_grad():
        direct = torch.cat([lifter.model(x[None, :T])[0], lifter.model(x[None, T:])[0]])
    direct = direct.double().numpy() * 1000.0
    np.testing.assert_allclose(poses, direct - direct[:, :1], atol=1e-3)
    # The batch size is only a speed knob.
    again = Lifter(tiny_checkpoint, overlap=0, flip=False, batch_size=1).lift(keypoints, SIZE)
    np.testing.assert_allclose(again, poses, atol=1e-4)


def test_frame_stride_model_lifts_each_phase_and_interleaves(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """A model trained on every 3rd frame (data.frame_stride: 3) sees every 3rd frame."""
    from dataclasses import replace

    from ssrstf.checkpoint import load_model
    from ssrstf.lifting.streaming import StreamingLifter

    model, cfg = load_model(tiny_checkpoint)
    strided_path = tmp_path / "strided.safetensors"
    export_weights(strided_path, model, replace(cfg, data=replace(cfg.data, frame_stride=3)))
    strided, plain = Lifter(strided_path, overlap=3), Lifter(tiny_checkpoint, overlap=3)
    assert (strided.frame_stride, plain.frame_stride) == (3, 1)
    for frames in (2, 3 * T + 4):
        keypoints = random_keypoints(frames, seed=3)
        poses = strided.lift(keypoints, SIZE)
        assert poses.shape == (frames, 17, 3)
        for phase in range(min(3, frames)):
            np.testing.assert_allclose(
                poses[phase::3], plain.lift(keypoints[phase::3], SIZE), atol=1e-9
            )
    with pytest.raises(ValueError, match="takes one frame in 3"):
        StreamingLifter(strided_path, image_size=SIZE)
    # Run at another stride (a model trained at several, data.train_frame_strides): the same
    # weights on consecutive frames are the plain model, and the plain model at stride 3 is
    # the strided one.
    keypoints = random_keypoints(3 * T + 4, seed=4)
    at_one = Lifter(strided_path, overlap=3, frame_stride=1)
    assert at_one.frame_stride == 1
    np.testing.assert_allclose(at_one.lift(keypoints, SIZE), plain.lift(keypoints, SIZE), atol=1e-9)
    np.testing.assert_allclose(
        Lifter(tiny_checkpoint, overlap=3, frame_stride=3).lift(keypoints, SIZE),
        strided.lift(keypoints, SIZE),
        atol=1e-9,
    )
    with pytest.raises(ValueError, match="frame_stride must be >= 1"):
        Lifter(tiny_checkpoint, frame_stride=0)


def test_lifting_is_mirror_equivariant(tiny_checkpoint: Path) -> None:
    """Mirroring the video (x -> W - x, left <-> right) mirrors the 3D poses (flip TTA on)."""
    lifter = Lifter(tiny_checkpoint)
    keypoints = random_keypoints(20, seed=2)
    mirrored = H36M_17.flip(keypoints)  # swaps left/right and negates x ...
    mirrored[..., 0] += SIZE[0]  # ... so x -> W - x
    poses = lifter.lift(keypoints, SIZE)
    np.testing.assert_allclose(lifter.lift(mirrored, SIZE), H36M_17.flip(poses), atol=1e-3)


def test_gt_trained_model_ignores_detector_confidence(tiny_checkpoint: Path) -> None:
    lifter = Lifter(tiny_checkpoint)
    assert lifter.constant_confidence  # tiny_debug trains on ground-truth 2D
    keypoints = random_keypoints(12, seed=3)
    scores = keypoints.copy()
    scores[..., 2] = np.random.default_rng(0).uniform(0.2, 1.0, size=scores.shape[:2])
    np.testing.assert_allclose(lifter.lift(scores, SIZE), lifter.lift(keypoints, SIZE))


def test_confidences_above_one_count_as_one() -> None:
    """COCO visibility flags (2 = visible) or raw detector scores above 1: the packaged model,
    trained on confidences in [0, 1], sees 1."""
    lifter = Lifter("default")
    assert not lifter.constant_confidence
    keypoints = random_keypoints(30, seed=4)
    keypoints[..., 2] = 1.0
    flags = keypoints.copy()
    flags[..., 2] = 2.0
    np.testing.assert_array_equal(
        lifter.model_inputs(flags, SIZE), lifter.model_inputs(keypoints, SIZE)
    )


@pytest.mark.parametrize(
    ("keypoints", "size", "message"),
    [
        (np.zeros((10, 16, 3)), SIZE, r"\(frames, 17, 2 or 3\)"),
        (np.full((10, 17, 3), np.nan), SIZE, "NaN"),
        (np.zeros((10, 17, 3)), (0, 480), "positive"),
    ],
)
def test_lifter_rejects_bad_input(tiny_checkpoint: Path, keypoints, size, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Lifter(tiny_checkpoint).lift(keypoints, size)


def test_lifter_rejects_bad_settings(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="overlap"):
        Lifter(tiny_checkpoint, overlap=T)
    corrupt = tmp_path / "bad.safetensors"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.safetensors"):
        Lifter(corrupt)
    with pytest.raises(FileNotFoundError):
        Lifter(tmp_path / "missing.pt")


def test_prepare_converts_fills_and_reports(tmp_path: Path) -> None:
    coco = np.zeros((6, 17, 3))
    coco[..., :2] = np.random.default_rng(0).uniform(100, 300, size=(6, 17, 2))
    coco[..., 2] = 0.9
    coco[2, COCO_17.index("left_wrist")] = 0.0  # one missing joint
    valid = np.array([True, True, True, False, True, True])
    coco[3] = 0.0  # no person in frame 3
    kp = Keypoints2D(coco, COCO_17, valid, image_size=None, fps=30.0, source="test")
    with pytest.raises(ValueError, match="image size is unknown"):
        prepare_keypoints(kp)
    h36m, filled = prepare_keypoints(kp, (640, 480))
    assert h36m.skeleton == H36M_17 and h36m.image_size == (640, 480)
    assert filled[2, H36M_17.index("left_wrist")] and filled[3].all()
    assert filled.sum() == 1 + 17
    assert (h36m.keypoints[filled, 2] == 0).all() and np.isfinite(h36m.keypoints).all()
    # The filled frame is interpolated halfway between its neighbours.
    np.testing.assert_allclose(
        h36m.keypoints[3, :, :2], (h36m.keypoints[2, :, :2] + h36m.keypoints[4, :, :2]) / 2
    )
    with pytest.raises(ValueError, match="outside"):
        prepare_keypoints(kp, (20, 20))
    # NaN coordinates with a confidence (a Keypoints2D built directly; the readers refuse
    # them): that joint alone is missing, filled, and the mask says so.
    joints = np.concatenate([coco[:4, :, :2], np.full((4, 17, 1), 0.9)], -1)
    joints[2, H36M_17.index("right_ankle"), 0] = np.nan
    kp = Keypoints2D(joints, H36M_17, np.ones(4, bool), image_size=None, fps=30.0, source="t")
    h36m, filled = prepare_keypoints(kp, (640, 480))
    assert filled[2, H36M_17.index("right_ankle")] and filled.sum() == 1
    assert (h36m.keypoints[filled, 2] == 0).all() and np.isfinite(h36m.keypoints).all()


def test_lift_api_array_and_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    keypoints = random_keypoints(15, seed=4)
    direct = Lifter(tiny_checkpoint).lift(keypoints, SIZE)
    api = ssrstf.lift(keypoints, SIZE, checkpoint=tiny_checkpoint)
    np.testing.assert_allclose(api, direct, atol=1e-9)
    # A bare 17-joint .npy (three skeletons have 17 joints): ``skeleton`` says which.
    np.save(tmp_path / "bare.npy", keypoints)
    with pytest.raises(ValueError, match="could be any of"):
        ssrstf.lift(tmp_path / "bare.npy", SIZE, checkpoint=tiny_checkpoint)
    from_file = ssrstf.lift(
        tmp_path / "bare.npy", SIZE, checkpoint=tiny_checkpoint, skeleton="h36m"
    )
    np.testing.assert_allclose(from_file, direct, atol=1e-9)
    # 2 channels: confidence 1, NaN = missing joint (filled).
    xy = keypoints[..., :2].copy()
    xy[4, 13] = np.nan
    filled = xy.copy()  # a missing joint is interpolated between its neighbouring frames
    filled[4, 13] = (xy[3, 13] + xy[5, 13]) / 2
    np.testing.assert_allclose(
        ssrstf.lift(xy, SIZE, checkpoint=tiny_checkpoint),
        ssrstf.lift(filled, SIZE, checkpoint=tiny_checkpoint),
        atol=1e-9,
    )
    bad = keypoints.copy()
    bad[4, 13, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ssrstf.lift(bad, SIZE, checkpoint=tiny_checkpoint)
    with pytest.raises(ValueError, match="skeleton 'coco'"):
        ssrstf.lift(keypoints[:, :16], SIZE, checkpoint=tiny_checkpoint, skeleton="coco")
    # The same keypoints as a COCO results file.
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_coco_results(keypoints)))
    from_file = ssrstf.lift(path, SIZE, checkpoint=tiny_checkpoint)
    as_read = np.concatenate([keypoints[..., :2], np.full((15, 17, 1), 0.9)], -1)
    expected = ssrstf.lift(as_read, SIZE, checkpoint=tiny_checkpoint, skeleton="coco")
    np.testing.assert_allclose(from_file, expected, atol=1e-9)


def _coco_results(h36m_keypoints: np.ndarray) -> list[dict]:
    """A COCO keypoint-results list whose 17 joints are arbitrary but plausible pixels."""
    results = []
    for frame, pose in enumerate(h36m_keypoints):
        kp = np.concatenate([pose[:, :2], np.full((17, 1), 0.9)], -1)
        results.append(
            {"image_id": frame, "category_id": 1, "keypoints": kp.ravel().tolist(), "score": 0.9}
        )
    return results


def test_sample_is_a_consistent_projection() -> None:
    sample = make_sample(seconds=2.0)
    kp = sample.keypoints
    assert kp.num_frames == 100 and kp.image_size == IMAGE_SIZE and kp.fps == 50.0
    again = make_sample(seconds=2.0)
    np.testing.assert_array_equal(again.keypoints.keypoints, kp.keypoints)
    seen = kp.keypoints[..., 2] > 0
    assert not seen.all() and seen.mean() > 0.99  # the occluded wrist
    uv = FOCAL_PX * sample.poses_3d[..., :2] / sample.poses_3d[..., 2:] + 500.0
    np.testing.assert_allclose(kp.keypoints[seen][:, :2], uv[seen], atol=1e-9)
    parents = np.array(H36M_17.parents[1:])
    bones = np.linalg.norm(sample.poses_3d[:, 1:] - sample.poses_3d[:, parents], axis=-1)
    np.testing.assert_allclose(bones, bones[:1].repeat(len(bones), 0), atol=1e-9)


def test_cli_infer_writes_outputs_and_never_overwrites(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keypoints = random_keypoints(12, seed=5)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_coco_results(keypoints)))
    out = tmp_path / "out"
    args = ["infer", str(path), "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--quiet"]
    assert main([*args, "--image-size", "640x480"]) == 0
    printed = capsys.readouterr().out
    assert "coco json (auto-detected" in printed and "12 frames, 640x480 px" in printed
    with np.load(out / "poses_3d.npz") as data:
        assert data["poses_3d"].shape == (12, 17, 3) and data["valid"].all()
        assert data["poses_2d"].shape == (12, 17, 3)
        lifted = ssrstf.lift(path, (640, 480), checkpoint=tiny_checkpoint)
        np.testing.assert_allclose(data["poses_3d"], lifted, atol=1e-4)
    assert json.loads((out / "poses_3d.json").read_text())
    assert (out / "poses_3d.bvh").read_text().startswith("HIERARCHY")
    before = (out / "poses_3d.npz").read_bytes()
    assert main([*args, "--image-size", "640x480"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "poses_3d.npz").read_bytes() == before
    assert main([*args, "--image-size", "640x480", "--overwrite"]) == 0
    # Missing or wrong image size: one-line errors.
    assert main([*args, "--overwrite"]) == 2
    assert "image size is unknown" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--image-size", "20x20"]) == 2
    assert "outside a 20x20 image" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--image-size", "640by480"])


def test_outputs_of_an_earlier_run_are_named_never_removed(
    tiny_checkpoint: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A rerun with other options leaves the earlier run's other files: a warning names them
    (render.mp4 of a --render run, a person folder, mesh.glb) and nothing is deleted."""
    from ssrstf.pipeline.run import stale_outputs

    path = tmp_path / "results.json"
    path.write_text(json.dumps(_coco_results(random_keypoints(12, seed=6))))
    out = tmp_path / "out"
    out.mkdir()
    earlier = {"render.mp4": b"old", "mesh.glb": b"old", "person_1/poses_3d.npz": b"old"}
    for name, data in earlier.items():
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_bytes(data)
    (out / "notes.txt").write_text("mine")  # not a name ssrstf writes: not mentioned
    (out / "person_x").mkdir()
    args = ["infer", str(path), "--checkpoint", str(tiny_checkpoint), "--out", str(out),
            "--quiet", "--image-size", "640x480"]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="ssrstf.pipeline.run"):
        assert main(args) == 0
    assert (
        "holds output(s) of an earlier run that this one did not write: "
        "render.mp4, mesh.glb, person_1 (left as they are" in caplog.text
    )
    for name, data in earlier.items():
        assert (out / name).read_bytes() == data
    assert (out / "notes.txt").read_text() == "mine"
    written = [out / f"poses_3d.{ext}" for ext in ("npz", "json", "bvh", "glb")]
    written.append(out / "viewer.html")
    assert stale_outputs(out, written) == [out / "render.mp4", out / "mesh.glb", out / "person_1"]
    assert stale_outputs(out, [*written, out / "person_1" / "poses_3d.npz"]) == [
        out / "render.mp4", out / "mesh.glb"
    ]  # fmt: skip


def test_cli_infer_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["infer", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.json" in err and err.count("\n") == 1
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert main(["infer", str(empty), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    if importlib.util.find_spec("cv2") is None:
        assert "ssrstf[video]" in err  # without the extra: the one line naming it
    else:
        assert "empty.mp4" in err


@pytest.mark.skipif(not HAS_VIZ, reason="rendering needs the viz extra (matplotlib, Pillow)")
def test_cli_demo_writes_outputs_and_rendering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "error against the generated 3D truth: MPJPE" in printed
    for name in ("poses_3d.npz", "poses_3d.json", "poses_3d.bvh", "render.mp4"):
        assert (out / name).stat().st_size > 0
    with np.load(out / "poses_3d.npz") as data:
        poses, valid = data["poses_3d"], data["valid"]
    assert poses.shape == (200, 17, 3) and valid.all()
    # Plausible people: a root-relative skeleton about human size.
    height = poses[..., 1].max(1) - poses[..., 1].min(1)
    assert 1000 < np.median(height) < 2200
    assert main(["demo", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_array_keypoints_of_the_python_api() -> None:
    """An array handed to the pipeline: confidence from finiteness without a third channel,
    missing joints zeroed, and one-line errors for a wrong shape, no frames, NaN kept confident."""
    from ssrstf.keypoints.inputs import array_keypoints

    xy = np.random.default_rng(0).uniform(0, 640, size=(4, 17, 2))
    xy[1, 5] = np.nan  # a joint the detector missed
    kp = array_keypoints(xy, "h36m", (640, 480))
    assert kp.keypoints.shape == (4, 17, 3) and kp.image_size == (640, 480)
    assert kp.keypoints[1, 5].tolist() == [0.0, 0.0, 0.0]
    assert (np.delete(kp.keypoints[..., 2].ravel(), 1 * 17 + 5) == 1.0).all()
    np.testing.assert_array_equal(kp.keypoints[0, :, :2], xy[0])
    with pytest.raises(ValueError, match=r"must have shape \(frames, 17, 2 or 3\) for skeleton"):
        array_keypoints(xy[..., :1], "h36m", None)
    with pytest.raises(ValueError, match="keypoints have 0 frames"):
        array_keypoints(xy[:0], "h36m", None)
    confident = np.concatenate([xy, np.ones((4, 17, 1))], axis=-1)
    with pytest.raises(ValueError, match=r"NaN/inf coordinates and confidence > 0 .*\(1, 5\)"):
        array_keypoints(confident, "h36m", None)
    coco = array_keypoints(np.zeros((2, 17, 3)) + [100.0, 100.0, 1.0], "coco", (640, 480))
    assert coco.skeleton.name == COCO_17.name


def test_unusable_devices_are_one_line_errors(
    tiny_checkpoint: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ssrstf.mesh.model import load_mesh_model

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="--device cuda: no CUDA device is available"):
        Lifter(tiny_checkpoint, device="cuda")
    with pytest.raises(ValueError, match="--device gpu: not a device; valid: cpu, cuda"):
        ssrstf.lift(random_keypoints(5), SIZE, checkpoint=tiny_checkpoint, device="gpu")
    with pytest.raises(ValueError, match="--device meta: not a device models run on"):
        Lifter(tiny_checkpoint, device="meta")
    with pytest.raises(ValueError, match="--device cuda:0: no CUDA device"):
        load_mesh_model("default", device="cuda:0")
    path = tmp_path / "kp.npy"
    np.save(path, random_keypoints(12))
    args = ["infer", str(path), "--skeleton", "h36m", "--image-size", "640x480", "--quiet"]
    code = main([*args, "--checkpoint", str(tiny_checkpoint), "--device", "cuda",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no CUDA device" in err
    from ssrstf.checkpoint import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"--device cuda:2: this machine has 2 CUDA device"):
        check_device("cuda:2")
    assert check_device("cpu") == torch.device("cpu")


def test_lift_api_reloads_a_rewritten_or_other_checkpoint_file(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssrstf.checkpoint import load_model

    model, cfg = load_model(tiny_checkpoint)
    keypoints = random_keypoints(12, seed=6)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / "a")
    export_weights("model.safetensors", model, cfg)
    first = ssrstf.lift(keypoints, SIZE, checkpoint="model.safetensors")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)
    export_weights("model.safetensors", model, cfg)  # rewritten in place, as a run's last.pt
    rewritten = ssrstf.lift(keypoints, SIZE, checkpoint="model.safetensors")
    assert np.abs(rewritten - first).max() > 1e-3, "stale weights of the rewritten file"
    np.testing.assert_allclose(rewritten, Lifter("model.safetensors").lift(keypoints, SIZE))
    monkeypatch.chdir(tmp_path / "b")  # the same relative name, another file
    shutil.copy(tiny_checkpoint, "model.safetensors")
    other = ssrstf.lift(keypoints, SIZE, checkpoint="model.safetensors")
    np.testing.assert_allclose(other, first, atol=1e-9)
    # A symlink whose target has no suffix (a Hugging Face cache's blobs): loaded by its name.
    Path("blob").write_bytes(Path("model.safetensors").read_bytes())
    Path("linked.safetensors").symlink_to("blob")
    linked = ssrstf.lift(keypoints, SIZE, checkpoint="linked.safetensors")
    np.testing.assert_allclose(linked, first, atol=1e-9)


def test_lift_mesh_keeps_a_bounded_number_of_recoverers(monkeypatch: pytest.MonkeyPatch) -> None:
    from ssrstf.pipeline import api

    built = []
    monkeypatch.setattr(api, "MeshRecoverer", lambda *a, **k: built.append(a) or object())
    api._recoverer.cache_clear()
    try:
        for i in range(6):
            api._cached_recoverer(f"mesh{i}.safetensors", "cpu", "")
        api._cached_recoverer("mesh5.safetensors", "cpu", "")
        assert len(built) == 6 and api._recoverer.cache_info().currsize <= 2
    finally:
        api._recoverer.cache_clear()


def test_a_per_call_frame_stride_lifts_each_phase_and_leaves_the_lifter_as_it_is(
    tiny_checkpoint: Path,
) -> None:
    lifter = Lifter(tiny_checkpoint, overlap=3)
    keypoints = random_keypoints(3 * T + 5, seed=7)
    strided = lifter.lift(keypoints, SIZE, frame_stride=2)
    np.testing.assert_array_equal(
        strided, Lifter(tiny_checkpoint, overlap=3, frame_stride=2).lift(keypoints, SIZE)
    )
    interleaved = np.zeros_like(strided)
    for phase in (0, 1):
        interleaved[phase::2] = lifter.lift(keypoints[phase::2], SIZE)
    np.testing.assert_allclose(strided, interleaved, atol=1e-9)
    assert lifter.frame_stride == 1  # only that call
    plain = lifter.lift(keypoints, SIZE)
    np.testing.assert_array_equal(lifter.lift(keypoints, SIZE, frame_stride=1), plain)
    assert np.abs(plain - strided).max() > 1e-3
    inputs = lifter.model_inputs(keypoints, SIZE)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="frame_stride must be >= 1"):
            lifter.lift_inputs(inputs, frame_stride=bad)


@pytest.mark.parametrize(
    ("fps", "stride"),
    [(None, 1), (0, 1), (-30, 1), (float("nan"), 1), (float("inf"), 1), (25, 1), (50, 1),
     (60, 1), (74.9, 1), (75, 2), (100, 2), (120, 2), (124.9, 2), (125, 3), (240, 5)],
)  # fmt: skip
def test_auto_frame_stride_rounds_fps_over_50_half_up(fps, stride: int) -> None:
    from dataclasses import replace

    from ssrstf.config import load_config
    from ssrstf.lifting.lifter import TRAINING_FPS, auto_frame_stride

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny_debug.yaml")
    assert cfg.data.dataset == "h36m" and cfg.data.frame_stride == 1 and TRAINING_FPS == 50
    assert auto_frame_stride(fps, cfg) == stride
    # MPI-INF-3DHP: no one training rate; a model that takes every 3rd frame keeps its stride.
    hp = replace(cfg, data=replace(cfg.data, dataset="mpi_inf_3dhp"),
                 eval=replace(cfg.eval, protocol="mpi_inf_3dhp"))  # fmt: skip
    assert auto_frame_stride(fps, hp) == 1
    assert auto_frame_stride(fps, replace(cfg, data=replace(cfg.data, frame_stride=3))) == 3


def test_the_pipeline_picks_the_frame_stride_from_the_frame_rate(tiny_checkpoint: Path) -> None:
    from dataclasses import replace

    from ssrstf.pipeline.options import InferOptions
    from ssrstf.pipeline.run import Pipeline

    lifter = Lifter(tiny_checkpoint)
    fast = make_sample(seconds=0.5, fps=100.0).keypoints

    def run(kp: Keypoints2D, **options):
        run = Pipeline(InferOptions(**options), lifter=lifter).lift(kp)
        assert run.result is not None
        return run, run.result.poses_3d, "\n".join(run.report())

    def lifted(kp: Keypoints2D, stride: int) -> np.ndarray:
        h36m, _ = prepare_keypoints(kp)
        return lifter.lift(h36m.keypoints, IMAGE_SIZE, frame_stride=stride)

    strided, poses, printed = run(fast)
    assert strided.frame_stride == 2 and strided.model_frame_stride == 1
    assert (
        "\nlifted every 2nd frame per model window (100 fps input, model trained at 50 fps; "
        "--frame-stride 1 to lift consecutive frames)\n" in printed
    )
    np.testing.assert_allclose(poses, lifted(fast, 2), atol=1e-9)
    for kp, options in [(make_sample(seconds=0.5).keypoints, {}),  # 50 fps
                        (replace(fast, fps=None), {}), (fast, {"frame_stride": 1})]:  # fmt: skip
        plain, poses, printed = run(kp, **options)
        assert plain.frame_stride == 1 and "every" not in printed
        np.testing.assert_allclose(poses, lifted(kp, 1), atol=1e-9)
    given, poses, printed = run(fast, frame_stride=3)
    assert "lifted every 3rd frame per model window (--frame-stride 3)" in printed
    np.testing.assert_allclose(poses, lifted(fast, 3), atol=1e-9)
    # An array takes the options' fps (none: stride 1); the Python API passes it on.
    for fps, stride in ((100.0, 2), (None, 1)):
        api = ssrstf.lift(fast.keypoints, IMAGE_SIZE, checkpoint=tiny_checkpoint, fps=fps)
        np.testing.assert_allclose(api, lifted(fast, stride), atol=1e-9)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="frame_stride must be >= 1"):
            InferOptions(frame_stride=bad)
    assert InferOptions().fingerprint()["frame_stride"] is None
    assert InferOptions(frame_stride=np.int64(2)).fingerprint()["frame_stride"] == 2


def test_cli_frame_stride_for_files_people_and_streams(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_tracking import SIZE as PEOPLE_SIZE
    from test_tracking import _coco_file, _two_crossing

    keypoints = random_keypoints(3 * T, seed=8)
    np.save(tmp_path / "kp.npy", keypoints)
    args = ["infer", str(tmp_path / "kp.npy"), "--skeleton", "h36m", "--image-size", "640x480",
            "--checkpoint", str(tiny_checkpoint), "--quiet", "--fps", "120"]  # fmt: skip
    lifter = Lifter(tiny_checkpoint)
    for extra, stride in (([], 2), (["--frame-stride", "1"], 1)):
        out = tmp_path / f"out{stride}"
        assert main([*args, *extra, "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        line = "lifted every 2nd frame per model window (120 fps input, model trained at 50 fps"
        assert (line in printed) == (stride == 2)
        with np.load(out / "poses_3d.npz") as data:
            expected = lifter.lift(keypoints, SIZE, frame_stride=stride)
            np.testing.assert_allclose(data["poses_3d"], expected, atol=1e-4)
    # Several people: every track at the stride of the file's frame rate.
    path = _coco_file(tmp_path / "people.json", list(_two_crossing()))
    people = ["infer", str(path), "--image-size", "1280x720", "--checkpoint", str(tiny_checkpoint),
              "--quiet", "--fps", "100", "--out", str(tmp_path / "p")]  # fmt: skip
    assert main(people) == 0
    printed = capsys.readouterr().out
    assert "2 people tracked\nlifted every 2nd frame per model window (100 fps" in printed
    with np.load(tmp_path / "p" / "person_0" / "poses_3d.npz") as data:
        expected = lifter.lift(data["poses_2d"], PEOPLE_SIZE, frame_stride=2)
        np.testing.assert_allclose(data["poses_3d"], expected, atol=1e-4)
    # A live stream lifts consecutive frames only; refused before stdin is read.
    assert main(["infer", "--stream", "-", "--frame-stride", "2"]) == 2
    err = capsys.readouterr().err
    assert "--frame-stride 2: --stream lifts consecutive frames only" in err
    assert err.count("\n") == 1
    with pytest.raises(SystemExit):
        main([*args, "--frame-stride", "0", "--out", str(tmp_path / "o0")])
