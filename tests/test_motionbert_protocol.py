"""The MotionBERT protocol frame for frame: a file in MotionBERT's pickle layout, converted and
scored by ``ssrstf evaluate``, against a slow re-implementation of MotionBERT's ``evaluate``.

The reference below is written from the description of MotionBERT's ``train.py::evaluate``,
``lib/data/datareader_h36m.py`` and ``lib/utils/utils_data.py::split_clips`` (docs/evaluation.md,
reference-codebases §2.1 and §3.2) with per-frame loops and no project code except the model
itself: it walks the per-frame ``source`` list to cut non-overlapping clips (tail dropped),
skips clips whose ``source[:-6]`` is in the block list, screen-normalises the 2D, runs the model
and its mirrored copy, zeroes the root, (``gt_2d``) replaces x, y by the input, denormalises
with the clip's camera, multiplies by ``2.5d_factor``, scores against ``joints_2.5d_image``,
averages a frame's errors over its occurrences and groups frames by the stored ``action``.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrstf.checkpoint import export_weights, load_model
from ssrstf.cli import main
from ssrstf.config import load_config
from ssrstf.data.prepare import convert_motionbert
from ssrstf.models import SSRSTF

T = 9
"""Clip length of the tiny model (and of ``--frames`` for stored predictions)."""

RESOLUTION = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}
CAMERAS = tuple(RESOLUTION)
BLOCK_LIST = ("s_09_act_05_subact_02", "s_09_act_10_subact_02", "s_09_act_13_subact_01")
LEFT, RIGHT = [4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]

# (subject, act, subact, camera index, stored action label, frames). Every label has scored
# frames; lengths are not multiples of T, so every stream has an unscored tail.
TEST_STREAMS = [
    (9, 5, 2, 0, "Greeting", 23),  # blocked
    (9, 5, 1, 1, "Greeting", 31),
    (9, 10, 1, 0, "SittingDown", 29),  # named "S9/SittingDown 1", a blocked name; id kept
    (9, 10, 2, 2, "SittingDown", 20),  # blocked
    (11, 10, 2, 3, "SittingDown", 22),
    (9, 13, 1, 1, "Waiting", 19),  # blocked
    (11, 13, 1, 2, "Waiting", 25),
    (9, 15, 1, 1, "Walking", 28),
    (11, 15, 2, 0, "Walking 1", 30),  # a label with a sub-action number: its own action
]
TRAIN_STREAMS = [(1, 2, 1, 0, "Directions", 12), (1, 15, 1, 3, "Walking", 14)]


def _source(subject: int, act: int, subact: int, camera: int) -> str:
    return f"s_{subject:02d}_act_{act:02d}_subact_{subact:02d}_ca_{camera + 1:02d}"


def _key(subject: int, subact: int, camera: int, label: str) -> str:
    """The stream key `convert-motionbert` gives (subject/"<label> <subaction>"/camera)."""
    return f"S{subject}/{label} {subact}/{CAMERAS[camera]}"


def _split(rng: np.random.Generator, streams: list[tuple]) -> dict[str, object]:
    """Per-frame arrays of one split, in MotionBERT's layout (frames of all videos in a row)."""
    image, factor, gt_2_5d, sources, actions, cameras = [], [], [], [], [], []
    for subject, act, subact, camera, label, frames in streams:
        centre = rng.uniform([350, 300], [650, 700])
        offsets = rng.normal(scale=[70, 140], size=(17, 2))
        drift = np.cumsum(rng.normal(scale=3.0, size=(frames, 17, 2)), axis=0)
        depth = rng.normal(scale=60.0, size=(1, 17, 1)) + rng.normal(
            scale=4.0, size=(frames, 17, 1)
        )
        image.append(np.concatenate([centre + offsets + drift, depth], axis=-1))
        lam = rng.uniform(3.5, 5.5) + 0.2 * np.sin(np.arange(frames) / 5.0)
        factor.append(lam)
        # Stored 2.5D ground truth: λ · joint3d_image up to a translation, plus a few mm of its
        # own (so it differs from the fallback λ · joint3d_image that the code must not use).
        shift = rng.uniform([-800, -800, 4000], [800, 800, 6000])
        noise = rng.normal(scale=4.0, size=(frames, 17, 3))
        gt_2_5d.append(image[-1] * lam[:, None, None] + shift + noise)
        sources += [_source(subject, act, subact, camera)] * frames
        actions += [label] * frames
        cameras += [CAMERAS[camera]] * frames
    joint3d_image = np.concatenate(image).astype(np.float32)
    num_frames = len(joint3d_image)
    return {
        "joint_2d": joint3d_image[..., :2] + rng.normal(scale=4.0, size=(num_frames, 17, 2)),
        # (float64 as written; MotionBERT's reader and the converter read it as float32)
        "confidence": rng.uniform(0.3, 1.0, size=(num_frames, 17)).astype(np.float32),
        "joint3d_image": joint3d_image,
        "joints_2.5d_image": np.concatenate(gt_2_5d).astype(np.float32),
        "2.5d_factor": np.concatenate(factor).astype(np.float32),
        "camera_name": cameras,
        "action": actions,
        "source": sources,
        "c3d_frame": np.arange(num_frames),
    }


