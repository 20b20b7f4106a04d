"""The two Human3.6M evaluation protocols: golden values, skip lists, quick mode, CLI."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ssrstf.cli import main
from ssrstf.data.clips import split_test_clips
from ssrstf.data.dataset import StreamClips
from ssrstf.data.h36m import load_streams
from ssrstf.evaluation.metrics import p_mpjpe
from ssrstf.evaluation.protocol import (
    MOTIONBERT,
    PROTOCOLS,
    VIDEOPOSE3D,
    action_group,
    evaluate_model,
    evaluate_predictions,
    load_predictions,
)
from ssrstf.evaluation.results import write_result_tables
from ssrstf.evaluation.tables import Column, Table, format_csv, format_markdown, format_text
from ssrstf.skeleton import H36M_17

J = 17


def _stream(key: str, gt: np.ndarray, clip_len: int, cover_all: bool = True, **kw) -> StreamClips:
    subject, action, _ = key.split("/")
    return StreamClips(
        key=key,
        subject=subject,
        action=action,
        sequence_id=kw.pop("sequence_id", ""),
        ground_truth=gt,
        clips=split_test_clips(len(gt), clip_len, cover_all=cover_all),
        **kw,
    )


def _case(rng: np.random.Generator, errors: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth and a prediction whose root-relative MPJPE in frame f is ``errors[f]``:
    joint 1 moves by 17 · e (one joint of 17), plus a global translation that must cancel."""
    gt = rng.normal(size=(len(errors), J, 3)) * 300 + [0, 0, 5000]
    pred = gt + rng.normal(size=3) * 1000
    pred[:, 1, 0] += 17.0 * np.asarray(errors)
    return gt, pred


GOLDEN = {
    "S9/Walking 1/c1": [1.0, 1.0, 1.0, 1.0],
    "S11/Walking/c1": [4.0, 4.0],
    "S9/Eating/c1": [5.0, 5.0, 5.0],
    "S1/Eating/c1": [100.0, 100.0],  # training subject: never scored
    "S11/Directions/c1": [100.0, 100.0],  # VideoPose3D skips this sequence
    "S9/Greeting/c1": [100.0, 100.0],  # MotionBERT skips this sequence
}


@pytest.fixture
def golden(rng: np.random.Generator):
    """``(make_streams(cover_all), predictions)`` for the `GOLDEN` per-frame errors, T = 2."""
    data = {key: _case(rng, errors) for key, errors in GOLDEN.items()}

    def make_streams(cover_all: bool) -> list[StreamClips]:
        return [_stream(key, gt, 2, cover_all) for key, (gt, _) in data.items()]

    return make_streams, {key: pred for key, (_, pred) in data.items()}


def test_action_merge_rule() -> None:
    assert action_group("Walking 1") == action_group("Walking") == "Walking"
    assert action_group("WalkTogether 2") == "WalkTogether"


def test_videopose3d_golden_values(golden) -> None:
    make_streams, preds = golden
    result = evaluate_predictions(VIDEOPOSE3D, make_streams(True), preds)
    # Walking merges "Walking 1" (4 frames of 1 mm) and "Walking" (2 frames of 4 mm),
    # frame-weighted: 12 / 6 = 2; the protocol figure is the unweighted mean over actions.
    assert set(result.per_action) == {"Eating", "Greeting", "Walking"}
    assert result.per_action["Walking"]["p1_mm"] == pytest.approx(2.0)
    assert result.per_action["Walking"]["frames"] == 6
    assert result.per_action["Eating"]["p1_mm"] == pytest.approx(5.0)
    assert result.p1_mm == pytest.approx((2.0 + 5.0 + 100.0) / 3)
    assert result.skipped == ("S11/Directions/c1",)
    assert result.frames == 11 and result.streams == 4
    # P2: Procrustes-aligned per frame (`p_mpjpe`, tested on its own), frame-weighted per action.
    gt = {s.key: s.ground_truth for s in make_streams(True)}

    def p2(*keys: str) -> float:
        return float(np.concatenate([p_mpjpe(preds[k], gt[k]) for k in keys]).mean())

    assert result.per_action["Eating"]["p2_mm"] == pytest.approx(p2("S9/Eating/c1"))
    walking = p2("S9/Walking 1/c1", "S11/Walking/c1")
    assert result.per_action["Walking"]["p2_mm"] == pytest.approx(walking)
    assert walking > 0.1
    assert result.p2_mm == pytest.approx(np.mean([v["p2_mm"] for v in result.per_action.values()]))


def _per_joint(result, key: str) -> np.ndarray:
    assert list(result.per_joint) == list(H36M_17.joint_names)
    return np.array([v[key] for v in result.per_joint.values()])


def _assert_same_per_joint(a, b) -> None:
    for key in ("p1_mm", "p2_mm"):
        np.testing.assert_allclose(_per_joint(a, key), _per_joint(b, key), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("protocol", [VIDEOPOSE3D, MOTIONBERT], ids=lambda p: p.name)
def test_per_joint_figures_are_averaged_as_the_headline(golden, protocol) -> None:
    """Only joint 1 errs in `_case` (by 17 e): its P1 is 17 x the headline, every other joint's
    0. P2 per joint equals an independent loop (Umeyama per frame, frame mean per action, mean
    over actions); the mean over joints is the headline figure for both."""
    from test_metrics import ref_umeyama

    make_streams, preds = golden
    streams = make_streams(protocol.cover_all_frames)
    result = evaluate_predictions(protocol, streams, preds)
    p1, p2 = _per_joint(result, "p1_mm"), _per_joint(result, "p2_mm")
    assert p1[1] == pytest.approx(17.0 * result.p1_mm)
    np.testing.assert_allclose(np.delete(p1, 1), 0.0, atol=1e-9)
    assert p1.mean() == pytest.approx(result.p1_mm, rel=1e-12)
    assert p2.mean() == pytest.approx(result.p2_mm, rel=1e-12)
    by_action: dict[str, list[np.ndarray]] = {}
    for stream in streams:
        if stream.subject not in protocol.test_subjects or protocol.is_skipped(stream):
            continue
        frames = np.unique(stream.clips)
        for f in frames:
            pred = preds[stream.key][f] - preds[stream.key][f, :1]
            gt = stream.ground_truth[f] - stream.ground_truth[f, :1]
            error = np.linalg.norm(ref_umeyama(pred, gt) - gt, axis=-1)
            by_action.setdefault(action_group(stream.action), []).append(error)
    expected = np.mean([np.mean(v, axis=0) for v in by_action.values()], axis=0)
    np.testing.assert_allclose(p2, expected, rtol=1e-9, atol=1e-9)
    assert p2[1] > 0.1


def test_motionbert_skips_three_s9_sequences_and_drops_clip_tails(golden) -> None:
    make_streams, preds = golden
    result = evaluate_predictions(MOTIONBERT, make_streams(False), preds)
    assert "Greeting" not in result.per_action and result.skipped == ("S9/Greeting/c1",)
    assert "Directions" in result.per_action
    # T = 2: "S9/Eating" (3 frames) scores 2; "S9/Walking 1" 4; "S11/Walking" 2.
    assert result.per_action["Eating"]["frames"] == 2
    assert result.per_action["Walking"]["frames"] == 6
    assert result.p1_mm == pytest.approx((100.0 + 5.0 + 2.0) / 3)


def test_clips_must_follow_the_protocol(golden) -> None:
    make_streams, preds = golden
    with pytest.raises(ValueError, match="'S9/Eating/c1'.*do not follow the motionbert protocol"):
        evaluate_predictions(MOTIONBERT, make_streams(True), preds)
    with pytest.raises(ValueError, match="do not follow the videopose3d protocol"):
        evaluate_predictions(VIDEOPOSE3D, make_streams(False), preds)


def test_skip_lists_also_match_human36m_sequence_ids(rng: np.random.Generator) -> None:
    gt, pred = _case(rng, [1.0] * 4)
    streams = [
        _stream("S9/Greeting 2/c1", gt, 2, sequence_id="s_09_act_05_subact_02"),
        _stream("S9/Greeting 1/c1", gt, 2, sequence_id="s_09_act_05_subact_01"),
    ]
    preds = {s.key: pred for s in streams}
    result = evaluate_predictions(MOTIONBERT, streams, preds)
    assert result.skipped == ("S9/Greeting 2/c1",) and result.frames == 4
    assert set(MOTIONBERT.skip_sequences) == {"S9/Greeting", "S9/SittingDown 1", "S9/Waiting 1"}
    assert PROTOCOLS == {"videopose3d": VIDEOPOSE3D, "motionbert": MOTIONBERT}


def test_a_stream_with_an_id_is_skipped_by_id_only(rng: np.random.Generator) -> None:
    # MotionBERT's "SittingDown 1" is subaction 1 (kept); the blocked name means subaction 2 in
    # prepare-h36m's naming, which has no ids. Extra skips match names whatever the id.
    gt, pred = _case(rng, [1.0] * 2)
    streams = [
        _stream("S9/SittingDown 1/c1", gt, 2, sequence_id="s_09_act_10_subact_01"),
        _stream("S9/SittingDown 1/c2", gt, 2),
        _stream("S9/Posing 1/c1", gt, 2, sequence_id="s_09_act_09_subact_01"),
    ]
    preds = {s.key: pred for s in streams}
    result = evaluate_predictions(MOTIONBERT, streams, preds)
    assert result.skipped == ("S9/SittingDown 1/c2",)
    assert "SittingDown" in result.per_action
    extra = evaluate_predictions(MOTIONBERT.with_skips(["S9/Posing 1"]), streams, preds)
    assert extra.skipped == ("S9/Posing 1/c1", "S9/SittingDown 1/c2")


def test_stored_action_labels_decide_the_groups(rng: np.random.Generator) -> None:
    gt, pred = _case(rng, [1.0, 1.0])
    gt2, pred2 = _case(rng, [3.0, 3.0])
    streams = [
        _stream("S9/Walking 1/c1", gt, 2, action_label="Walking"),
        _stream("S9/Walking 1 2/c1", gt2, 2, action_label="Walking 1"),
        _stream("S11/Walking 2/c1", gt2, 2),  # no stored label: the name up to the first space
    ]
    preds = {"S9/Walking 1/c1": pred, "S9/Walking 1 2/c1": pred2, "S11/Walking 2/c1": pred2}
    result = evaluate_predictions(MOTIONBERT, streams, preds)
    assert {a: v["frames"] for a, v in result.per_action.items()} == {"Walking": 4, "Walking 1": 2}
    assert result.per_action["Walking 1"]["p1_mm"] == pytest.approx(3.0)
    assert result.per_action["Walking"]["p1_mm"] == pytest.approx(2.0)


def test_motionbert_labels_state_clip_length_and_data_origin(golden) -> None:
    make_streams, preds = golden
    mb = [replace(s, origin="prepare-h36m") for s in make_streams(False)]
    label = evaluate_predictions(MOTIONBERT, mb, preds).label
    assert label.startswith("H36M motionbert protocol (T=2): not the published T=243; ")
    assert "data: prepare-h36m (2.5D ground truth with λ = Z_root / f" in label
    vp = evaluate_predictions(VIDEOPOSE3D, make_streams(True), preds)
    assert vp.label == "H36M videopose3d protocol (T=2)" and vp.caveats == ()
    unknown = evaluate_predictions(MOTIONBERT, make_streams(False), preds)
    assert "data: origin unknown" in unknown.label


def test_gt_2d_replaces_the_predicted_x_y_by_the_input_2d(rng: np.random.Generator) -> None:
    # Predictions wrong in x, y only: with gt_2d the input 2D (× output_scale = mm) replaces
    # them, and only the depth error is left.
    gt = rng.normal(size=(4, J, 3)) * 300
    pred = gt.copy()
    pred[:, 1, :2] += 50.0
    pred[:, 2, 2] += 17.0
    inputs = np.concatenate([gt[..., :2] / 4.0, np.ones((4, J, 1))], axis=-1)
    stream = _stream(
        "S9/Posing/c", gt, 4, cover_all=False, inputs=inputs, output_scale=np.full(4, 4.0)
    )  # one clip of the 4 frames
    plain = evaluate_predictions(MOTIONBERT, [stream], {stream.key: pred})
    result = evaluate_predictions(MOTIONBERT, [stream], {stream.key: pred}, gt_2d=True)
    assert plain.p1_mm > 3.0 and result.p1_mm == pytest.approx(1.0) and result.gt_2d
    assert "GT-2D" in result.label and "GT-2D" not in plain.label

    def predict(x: np.ndarray) -> np.ndarray:  # x, y wrong, depth right
        out = np.concatenate([x[..., :2] * 0.5, (gt[..., 2:] - gt[:, :1, 2:])[None] / 4.0], -1)
        return out - out[..., :1, :]

    by_model = evaluate_model(MOTIONBERT, [stream], predict, gt_2d=True)
    assert by_model.p1_mm == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="gt_2d .* applies to the 2.5D protocol"):
        evaluate_predictions(VIDEOPOSE3D, [stream], {stream.key: pred}, gt_2d=True)
    with pytest.raises(ValueError, match="gt_2d needs the 2D inputs of stream 'S9/Posing/c'"):
        evaluate_predictions(
            MOTIONBERT, [replace(stream, inputs=None)], {stream.key: pred}, gt_2d=True
        )