@pytest.fixture(scope="module")
def motionbert_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Path]:
    """``(pickle dict, pickle path, converted .npz)``: a pickle written in MotionBERT's layout
    and its ``convert-motionbert --allow-pickle`` conversion."""
    folder = tmp_path_factory.mktemp("motionbert")
    rng = np.random.default_rng(16)
    data = {"train": _split(rng, TRAIN_STREAMS), "test": _split(rng, TEST_STREAMS)}
    path = folder / "h36m_sh_conf_cam_source_final.pkl"
    path.write_bytes(pickle.dumps(data))
    out = folder / "h36m_mb.npz"
    cmd = ["data", "convert-motionbert", "--pickle", str(path), "--allow-pickle", "--out"]
    assert main([*cmd, str(out)]) == 0
    return data, path, out


def _tiny_checkpoint(path: Path, target_space: str, frame_stride: int = 1) -> Path:
    """A tiny random SSR-STF (T = 9) on Stacked-Hourglass 2D with confidence."""
    cfg = load_config("configs/tiny_debug.yaml")
    protocol = "motionbert" if target_space == "image_2.5d" else "videopose3d"
    cfg = replace(
        cfg,
        data=replace(
            cfg.data, input_source="sh", target_space=target_space, frame_stride=frame_stride
        ),
        eval=replace(cfg.eval, protocol=protocol, batch_size=1),
    )
    torch.manual_seed(3)
    model = SSRSTF(cfg.model).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return export_weights(path, model, cfg)


# ----------------------------------------------------------------------------- the reference


def reference_split_clips(sources: list[str], n_frames: int) -> list[list[int]]:
    """Clips of ``n_frames`` consecutive frames of one video, one after the other from each
    video's start; the frames left at a video's end (fewer than ``n_frames``) are dropped."""
    clips, current = [], []
    for frame in range(len(sources)):
        if frame > 0 and sources[frame] != sources[frame - 1]:
            current = []  # a new video: the unfinished clip of the last one is dropped
        current.append(frame)
        if len(current) == n_frames:
            clips.append(current)
            current = []
    return clips


def reference_normalize(x: float, y: float, camera: str) -> tuple[float, float]:
    width, height = RESOLUTION[camera]
    return x / width * 2 - 1, y / width * 2 - height / width


def reference_flip(pose: np.ndarray) -> np.ndarray:
    """Negate x of every joint, swap the left and right joints (MotionBERT ``flip_data``)."""
    out = pose.copy()
    out[..., 0] *= -1
    out[..., LEFT + RIGHT, :] = out[..., RIGHT + LEFT, :]
    return out


def reference_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    total = 0.0
    for j in range(len(gt)):
        total += float(np.sqrt(sum((pred[j, c] - gt[j, c]) ** 2 for c in range(3))))
    return total / len(gt)