def test_extra_skips_are_added_and_labelled(golden) -> None:
    make_streams, preds = golden
    protocol = VIDEOPOSE3D.with_skips(["S9/Eating", "S11/Directions"])
    assert VIDEOPOSE3D.with_skips([]) is VIDEOPOSE3D
    result = evaluate_predictions(protocol, make_streams(True), preds)
    assert "Eating" not in result.per_action and result.protocol == "videopose3d+skip"
    assert result.skipped == ("S11/Directions/c1", "S9/Eating/c1")


def test_procrustes_removes_similarity_transforms(rng: np.random.Generator) -> None:
    gt = rng.normal(size=(5, J, 3)) * 300
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    pred = 1.3 * gt @ q + [10.0, 20.0, 30.0]
    result = evaluate_predictions(
        VIDEOPOSE3D, [_stream("S9/Posing/c", gt, 2)], {"S9/Posing/c": pred}
    )
    assert result.p2_mm == pytest.approx(0.0, abs=1e-9) and result.p1_mm > 10


def test_prediction_file_errors(golden, caplog) -> None:
    make_streams, preds = golden
    streams = make_streams(True)
    with pytest.raises(ValueError, match=r"lack 1 test stream\(s\): 'S9/Eating/c1'"):
        evaluate_predictions(
            VIDEOPOSE3D, streams, {k: v for k, v in preds.items() if k != "S9/Eating/c1"}
        )
    with pytest.raises(ValueError, match=r"predictions\['S9/Eating/c1'\] has shape \(2, 17, 3\)"):
        evaluate_predictions(
            VIDEOPOSE3D, streams, {**preds, "S9/Eating/c1": preds["S9/Eating/c1"][:2]}
        )
    bad = preds["S9/Eating/c1"].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate_predictions(VIDEOPOSE3D, streams, {**preds, "S9/Eating/c1": bad})
    with caplog.at_level(logging.WARNING):
        evaluate_predictions(VIDEOPOSE3D, streams, {**preds, "S7/Eating/c9": preds["S9/Eating/c1"]})
    assert "ignoring 2 prediction stream(s)" in caplog.text and "'S7/Eating/c9'" in caplog.text


def test_quick_mode_scores_every_nth_clip_and_says_so(golden) -> None:
    make_streams, preds = golden
    streams = make_streams(True)
    full = evaluate_predictions(VIDEOPOSE3D, streams, preds)
    quick = evaluate_predictions(VIDEOPOSE3D, streams, preds, every=2)
    assert not full.is_quick and quick.is_quick and quick.every == 2
    assert 0 < quick.frames < full.frames
    assert (
        "QUICK" in quick.label
        and "QUICK" in format_text(quick.table())
        and "QUICK" in format_markdown(quick.table())
    )
    assert quick.to_dict()["quick"] is True
    with pytest.raises(ValueError, match="every"):
        evaluate_predictions(VIDEOPOSE3D, streams, preds, every=0)


def test_model_path_matches_prediction_path(golden) -> None:
    make_streams, preds = golden
    scale = 2.5
    calls = []

    def predict(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape)
        # The "model" returns its input made root-relative (as a trained model predicts):
        # outputs × scale are the stored predictions up to a translation.
        return x - x[..., :1, :]

    for protocol in (VIDEOPOSE3D, MOTIONBERT):
        streams = make_streams(protocol.cover_all_frames)
        with_inputs = [
            replace(
                s, inputs=preds[s.key] / scale, output_scale=np.full(len(s.ground_truth), scale)
            )
            for s in streams
        ]
        by_model = evaluate_model(protocol, with_inputs, predict, batch_size=1)
        by_file = evaluate_predictions(protocol, streams, preds)
        assert by_model.p1_mm == pytest.approx(by_file.p1_mm) and by_model.p2_mm == pytest.approx(
            by_file.p2_mm
        )
        assert by_model.frames == by_file.frames
        _assert_same_per_joint(by_model, by_file)
    assert calls and all(shape == (1, 2, J, 3) for shape in calls)


def test_model_path_averages_errors_of_repeated_frames(rng: np.random.Generator) -> None:
    # A 3-frame stream with T = 5 is one resampled clip with frames 0, 0, 1, 1, 2: the errors of
    # a frame seen twice are averaged (MotionBERT's occurrence count).
    gt = rng.normal(size=(3, J, 3)) * 300
    stream = _stream(
        "S9/Posing/c", gt, 5, cover_all=False, inputs=gt - gt[:, :1], output_scale=np.ones(3)
    )
    offsets = iter([0.0, 17.0, 34.0, 51.0, 68.0])

    def predict(x: np.ndarray) -> np.ndarray:
        out = x.copy()
        for t in range(x.shape[1]):
            out[0, t, 1, 0] += next(offsets)  # frame error t (mm)
        return out

    result = evaluate_model(MOTIONBERT, [stream], predict)
    assert result.frames == 3
    assert result.p1_mm == pytest.approx(np.mean([0.5, 2.5, 4.0]))
    assert result.per_joint["right_hip"]["p1_mm"] == pytest.approx(17.0 * result.p1_mm)