def reference_p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE after the best similarity transform of ``pred`` onto ``gt`` (no reflection)."""
    mu_x, mu_y = gt.mean(axis=0), pred.mean(axis=0)
    x0, y0 = gt - mu_x, pred - mu_y
    norm_x, norm_y = np.sqrt((x0**2).sum()), np.sqrt((y0**2).sum())
    x0, y0 = x0 / norm_x, y0 / norm_y
    u, s, vt = np.linalg.svd(x0.T @ y0)
    v = vt.T
    r = v @ u.T
    if np.linalg.det(r) < 0:
        v[:, -1] *= -1
        s[-1] *= -1
        r = v @ u.T
    scale = s.sum() * norm_x / norm_y
    aligned = scale * pred @ r + (mu_x - scale * mu_y @ r)
    return reference_mpjpe(aligned, gt)


def reference_evaluate(test: dict, clip_outputs, gt_2d: bool) -> dict:
    """MotionBERT's ``evaluate`` over the test split.

    ``clip_outputs(frames, inputs)`` returns the (T, 17, 3) pose of a clip in model units
    (normalised; denormalised and multiplied by the factor here) or, for stored predictions,
    ``None`` (then the stored mm values are used).
    """
    sources, actions = list(test["source"]), list(test["action"])
    n = len(sources)
    e1_all, e2_all, occurrences = np.zeros(n), np.zeros(n), np.zeros(n)
    for frames in reference_split_clips(sources, T):
        if sources[frames[0]][:-6] in BLOCK_LIST:
            continue
        camera = test["camera_name"][frames[0]]
        width, height = RESOLUTION[camera]
        inputs = np.zeros((T, 17, 3), np.float32)
        for t, f in enumerate(frames):
            for j in range(17):
                if gt_2d:  # MotionBERT: input x, y from the 3D label, confidence 1
                    x, y = test["joint3d_image"][f, j, :2]
                    conf = 1.0
                else:  # MotionBERT's reader casts the detections to float32 first
                    x, y = np.asarray(test["joint_2d"][f, j], dtype=np.float32)
                    conf = test["confidence"][f, j]
                inputs[t, j] = (*reference_normalize(float(x), float(y), camera), conf)
        pred = clip_outputs(frames, inputs)
        stored = pred is None
        if stored:
            pred = np.array([test["predictions"][f] for f in frames], dtype=np.float64)
        else:
            pred = pred.astype(np.float64)
            pred[:, 0, :] = 0.0  # root-relative model
        if gt_2d:
            pred[..., :2] = inputs[..., :2]
        for t, f in enumerate(frames):
            factor = float(test["2.5d_factor"][f])
            if stored and gt_2d:  # stored mm poses: only the x, y come from the input 2D
                pred[t, :, 0] = (pred[t, :, 0] + 1) * width / 2 * factor
                pred[t, :, 1] = (pred[t, :, 1] + height / width) * width / 2 * factor
            elif not stored:
                pred[t, :, 0] = (pred[t, :, 0] + 1) * width / 2 * factor
                pred[t, :, 1] = (pred[t, :, 1] + height / width) * width / 2 * factor
                pred[t, :, 2] = pred[t, :, 2] * width / 2 * factor
            gt = np.asarray(test["joints_2.5d_image"][f], dtype=np.float64)
            p, g = pred[t] - pred[t, 0], gt - gt[0]
            e1_all[f] += reference_mpjpe(p, g)
            e2_all[f] += reference_p_mpjpe(p, g)
            occurrences[f] += 1
    results: dict[str, list[tuple[float, float]]] = {a: [] for a in sorted(set(actions))}
    for f in range(n):
        if e1_all[f] > 0:
            results[actions[f]].append((e1_all[f] / occurrences[f], e2_all[f] / occurrences[f]))
    per_action = {
        a: (np.mean([e[0] for e in v]), np.mean([e[1] for e in v]), len(v))
        for a, v in results.items()
    }
    return {
        "p1_mm": float(np.mean([v[0] for v in per_action.values()])),
        "p2_mm": float(np.mean([v[1] for v in per_action.values()])),
        "per_action": per_action,
    }


def model_outputs(checkpoint: Path):
    """``clip_outputs`` of a model: one clip at a time, plain and mirrored, averaged.

    The clip and its mirror go through the model as one batch of two, the layout in which
    ``ssrstf evaluate`` runs a checkpoint with ``eval.batch_size: 1``: float32 outputs differ in
    the last bit with the batch layout, which would show at the 1e-6 mm this test asks for.
    """
    model, _ = load_model(checkpoint)

    def run(frames: list[int], inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            both = model(torch.from_numpy(np.stack([inputs, reference_flip(inputs)]))).numpy()
        return (both[0] + reference_flip(both[1])) / 2

    return run


def _assert_same(result: dict, reference: dict) -> None:
    assert result["p1_mm"] == pytest.approx(reference["p1_mm"], abs=1e-6, rel=0)
    assert result["p2_mm"] == pytest.approx(reference["p2_mm"], abs=1e-6, rel=0)
    assert set(result["per_action"]) == set(reference["per_action"])
    for action, (p1, p2, frames) in reference["per_action"].items():
        ours = result["per_action"][action]
        assert ours["frames"] == frames, action
        assert ours["p1_mm"] == pytest.approx(p1, abs=1e-6, rel=0), action
        assert ours["p2_mm"] == pytest.approx(p2, abs=1e-6, rel=0), action


def _evaluate(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["evaluate", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


# ----------------------------------------------------------------------------- tests


def test_conversion_keeps_ids_and_stored_action_labels(motionbert_data) -> None:
    data, path, out = motionbert_data
    streams = convert_motionbert(path, allow_pickle=True)
    i = streams.keys.index(_key(9, 1, 0, "SittingDown"))
    assert streams.sequence_id[i] == "s_09_act_10_subact_01"
    assert streams.action_label[i] == "SittingDown" and streams.origin == "convert-motionbert"
    j = streams.keys.index(_key(11, 2, 0, "Walking 1"))
    assert streams.action_label[j] == "Walking 1"
    bad = {"test": {**data["test"], "action": ["Walking", *data["test"]["action"][1:]]}}
    path.with_name("bad.pkl").write_bytes(pickle.dumps(bad))
    with pytest.raises(ValueError, match="'action' must have one value per frame, constant"):
        convert_motionbert(path.with_name("bad.pkl"), allow_pickle=True)


@pytest.mark.parametrize("gt_2d", [False, True], ids=["default", "gt_2d"])
def test_stored_predictions_match_motionbert_evaluate(
    motionbert_data, tmp_path: Path, capsys, gt_2d: bool
) -> None:
    data, _, out = motionbert_data
    test = data["test"]
    rng = np.random.default_rng(1)
    predictions = np.asarray(test["joints_2.5d_image"], np.float64)
    predictions = predictions + rng.normal(scale=15.0, size=predictions.shape) + [30, -20, 900]
    files, start = {}, 0
    for subject, _act, subact, camera, label, frames in TEST_STREAMS:
        files[_key(subject, subact, camera, label)] = predictions[start : start + frames]
        start += frames
    np.savez(tmp_path / "pred.npz", **files)
    args = ["--data", str(out), "--predictions", str(tmp_path / "pred.npz")]
    args += ["--protocol", "motionbert", "--frames", str(T)] + (["--gt-2d"] if gt_2d else [])
    result = _evaluate(capsys, *args)
    reference = reference_evaluate({**test, "predictions": predictions}, lambda *_: None, gt_2d)
    _assert_same(result, reference)
    # Block list by id: S9 "SittingDown 1" (subaction 1) is kept, subaction 2 is not.
    blocked = [_key(9, 2, 0, "Greeting"), _key(9, 2, 2, "SittingDown"), _key(9, 1, 1, "Waiting")]
    assert sorted(result["skipped"]) == sorted(blocked)
    assert {"Walking", "Walking 1", "SittingDown"} <= set(result["per_action"])
    assert result["gt_2d"] is gt_2d and result["data_origin"] == "convert-motionbert"
    label = result["label"]
    assert "T=9" in label and "not the published T=243" in label and "convert-motionbert" in label
    assert ("GT-2D" in label) is gt_2d


@pytest.mark.parametrize("gt_2d", [False, True], ids=["default", "gt_2d"])
def test_checkpoint_matches_motionbert_evaluate(
    motionbert_data, tmp_path: Path, capsys, gt_2d: bool
) -> None:
    data, _, out = motionbert_data
    checkpoint = _tiny_checkpoint(tmp_path / "tiny_2_5d.safetensors", "image_2.5d")
    args = ["--data", str(out), "--checkpoint", str(checkpoint)] + (["--gt-2d"] if gt_2d else [])
    result = _evaluate(capsys, *args)
    assert result["protocol"] == "motionbert" and result["clip_len"] == T
    reference = reference_evaluate(data["test"], model_outputs(checkpoint), gt_2d)
    _assert_same(result, reference)
    # The stored 2.5D ground truth is scored, not λ · joint3d_image (which differs by a few mm).
    fallback = {**data["test"]}
    fallback["joints_2.5d_image"] = (
        np.asarray(fallback["joint3d_image"], np.float64)
        * np.asarray(fallback["2.5d_factor"], np.float64)[:, None, None]
    )
    other = reference_evaluate(fallback, model_outputs(checkpoint), gt_2d)
    assert abs(other["p1_mm"] - result["p1_mm"]) > 1e-3


def test_camera_space_model_is_refused_on_the_2_5d_protocol(
    motionbert_data, tmp_path: Path, capsys
) -> None:
    _, _, out = motionbert_data
    checkpoint = _tiny_checkpoint(tmp_path / "tiny_camera.safetensors", "camera")
    cmd = ["evaluate", "--data", str(out), "--checkpoint", str(checkpoint)]
    capsys.readouterr()
    assert main([*cmd, "--protocol", "motionbert"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"error: {checkpoint}: the motionbert protocol")
    assert "2.5D" in err and "camera-frame 3D" in err and "--protocol videopose3d" in err


def test_frame_stride_model_is_refused_on_the_motionbert_protocol(
    motionbert_data, tmp_path: Path, capsys
) -> None:
    _, _, out = motionbert_data
    checkpoint = _tiny_checkpoint(tmp_path / "strided.safetensors", "image_2.5d", frame_stride=3)
    capsys.readouterr()
    assert main(["evaluate", "--data", str(out), "--checkpoint", str(checkpoint)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "one frame in 3 (data.frame_stride: 3)" in err
    assert "--protocol videopose3d" in err


def test_overlapping_windows_are_refused_on_the_motionbert_protocol(
    motionbert_data, tmp_path: Path, capsys
) -> None:
    """Its scored frames are fixed non-overlapping clips: ``--overlap`` is a videopose3d option."""
    _, _, out = motionbert_data
    checkpoint = _tiny_checkpoint(tmp_path / "tiny_2_5d.safetensors", "image_2.5d")
    capsys.readouterr()
    cmd = ["evaluate", "--data", str(out), "--checkpoint", str(checkpoint), "--overlap", "2"]
    assert main(cmd) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "eval.overlap (--overlap 2): overlapping test windows" in err
    assert "videopose3d protocol, not to the motionbert protocol" in err


def test_gt_2d_errors(motionbert_data, tmp_path: Path, capsys) -> None:
    _, _, out = motionbert_data
    checkpoint = _tiny_checkpoint(tmp_path / "tiny_2_5d.safetensors", "image_2.5d")
    cmd = ["evaluate", "--data", str(out), "--gt-2d"]
    capsys.readouterr()
    assert main([*cmd, "--checkpoint", str(checkpoint), "--input", "sh"]) == 2
    assert "ground-truth 2D as input" in capsys.readouterr().err
    np.savez(tmp_path / "none.npz", x=np.zeros((1, 17, 3)))
    assert main([*cmd, "--predictions", str(tmp_path / "none.npz")]) == 2
    assert "needs --protocol motionbert" in capsys.readouterr().err