@pytest.mark.parametrize("every", [1, 3])
def test_overlapping_windows_stitch_predictions_as_inference_does(
    rng: np.random.Generator, every: int
) -> None:
    """``overlap``: the protocol's frames are scored once each, on the triangle-weighted mean of
    the windows that contain them (an independent loop here), in quick mode on the same frames
    as without overlap; the label says so."""
    window, overlap, lengths = 9, 5, {"S9/Posing/c": 40, "S11/Walking/c": 23, "S9/Eating/c": 6}
    streams, stitched = [], {}
    joint_1_x = np.zeros((J, 3))
    joint_1_x[1, 0] = 1.0
    for key, frames in lengths.items():
        gt = rng.normal(size=(frames, J, 3)) * 300
        windows = split_test_clips(frames, window, cover_all=True, overlap=overlap)
        stream = _stream(
            key, gt, window, inputs=gt / 2, output_scale=np.full(frames, 2.0), windows=windows
        )
        streams.append(stream)
        # The "model" adds an error that depends on the frame's place in its window (of either
        # sign, so that averaging predictions differs from averaging errors).
        acc, total = np.zeros((frames, J, 3)), np.zeros(frames)
        for clip in windows:
            for t, f in enumerate(clip):
                w = min(t + 1, window - t)
                acc[f] += w * (gt[f] + 8.0 * (t - 4) * joint_1_x)
                total[f] += w
        stitched[key] = acc / total[:, None, None]

    def predict(x: np.ndarray) -> np.ndarray:
        return x + 4.0 * (np.arange(window)[:, None, None] - 4) * joint_1_x

    by_model = evaluate_model(VIDEOPOSE3D, streams, predict, every=every, overlap=overlap)
    by_file = evaluate_predictions(VIDEOPOSE3D, streams, stitched, every=every)
    assert by_model.p1_mm == pytest.approx(by_file.p1_mm, rel=1e-12)
    assert by_model.p2_mm == pytest.approx(by_file.p2_mm, rel=1e-12)
    _assert_same_per_joint(by_model, by_file)
    assert "windows overlapping by 5 frames, stitched" in by_model.label
    assert by_model.to_dict()["overlap"] == 5
    disjoint = evaluate_model(VIDEOPOSE3D, streams, predict, every=every)
    assert by_model.frames == by_file.frames == disjoint.frames  # the same frames
    assert disjoint.p1_mm != pytest.approx(by_model.p1_mm)
    for windows in (None, streams[0].windows[:2]):
        with pytest.raises(ValueError, match="no overlapping windows cover its frames"):
            evaluate_model(VIDEOPOSE3D, [replace(streams[0], windows=windows)], predict, overlap=2)
    with pytest.raises(ValueError, match="not motionbert"):
        evaluate_model(MOTIONBERT, streams, predict, overlap=overlap)


def test_model_root_is_zeroed_by_motionbert_and_subtracted_by_videopose3d(
    rng: np.random.Generator,
) -> None:
    # MotionBERT's evaluate sets a root-relative model's root output to 0 and keeps the other
    # joints as predicted; a root output of (17, 0, 0) mm then costs 16 joints × 17 mm / 17.
    gt = rng.normal(size=(4, J, 3)) * 300
    gt_rel = gt - gt[:, :1]
    stream = _stream("S9/Posing/c", gt, 2, cover_all=False, inputs=gt_rel, output_scale=np.ones(4))

    def predict(x: np.ndarray) -> np.ndarray:
        out = x.copy()
        out[..., 0, 0] += 17.0
        return out

    assert evaluate_model(MOTIONBERT, [stream], predict).p1_mm == pytest.approx(0.0, abs=1e-9)
    assert evaluate_model(VIDEOPOSE3D, [stream], predict).p1_mm == pytest.approx(16.0)


def test_table_rendering_golden() -> None:
    """Terminal, Markdown and CSV renderings of one `Table`, character for character."""
    table = Table(
        label="L",
        columns=(
            Column("action", "action", 8),
            Column("P1 (mm)", "p1_mm", 9),
            Column("frames", "frames", 7, decimals=0),
        ),
        rows=(("Eat", 5.0, 3), ("Average", 12.3456789, 10)),
        footer="note",
    )
    assert format_text(table) == (
        "L\naction    P1 (mm) frames\nEat          5.00      3\nAverage     12.35     10\nnote"
    )
    assert format_markdown(table) == (
        "**L**\n\n| Action | P1 (mm) | Frames |\n|---|---:|---:|\n| Eat | 5.00 | 3 |\n"
        "| Average | 12.35 | 10 |\n"
    )
    assert format_csv(table) == "action,p1_mm,frames\nEat,5.0000,3\nAverage,12.3457,10\n"


def test_tables(golden, tmp_path: Path) -> None:
    make_streams, preds = golden
    result = evaluate_predictions(VIDEOPOSE3D, make_streams(True), preds)
    lines = format_csv(result.table()).splitlines()
    assert lines[0] == "action,p1_mm,p2_mm,frames" and lines[-1].startswith("Average,")
    assert lines[1].startswith("Eating,5.0000,")
    assert "| Walking | 2.00 |" in format_markdown(result.table())
    data = result.to_dict()
    assert {"p1_mm", "p2_mm", "per_action", "frames", "quick", "label", "protocol"} <= data.keys()
    assert data["per_joint"]["right_hip"] == result.per_joint["right_hip"]
    json.dumps(data)
    joints = format_csv(result.joint_table()).splitlines()
    assert joints[0] == "joint,p1_mm,p2_mm" and len(joints) == 1 + J + 1
    assert joints[1] == f"pelvis,0.0000,{result.per_joint['pelvis']['p2_mm']:.4f}"
    assert joints[-1] == f"Average,{result.p1_mm:.4f},{result.p2_mm:.4f}"
    assert format_text(result.joint_table()).splitlines()[0].endswith("| per joint")
    # The per-joint files sit beside the per-action ones, whatever dots the name has.
    written = write_result_tables(result, tmp_path / "run.v1.final")
    assert [p.name for p in written] == ["run.v1.md", "run.v1.csv", "run.v1_joints.md",
                                         "run.v1_joints.csv"]  # fmt: skip
    assert written[3].read_text() == format_csv(result.joint_table())


# ----------------------------------------------------------------------------- CLI


def _write_predictions(
    prepared: Path, path: Path, noise_mm: float, seed: int = 0, space: str = "camera"
) -> float:
    """Perturbed ground truth of the S9/S11 streams; returns the expected VideoPose3D P1."""
    streams = load_streams(prepared, subjects=["S9", "S11"])
    rng = np.random.default_rng(seed)
    preds, errors = {}, {}
    for i, key in enumerate(streams.keys):
        gt = (
            streams.poses_3d[streams.frames(i)]
            if space == "camera"
            else streams.ground_truth_2_5d(i)
        )
        preds[key] = gt + rng.normal(scale=noise_mm, size=gt.shape)
        if key.startswith("S11/Directions/"):
            continue
        rel = (preds[key] - preds[key][:, :1]) - (gt - gt[:, :1])
        errors.setdefault(key.split("/")[1].split(" ")[0], []).append(
            np.linalg.norm(rel, axis=-1).mean(-1)
        )
    np.savez(path, **preds)
    return float(np.mean([np.concatenate(v).mean() for v in errors.values()]))


def test_cli_evaluate_json_and_tables(synthetic_h36m: Path, tmp_path: Path, capsys) -> None:
    expected = _write_predictions(synthetic_h36m, tmp_path / "pred.npz", noise_mm=10.0)
    args = ["evaluate", "--data", str(synthetic_h36m), "--predictions", str(tmp_path / "pred.npz")]
    assert main([*args, "--json", "--frames", "9", "--out", str(tmp_path / "table")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["p1_mm"] == pytest.approx(expected) and result["protocol"] == "videopose3d"
    assert set(result["per_action"]) == {"Directions", "Walking"}
    assert {"p1_mm", "p2_mm"} <= result["per_action"]["Walking"].keys()
    assert (tmp_path / "table.md").read_text().startswith("**H36M videopose3d")
    assert (tmp_path / "table.csv").read_text().startswith("action,p1_mm,p2_mm,frames")
    joints = (tmp_path / "table_joints.csv").read_text().splitlines()
    assert joints[0] == "joint,p1_mm,p2_mm" and joints[1].startswith("pelvis,0.0000,")
    assert joints[-1] == f"Average,{result['p1_mm']:.4f},{result['p2_mm']:.4f}"
    assert "| per joint" in (tmp_path / "table_joints.md").read_text().splitlines()[0]
    assert result["per_joint"]["pelvis"]["p1_mm"] == 0.0
    assert main([*args, "--frames", "9", "--per-joint"]) == 0
    printed = capsys.readouterr().out
    assert "| per joint" in printed and "right_wrist" in printed and "Walking" in printed
    assert main([*args, "--dataset", "mpi-inf-3dhp", "--per-joint"]) == 2
    assert "--per-joint applies to a lifter or predictions on --dataset h36m" in (
        capsys.readouterr().err
    )
    assert main([*args, "--every", "3", "--frames", "9"]) == 0
    assert "QUICK: 1 in 3 test clips" in capsys.readouterr().out
    assert main([*args, "--frames", "9", "--overlap", "3"]) == 2
    assert "--overlap applies to --checkpoint" in capsys.readouterr().err


def test_cli_evaluate_out_with_a_dot_in_its_name(synthetic_h36m: Path, tmp_path: Path) -> None:
    _write_predictions(synthetic_h36m, tmp_path / "pred.npz", noise_mm=10.0)
    args = ["evaluate", "--data", str(synthetic_h36m), "--predictions", str(tmp_path / "pred.npz")]
    assert main([*args, "--frames", "9", "--out", str(tmp_path / "robust-2.5d-finetune")]) == 0
    names = sorted(p.name for p in tmp_path.glob("robust-2*"))
    assert names == [
        "robust-2.5d-finetune.csv", "robust-2.5d-finetune.md",
        "robust-2.5d-finetune_joints.csv", "robust-2.5d-finetune_joints.md",
    ]  # fmt: skip


def test_cli_evaluate_motionbert_protocol(synthetic_h36m: Path, tmp_path: Path, capsys) -> None:
    _write_predictions(synthetic_h36m, tmp_path / "pred.npz", noise_mm=0.0, space="image_2.5d")
    args = ["evaluate", "--data", str(synthetic_h36m), "--predictions", str(tmp_path / "pred.npz")]
    assert main([*args, "--protocol", "motionbert", "--frames", "9", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["p1_mm"] == pytest.approx(0.0, abs=1e-3)
    assert result["frames"] == sum(
        n // 9 * 9 for n in load_streams(synthetic_h36m, subjects=["S9", "S11"], arrays=()).lengths
    )


def test_cli_evaluate_names_a_missing_stream(synthetic_h36m: Path, tmp_path: Path, capsys) -> None:
    _write_predictions(synthetic_h36m, tmp_path / "pred.npz", noise_mm=1.0)
    preds = load_predictions(tmp_path / "pred.npz")
    del preds["S9/Walking 1/60457274"]
    np.savez(tmp_path / "partial.npz", **preds)
    code = main(
        ["evaluate", "--data", str(synthetic_h36m), "--predictions", str(tmp_path / "partial.npz")]
    )
    err = capsys.readouterr().err.strip()
    missing = "predictions lack 1 test stream(s): 'S9/Walking 1/60457274'"
    assert code == 2 and err == f"error: {tmp_path / 'partial.npz'}: {missing}"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(tmp_path / "none.npz"),
                "--predictions",
                str(tmp_path / "partial.npz"),
            ]
        )
        == 2
    )


# ------------------------------------------------------------- --out: never overwrite silently

OUT_FILES = ["table.md", "table.csv", "table_joints.md", "table_joints.csv"]


@pytest.mark.parametrize("existing", OUT_FILES)
def test_cli_evaluate_refuses_an_existing_out_file_before_any_work(
    existing: str, synthetic_h36m: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import ssrstf.data.h36m

    _write_predictions(synthetic_h36m, tmp_path / "pred.npz", noise_mm=10.0)
    out = tmp_path / "out"
    out.mkdir()
    (out / existing).write_text("the user's own table\n")

    def no_work(*args, **kwargs):
        raise AssertionError("the dataset was read before the outputs were checked")

    monkeypatch.setattr(ssrstf.data.h36m, "load_streams", no_work)
    args = ["evaluate", "--data", str(synthetic_h36m), "--predictions", str(tmp_path / "pred.npz")]
    assert main([*args, "--frames", "9", "--out", str(out / "table")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out / existing) in err and "--overwrite" in err
    assert (out / existing).read_text() == "the user's own table\n"
    assert sorted(p.name for p in out.iterdir()) == [existing]  # nothing else written


def test_cli_evaluate_overwrite_replaces_every_out_file(
    synthetic_h36m: Path, tmp_path: Path, capsys
) -> None:
    from ssrstf.cli.evaluate import _out_files

    _write_predictions(synthetic_h36m, tmp_path / "pred.npz", noise_mm=10.0)
    out = tmp_path / "out"
    out.mkdir()
    for name in OUT_FILES:
        (out / name).write_text("old\n")
    args = ["evaluate", "--data", str(synthetic_h36m), "--predictions", str(tmp_path / "pred.npz")]
    args += ["--frames", "9", "--out", str(out / "table.md")]  # a suffix given is replaced
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # Exactly the files `_out_files` checks beforehand, each replaced (no temporary left).
    assert sorted(out.iterdir()) == sorted(_out_files(str(out / "table"), joints=True))
    assert sorted(p.name for p in out.iterdir()) == sorted(OUT_FILES)
    assert (out / "table.md").read_text().startswith("**H36M videopose3d")
    joints = (out / "table_joints.csv").read_text().splitlines()
    assert joints[-1] == f"Average,{result['p1_mm']:.4f},{result['p2_mm']:.4f}"
    assert all((out / name).read_text() != "old\n" for name in OUT_FILES)


def test_cli_evaluate_checkpoint_and_mesh_check_out_before_loading(
    synthetic_h36m: Path, tiny_checkpoint: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import ssrstf.training.mesh_scoring
    import ssrstf.training.scoring

    def no_work(*args, **kwargs):
        raise AssertionError("evaluation started before the outputs were checked")

    monkeypatch.setattr(ssrstf.training.scoring, "evaluate_checkpoint", no_work)
    monkeypatch.setattr(ssrstf.training.mesh_scoring, "evaluate_mesh_checkpoint", no_work)
    out = tmp_path / "out"
    out.mkdir()
    (out / "t_joints.csv").write_text("keep\n")
    (out / "m.json").write_text("{}\n")
    base = ["evaluate", "--data", str(synthetic_h36m)]
    assert main([*base, "--checkpoint", str(tiny_checkpoint), "--out", str(out / "t")]) == 2
    assert f"{out / 't_joints.csv'} already exists; pass --overwrite" in capsys.readouterr().err
    assert main([*base, "--mesh", "--out", str(out / "m")]) == 2
    assert f"{out / 'm.json'} already exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "t_joints.csv").read_text() == "keep\n"
    assert (out / "m.json").read_text() == "{}\n"
    assert sorted(p.name for p in out.iterdir()) == ["m.json", "t_joints.csv"]


# ------------------------------------------- test streams without the 2D input: on the record


def _sh_checkpoint(path: Path, target_space: str) -> Path:
    """A tiny random model on Stacked-Hourglass 2D (T = 9) for ``target_space``'s protocol."""
    import torch

    from ssrstf.checkpoint import export_weights
    from ssrstf.config import load_config
    from ssrstf.models import SSRSTF

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny_debug.yaml")
    protocol = "motionbert" if target_space == "image_2.5d" else "videopose3d"
    cfg = replace(
        cfg,
        data=replace(cfg.data, input_source="sh", target_space=target_space),
        eval=replace(cfg.eval, protocol=protocol),
    )
    torch.manual_seed(0)
    return export_weights(path, SSRSTF(cfg.model).eval(), cfg)


def test_cli_evaluate_records_test_streams_without_the_2d_input(
    synthetic_h36m: Path, tmp_path: Path, capsys
) -> None:
    """Synthetic S11/Directions/54138969 has no SH detections (as in the real release): the
    motionbert protocol would score it, so the result says it was left out, with the same
    figures as before; videopose3d skips that sequence anyway and lists it as skipped."""
    from ssrstf.geometry import H36M_CAMERA_IDS
    from ssrstf.training.scoring import evaluate_checkpoint

    checkpoint = _sh_checkpoint(tmp_path / "sh_2_5d.safetensors", "image_2.5d")
    args = ["evaluate", "--data", str(synthetic_h36m), "--checkpoint", str(checkpoint)]
    capsys.readouterr()
    assert main([*args, "--json", "--out", str(tmp_path / "mb")]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    length = int(load_streams(synthetic_h36m, subjects=["S11"], arrays=()).lengths[0])
    assert result["left_out"] == [{
        "stream": "S11/Directions/54138969", "subject": "S11", "action": "Directions",
        "camera": "54138969", "frames": length, "reason": "no sh 2D in the dataset",
    }]  # fmt: skip
    assert captured.err.count("\n") == 1 and captured.err.startswith("left out: 1 test stream")
    assert "S11/Directions/54138969" in captured.err and "no sh 2D" in captured.err
    caveat = f"1 test stream(s) ({length} frames) without sh 2D not scored"
    assert caveat in result["label"] and caveat in (tmp_path / "mb.md").read_text()
    assert result["streams"] == 15 and result["skipped"] == []  # 16 test streams, 1 left out
    # The figures are those of the library call, which the record does not change.
    plain = evaluate_checkpoint(checkpoint, synthetic_h36m)
    assert (result["p1_mm"], result["p2_mm"]) == (plain.p1_mm, plain.p2_mm)
    assert result["per_action"] == plain.per_action and result["frames"] == plain.frames
    assert list(plain.left_out) == result["left_out"]  # the library call records it too
    # The text table: the line on standard output, after the table.
    assert main([*args, "--input", "sh"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("left out: 1 test stream(s)")
    # The same input with every stream present (gt): nothing left out.
    assert main([*args, "--input", "gt", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["left_out"] == []
    # videopose3d: the stream is in the skip list, as with gt input; nothing else is left out.
    camera = _sh_checkpoint(tmp_path / "sh_camera.safetensors", "camera")
    cmd = ["evaluate", "--data", str(synthetic_h36m), "--checkpoint", str(camera), "--json"]
    assert main(cmd) == 0
    captured = capsys.readouterr()
    sh = json.loads(captured.out)
    assert sh["left_out"] == [] and "left out" not in captured.err
    assert sh["skipped"] == sorted(f"S11/Directions/{c}" for c in H36M_CAMERA_IDS)
    assert main([*cmd, "--input", "gt"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == sh["skipped"]


REAL_H36M = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "h36m"


@pytest.mark.skipif(not REAL_H36M.is_dir(), reason=f"real Human3.6M not found at {REAL_H36M}")
def test_real_sh_release_lacks_one_motionbert_test_stream(tmp_path: Path, capsys) -> None:
    """The real Stacked-Hourglass release lacks S11 "Directions" camera 54138969: with sh input
    the motionbert protocol records it as left out (quick mode, the one sequence)."""
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import prepare_h36m

    streams = prepare_h36m(REAL_H36M, sequences=["S11/Directions"], progress=False)
    data = save_streams(streams, tmp_path / "s11_directions.npz")
    checkpoint = _sh_checkpoint(tmp_path / "sh_2_5d.safetensors", "image_2.5d")
    cmd = ["evaluate", "--data", str(data), "--checkpoint", str(checkpoint), "--every", "50"]
    assert main([*cmd, "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    frames = int(streams.lengths[streams.keys.index("S11/Directions/54138969")])
    assert [(r["stream"], r["frames"]) for r in result["left_out"]] == [
        ("S11/Directions/54138969", frames)
    ]
    assert result["streams"] == 3 and "S11/Directions/54138969" in captured.err
