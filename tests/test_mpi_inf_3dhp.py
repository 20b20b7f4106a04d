"""MPI-INF-3DHP: preparation from both source layouts, the PCK/AUC protocol, CLI, training.

No real MPI-INF-3DHP data is used (its licence forbids redistribution): every file is written
here from synthetic poses, in P-STMO's npz layout and in the official ``.mat`` layout (MATLAB v5
via scipy, v7.3 via h5py). The four mmpose fixture frames in ``../shared/data`` are only read
(never copied), to check the joint order, and the tests using them skip when they are absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ssrstf.cli import main
from ssrstf.data.h36m import load_streams, save_streams
from ssrstf.data.mpi_inf_3dhp import (
    TEST_RESOLUTIONS,
    TRAIN_CAMERAS,
    TRAIN_SEQUENCE_INFO,
    prepare_mpi_inf_3dhp,
)
from ssrstf.evaluation.mpi_inf_3dhp import MPI_INF_3DHP, evaluate_predictions
from ssrstf.skeleton import (
    MPI_INF_3DHP_17,
    MPI_INF_3DHP_28_JOINT_NAMES,
    MPI_INF_3DHP_28_TO_17,
)

scipy_io = pytest.importorskip("scipy.io")
h5py = pytest.importorskip("h5py")

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixtures_mmpose"
TRAIN = (("S1", "Seq1", 34), ("S2", "Seq2", 30))
TEST = {"TS1": 40, "TS2": 25, "TS3": 22, "TS4": 31, "TS5": 28, "TS6": 36}
ROOT = 14  # the test's own constants, independent of the package
PCK_JOINTS = list(range(14))


# ----------------------------------------------------------------------------- synthetic data


def _poses(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """(F, 17, 3) camera-frame mm poses in MPI order: fixed bones, drifting directions."""
    parents = MPI_INF_3DHP_17.parents
    lengths = rng.uniform(100.0, 450.0, size=17)
    directions = rng.normal(size=(17, 3)) + 0.05 * rng.normal(size=(num_frames, 17, 3)).cumsum(0)
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    root = np.array([0.0, 200.0, 4500.0]) + rng.normal(scale=20.0, size=(num_frames, 3)).cumsum(0)
    poses = np.zeros((num_frames, 17, 3))
    done = {MPI_INF_3DHP_17.root}
    poses[:, MPI_INF_3DHP_17.root] = root
    while len(done) < 17:
        for joint, parent in enumerate(parents):
            if joint not in done and parent in done:
                poses[:, joint] = poses[:, parent] + lengths[joint] * directions[:, joint]
                done.add(joint)
    return poses


def _project(poses: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return 1500.0 * poses[..., :2] / poses[..., 2:] + np.array(size) / 2.0


def make_sequences(seed: int = 0) -> dict:
    """Synthetic ground truth: train (subject, seq) → camera → (2D, 3D); test name → dict."""
    rng = np.random.default_rng(seed)
    train = {}
    for subject, sequence, frames in TRAIN:
        train[(subject, sequence)] = {}
        for camera in TRAIN_CAMERAS:
            poses = _poses(rng, frames)
            train[(subject, sequence)][camera] = (_project(poses, (2048, 2048)), poses)
    test = {}
    for name, frames in TEST.items():
        poses = _poses(rng, frames)
        valid = rng.random(frames) < 0.8
        valid[0] = True
        test[name] = {"2d": _project(poses, TEST_RESOLUTIONS[name]), "3d": poses, "valid": valid}
    return {"train": train, "test": test}


def write_pstmo(folder: Path, data: dict) -> Path:
    """P-STMO's data_train_3dhp.npz / data_test_3dhp.npz (dicts in pickled object arrays)."""
    folder.mkdir(parents=True, exist_ok=True)
    train = {
        f"{subject} {sequence}": [
            {cam: {"data_2d": kp2, "data_3d": kp3} for cam, (kp2, kp3) in cams.items()},
            TRAIN_SEQUENCE_INFO[(subject, sequence)][1],
        ]
        for (subject, sequence), cams in data["train"].items()
    }
    test = {
        name: {"data_2d": s["2d"], "data_3d": s["3d"], "valid": s["valid"].astype(np.float64)}
        for name, s in data["test"].items()
    }
    np.savez(folder / "data_train_3dhp.npz", data=np.array(train, dtype=object))
    np.savez(folder / "data_test_3dhp.npz", data=np.array(test, dtype=object))
    return folder


def _as_28(poses_17: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(F, 17, C) → (F, 28 · C): the 17 joints at their 28-joint slots, noise elsewhere."""
    out = rng.normal(scale=1e4, size=(len(poses_17), 28, poses_17.shape[-1]))
    out[:, list(MPI_INF_3DHP_28_TO_17)] = poses_17
    return out.reshape(len(poses_17), -1)


def _write_v73(path: Path, variables: dict) -> None:
    """A MATLAB v7.3 file: HDF5 with a 512-byte MATLAB header; arrays stored transposed;
    cell arrays (lists) as object references into ``#refs#``."""
    with h5py.File(path, "w", userblock_size=512) as mat:
        refs = mat.create_group("#refs#")
        for name, value in variables.items():
            if isinstance(value, list):  # a 14×1 cell: h5py sees MATLAB's transpose (1, 14)
                cells = np.empty((1, len(value)), dtype=h5py.ref_dtype)
                for i, cell in enumerate(value):
                    cells[0, i] = refs.create_dataset(f"{name}_{i}", data=np.asarray(cell).T).ref
                mat.create_dataset(name, data=cells)
            else:
                mat.create_dataset(name, data=np.asarray(value).T)
    with open(path, "r+b") as handle:
        handle.write(b"MATLAB 7.3 MAT-file, synthetic test data".ljust(128, b" "))


def write_official(folder: Path, data: dict, seed: int = 1) -> Path:
    """The official layout: S*/Seq*/annot.mat (S1 v5, S2 v7.3) and
    mpi_inf_3dhp_test_set/TS*/annot_data.mat (odd TS v7.3, even TS v5)."""
    rng = np.random.default_rng(seed)
    for (subject, sequence), cams in data["train"].items():
        annot2, annot3 = [], []
        for camera in range(14):  # all 14 cameras; those outside the vnect set are noise
            kp2, kp3 = cams.get(str(camera), cams[TRAIN_CAMERAS[0]])
            noise = 0.0 if str(camera) in cams else 1.0
            annot2.append(_as_28(kp2 + noise * 1e3, rng))
            annot3.append(_as_28(kp3 + noise * 1e3, rng))
        folder_seq = folder / subject / sequence
        folder_seq.mkdir(parents=True)
        variables = {
            "annot2": annot2,
            "univ_annot3": annot3,
            "annot3": annot3,
            "cameras": np.arange(14).reshape(1, 14),
            "frames": np.arange(len(annot2[0])).reshape(-1, 1),
        }
        if subject == "S1":
            cells = {k: v for k, v in variables.items() if isinstance(v, list)}
            matlab = {k: v for k, v in variables.items() if not isinstance(v, list)}
            for key, value in cells.items():
                array = np.empty((14, 1), dtype=object)
                for i, cell in enumerate(value):
                    array[i, 0] = cell
                matlab[key] = array
            scipy_io.savemat(folder_seq / "annot.mat", matlab)
        else:
            _write_v73(folder_seq / "annot.mat", variables)
    for name, seq in data["test"].items():
        folder_ts = folder / "mpi_inf_3dhp_test_set" / name
        folder_ts.mkdir(parents=True)
        # MATLAB shapes: annot2 2×17×1×F, univ_annot3 3×17×1×F, valid_frame 1×F.
        variables = {
            "annot2": seq["2d"].transpose(2, 1, 0)[:, :, None],
            "univ_annot3": seq["3d"].transpose(2, 1, 0)[:, :, None],
            "valid_frame": seq["valid"].astype(np.float64).reshape(1, -1),
            "activity_annotation": np.ones((1, len(seq["valid"]))),
        }
        if int(name[2]) % 2:
            _write_v73(folder_ts / "annot_data.mat", variables)
        else:
            scipy_io.savemat(folder_ts / "annot_data.mat", variables)
    return folder


@pytest.fixture(scope="module")
def sequences() -> dict:
    return make_sequences()


@pytest.fixture(scope="module")
def prepared(sequences: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("3dhp")
    streams = prepare_mpi_inf_3dhp(write_official(folder / "official", sequences))
    return save_streams(streams, folder / "mpi_inf_3dhp.npz")


# ----------------------------------------------------------------------------- joint order


def test_28_to_17_selection_is_the_reference_list() -> None:
    # reference-codebases.md §1.2 (P-STMO data_to_npz_3dhp.py, mmpose joints_17).
    assert MPI_INF_3DHP_28_TO_17 == (7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6)
    assert len(MPI_INF_3DHP_28_JOINT_NAMES) == 28
    assert [MPI_INF_3DHP_28_JOINT_NAMES[i] for i in MPI_INF_3DHP_28_TO_17] == list(
        MPI_INF_3DHP_17.joint_names
    )
    assert MPI_INF_3DHP_17.root == ROOT


def _fixture(name: str) -> np.lib.npyio.NpzFile:
    path = FIXTURES / "mpi_inf_3dhp" / name
    if not path.is_file():
        pytest.skip(f"mmpose MPI-INF-3DHP fixtures absent ({path})")
    return np.load(path)


@pytest.mark.parametrize("name", ["test_3dhp_test.npz", "test_3dhp_train.npz"])
def test_real_frames_follow_the_joint_order(name: str) -> None:
    poses = _fixture(name)["S"][..., :3] * 1000.0  # camera frame, metres → mm
    names = MPI_INF_3DHP_17.joint_names
    for pose in poses:
        # The root is the pelvis, the midpoint of the two hips in the MPI skeleton.
        mid_hips = (pose[names.index("left_hip")] + pose[names.index("right_hip")]) / 2
        assert np.linalg.norm(pose[MPI_INF_3DHP_17.root] - mid_hips) < 1.0
        # Mirror bones (elbow-wrist, hip-knee, knee-ankle, ...) have equal lengths: the
        # left/right lists pair the right joints.
        for left, right in zip(
            MPI_INF_3DHP_17.left_joints, MPI_INF_3DHP_17.right_joints, strict=True
        ):
            if MPI_INF_3DHP_17.parents[left] == MPI_INF_3DHP_17.root:
                continue
            length_l = np.linalg.norm(pose[left] - pose[MPI_INF_3DHP_17.parents[left]])
            length_r = np.linalg.norm(pose[right] - pose[MPI_INF_3DHP_17.parents[right]])
            if names[left] in ("left_elbow", "left_wrist", "left_ankle"):
                assert length_l == pytest.approx(length_r, rel=0.01), names[left]
        # head_top is further from the neck than the head centre.
        neck = pose[names.index("neck")]
        assert np.linalg.norm(pose[names.index("head_top")] - neck) > 2 * np.linalg.norm(
            pose[names.index("head")] - neck
        )


def test_real_frames_survive_the_official_layout(tmp_path: Path) -> None:
    fixture = _fixture("test_3dhp_test.npz")
    poses, pixels = fixture["S"][..., :3] * 1000.0, fixture["part"][..., :2]
    name = "TS1"
    folder = tmp_path / "mpi_inf_3dhp_test_set" / name
    folder.mkdir(parents=True)
    _write_v73(
        folder / "annot_data.mat",
        {
            "annot2": pixels.transpose(2, 1, 0)[:, :, None],
            "univ_annot3": poses.transpose(2, 1, 0)[:, :, None],
            "valid_frame": np.ones((1, len(poses))),
        },
    )
    streams = prepare_mpi_inf_3dhp(tmp_path)
    np.testing.assert_allclose(streams.poses_3d, poses, atol=1e-3)
    np.testing.assert_allclose(streams.poses_2d["gt"][..., :2], pixels, atol=1e-3)


# ----------------------------------------------------------------------------- preparation


def test_pstmo_files_need_an_explicit_opt_in(sequences: dict, tmp_path: Path, capsys) -> None:
    folder = write_pstmo(tmp_path / "pstmo", sequences)
    with pytest.raises(ValueError, match="--allow-pickle"):
        prepare_mpi_inf_3dhp(folder)
    code = main(["data", "prepare-3dhp", "--source", str(folder), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "--allow-pickle" in err and "\n" not in err
    assert not (tmp_path / "x.npz").exists()


def test_pstmo_and_official_layouts_give_the_same_streams(sequences: dict, tmp_path: Path) -> None:
    pstmo = prepare_mpi_inf_3dhp(write_pstmo(tmp_path / "pstmo", sequences), allow_pickle=True)
    official = prepare_mpi_inf_3dhp(write_official(tmp_path / "official", sequences))
    assert pstmo.keys == official.keys
    assert pstmo.keys[0] == "S1/Seq1/0" and pstmo.keys[-1] == "TS6/test/test"
    assert pstmo.num_streams == len(TRAIN) * len(TRAIN_CAMERAS) + len(TEST)
    for streams in (pstmo, official):
        assert streams.joint_layout == "mpi_inf_3dhp17"
        np.testing.assert_array_equal(streams.offsets, pstmo.offsets)
        np.testing.assert_array_equal(streams.valid, pstmo.valid)
        np.testing.assert_allclose(streams.poses_3d, pstmo.poses_3d, atol=1e-3)
        np.testing.assert_allclose(streams.poses_2d["gt"], pstmo.poses_2d["gt"], atol=1e-3)
        np.testing.assert_array_equal(streams.image_size, pstmo.image_size)
        np.testing.assert_array_equal(streams.fps, pstmo.fps)
    # Ground truth as written, per stream; the valid mask and resolutions per test sequence.
    i = official.keys.index("S2/Seq2/4")
    np.testing.assert_allclose(
        official.poses_3d[official.frames(i)], sequences["train"][("S2", "Seq2")]["4"][1], atol=1e-3
    )
    for name, seq in sequences["test"].items():
        i = official.keys.index(f"{name}/test/test")
        np.testing.assert_array_equal(official.valid[official.frames(i)], seq["valid"])
        np.testing.assert_allclose(official.poses_3d[official.frames(i)], seq["3d"], atol=1e-3)
        assert tuple(official.image_size[i]) == TEST_RESOLUTIONS[name]
    assert tuple(official.image_size[official.keys.index("TS5/test/test")]) == (1920, 1080)
    assert official.fps[official.keys.index("S1/Seq1/0")] == 25.0
    assert official.valid[: official.offsets[len(TRAIN) * len(TRAIN_CAMERAS)]].all()


def test_prepared_file_round_trips(prepared: Path) -> None:
    streams = load_streams(prepared, arrays=())
    assert streams.joint_layout == "mpi_inf_3dhp17" and streams.valid is not None
    assert int(streams.valid.sum()) < streams.num_frames
    full = load_streams(prepared, subjects=["TS3"])
    assert full.num_streams == 1 and len(full.valid) == TEST["TS3"]


def test_annotations_longer_than_the_video_are_cut(
    sequences: dict, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setitem(TRAIN_SEQUENCE_INFO, ("S1", "Seq1"), (20, 50.0))
    streams = prepare_mpi_inf_3dhp(write_official(tmp_path, sequences))
    i = streams.keys.index("S1/Seq1/0")
    assert streams.lengths[i] == 20 and streams.fps[i] == 50.0


def test_malformed_sources_name_the_file(sequences: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="found neither"):
        prepare_mpi_inf_3dhp(tmp_path)
    folder = tmp_path / "mpi_inf_3dhp_test_set" / "TS2"
    folder.mkdir(parents=True)
    scipy_io.savemat(folder / "annot_data.mat", {"annot2": np.zeros((2, 17, 1, 3))})
    with pytest.raises(ValueError, match=r"TS2.*annot_data.mat: missing variables"):
        prepare_mpi_inf_3dhp(tmp_path)
    scipy_io.savemat(
        folder / "annot_data.mat",
        {"annot2": np.zeros((2, 16, 1, 3)), "univ_annot3": np.zeros((3, 17, 1, 3)),
         "valid_frame": np.ones((1, 3))},
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"annot_data.mat annot2: expected .*\(2, 17, 1, F\)"):
        prepare_mpi_inf_3dhp(tmp_path)
    (folder / "annot_data.mat").write_text("not a mat file")
    with pytest.raises(ValueError, match="not a MATLAB"):
        prepare_mpi_inf_3dhp(tmp_path)
    bad = tmp_path / "data_test_3dhp.npz"
    np.savez(bad, data=np.array({"TS1": {"data_2d": np.zeros((3, 17, 2))}}, dtype=object))
    with pytest.raises(ValueError, match=r"data_test_3dhp.npz\['TS1'\]: missing keys"):
        prepare_mpi_inf_3dhp(bad, allow_pickle=True)


def test_pstmo_reader_refuses_code_even_with_the_opt_in(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    np.savez(tmp_path / "data_test_3dhp.npz", data=np.array({"TS1": Payload()}, dtype=object))
    with pytest.raises(ValueError, match="refusing to unpickle"):
        prepare_mpi_inf_3dhp(tmp_path / "data_test_3dhp.npz", allow_pickle=True)
    assert not (tmp_path / "pwned").exists()


# ----------------------------------------------------------------------------- protocol


class _Seq:
    """A minimal EvalStream for the protocol."""

    def __init__(self, name: str, gt: np.ndarray, valid: np.ndarray) -> None:
        self.key, self.subject, self.action, self.sequence_id = f"{name}/test/test", name, "", ""
        self.ground_truth, self.valid = gt, valid
        self.clips, self.inputs, self.output_scale = np.zeros((0, 1), int), None, None


def _golden_case() -> tuple[list[_Seq], dict[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    gt_ts1 = np.round(rng.uniform(-500, 500, size=(2, 17, 3)))
    pred_ts1 = gt_ts1.copy()
    pred_ts1[0, 0, 0] += 150.0  # head top exactly at the threshold: not correct
    pred_ts1[0, 1, 1] -= 149.0  # neck just under it: correct
    pred_ts1[1, [j for j in range(17) if j != ROOT], 0] += 1000.0  # frame 1: far off
    gt_ts5 = np.round(rng.uniform(-500, 500, size=(3, 17, 3)))
    pred_ts5 = gt_ts5 + 250.0  # a translation only: perfect after root alignment
    streams = [_Seq("TS1", gt_ts1, np.array([True, False])), _Seq("TS5", gt_ts5, np.ones(3, bool))]
    return streams, {"TS1": pred_ts1, "TS5": pred_ts5}


def test_golden_pck_auc_with_errors_at_the_threshold_and_masked_frames() -> None:
    streams, predictions = _golden_case()
    result = evaluate_predictions(MPI_INF_3DHP, streams, predictions)
    ts1, ts5 = result.per_sequence["TS1"], result.per_sequence["TS5"]
    assert ts1["frames"] == 1 and ts5["frames"] == 3 and result.frames == 4
    assert ts1["pck"] == pytest.approx(100 * 13 / 14)
    # AUC: 12 perfect joints count at 30 of the 31 thresholds (not at 0), the neck (149 mm) at
    # one (150), the head top (150 mm) at none.
    assert ts1["auc"] == pytest.approx(100 * (12 * 30 + 1) / (14 * 31))
    assert ts1["mpjpe_mm"] == pytest.approx((150 + 149) / 17)
    assert ts5 == pytest.approx({"pck": 100.0, "auc": 100 * 30 / 31, "mpjpe_mm": 0.0, "frames": 3})
    assert result.pck == pytest.approx((100 * 13 / 14 + 3 * 100) / 4)
    assert result.auc == pytest.approx((100 * 361 / 434 + 3 * 100 * 30 / 31) / 4)
    assert result.mpjpe_mm == pytest.approx((150 + 149) / 17 / 4)
    assert set(result.per_scene) == {"GS", "Outdoor"}
    assert result.per_scene["GS"] == pytest.approx(ts1)
    # All frames valid: the far-off frame now counts (16 joints × 1000 mm, no correct joint).
    streams[0].valid = np.ones(2, bool)
    all_valid = evaluate_predictions(MPI_INF_3DHP, streams, predictions).per_sequence["TS1"]
    assert all_valid["pck"] == pytest.approx(100 * 13 / 14 / 2)
    assert all_valid["auc"] == pytest.approx(100 * 361 / 434 / 2)
    assert all_valid["mpjpe_mm"] == pytest.approx(((150 + 149) / 17 + 16000 / 17) / 2)


def test_prediction_errors_name_the_file_and_the_problem() -> None:
    streams, predictions = _golden_case()
    with pytest.raises(ValueError, match=r"preds.npz\['TS1'\] has shape \(3, 17, 3\); expected"):
        evaluate_predictions(
            MPI_INF_3DHP, streams, {**predictions, "TS1": np.zeros((3, 17, 3))}, source="preds.npz"
        )
    with pytest.raises(ValueError, match=r"preds.npz: keys .*missing \['TS5'\]"):
        evaluate_predictions(MPI_INF_3DHP, streams, {"TS1": predictions["TS1"]}, source="preds.npz")
    nan = predictions["TS1"].copy()
    nan[1] = np.nan  # an invalid frame may hold anything
    evaluate_predictions(MPI_INF_3DHP, streams, {**predictions, "TS1": nan})
    nan[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in valid frames"):
        evaluate_predictions(MPI_INF_3DHP, streams, {**predictions, "TS1": nan})


def _independent_scores(gt: np.ndarray, pred: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per valid frame (MPJPE, PCK %, AUC %), from the definitions, without package code."""
    gt, pred = gt[valid].astype(np.float64), pred[valid].astype(np.float64)
    gt = gt - gt[:, ROOT : ROOT + 1]
    pred = pred - pred[:, ROOT : ROOT + 1]
    err = np.sqrt(((gt - pred) ** 2).sum(-1))
    pck_err = err[:, PCK_JOINTS]
    pck = 100.0 * (pck_err < 150.0).mean(-1)
    auc = 100.0 * np.mean([(pck_err < t).mean(-1) for t in np.arange(0, 155, 5)], axis=0)
    return np.stack([err.mean(-1), pck, auc], -1)


def test_cli_agrees_with_an_independent_recomputation(
    prepared: Path, sequences: dict, tmp_path: Path, capsys
) -> None:
    rng = np.random.default_rng(11)
    predictions, per_frame = {}, {}
    for name, seq in sequences["test"].items():
        pred = seq["3d"] + rng.normal(scale=55.0, size=seq["3d"].shape) + rng.normal(size=3) * 300
        predictions[name] = pred
        per_frame[name] = _independent_scores(seq["3d"], pred, seq["valid"])
    np.savez(tmp_path / "preds.npz", **predictions)
    cmd = ["evaluate", "--dataset", "mpi-inf-3dhp", "--data", str(prepared)]
    assert main([*cmd, "--predictions", str(tmp_path / "preds.npz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    everything = np.concatenate(list(per_frame.values()))
    expected = dict(zip(("mpjpe_mm", "pck", "auc"), everything.mean(0), strict=True))
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=0.01), key
    assert 5 < result["pck"] < 95  # the perturbation puts errors around the threshold
    for name, scores in per_frame.items():
        got = result["per_sequence"][name]
        assert got["frames"] == len(scores)
        for k, key in enumerate(("mpjpe_mm", "pck", "auc")):
            assert got[key] == pytest.approx(scores[:, k].mean(), abs=0.01)
    outdoor = np.concatenate([per_frame["TS5"], per_frame["TS6"]])
    assert result["per_scene"]["Outdoor"]["pck"] == pytest.approx(outdoor[:, 1].mean(), abs=0.01)
    # The table output and the tables on disk.
    table_cmd = [*cmd, "--predictions", str(tmp_path / "preds.npz"), "--out", str(tmp_path / "t")]
    assert main(table_cmd) == 0
    out = capsys.readouterr().out
    assert "MPI-INF-3DHP" in out and "Outdoor" in out
    assert (tmp_path / "t.csv").read_text().startswith("sequence,mpjpe_mm,pck,auc,frames")


def test_cli_prediction_errors_are_one_line(
    prepared: Path, sequences: dict, tmp_path: Path, capsys
):
    predictions = {name: seq["3d"] for name, seq in sequences["test"].items()}
    predictions["TS2"] = predictions["TS2"][:-1]
    np.savez(tmp_path / "short.npz", **predictions)
    cmd = ["evaluate", "--dataset", "mpi-inf-3dhp", "--data", str(prepared), "--predictions"]
    assert main([*cmd, str(tmp_path / "short.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "short.npz['TS2']" in err and "\n" not in err
    np.savez(tmp_path / "h36m_keys.npz", **{"S9/Walking/1": np.zeros((5, 17, 3))})
    assert main([*cmd, str(tmp_path / "h36m_keys.npz")]) == 2
    assert "missing" in capsys.readouterr().err
    # An H36M file is not an MPI-INF-3DHP dataset, and --protocol does not apply.
    assert main([*cmd, str(tmp_path / "short.npz"), "--protocol", "motionbert"]) == 2
    assert "--protocol" in capsys.readouterr().err


# ----------------------------------------------------------------------------- training


def test_training_on_3dhp_and_checkpoint_evaluation(prepared: Path, tmp_path: Path, capsys):
    from ssrstf.config import load_config
    from ssrstf.training.trainer import fit

    cfg = load_config(
        Path(__file__).resolve().parents[1] / "configs" / "tiny_debug.yaml",
        [
            f"data.path={prepared}",
            "data.dataset=mpi_inf_3dhp",
            "data.train_subjects=[S1, S2]",
            "data.test_subjects=[TS1, TS2, TS3, TS4, TS5, TS6]",
            "model.skeleton=mpi_inf_3dhp17",
            "eval.protocol=mpi_inf_3dhp",
            "eval.every=1",
            "train.max_steps=3",
        ],
    )
    best = fit(cfg, tmp_path / "run")
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    assert final["protocol"] == "mpi_inf_3dhp" and final["frames"] == int(
        load_streams(prepared, subjects=list(TEST), arrays=()).valid.sum()
    )
    assert {"mpjpe_mm", "pck", "auc", "per_sequence"} <= final.keys()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert {"p1_mm", "mpjpe_mm", "pck", "auc"} <= records[-1].keys()
    cmd = ["evaluate", "--dataset", "mpi-inf-3dhp", "--data", str(prepared), "--json"]
    assert main([*cmd, "--checkpoint", str(best)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "mpi_inf_3dhp" and np.isfinite(result["mpjpe_mm"])
    # A 3DHP model cannot run on Human3.6M data.
    assert main(["evaluate", "--data", str(prepared), "--checkpoint", str(best)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_training_refuses_a_layout_mismatch(prepared: Path, tmp_path: Path) -> None:
    from ssrstf.config import ConfigError, load_config
    from ssrstf.training.trainer import fit

    tiny = Path(__file__).resolve().parents[1] / "configs" / "tiny_debug.yaml"
    with pytest.raises(ConfigError, match="eval.protocol"):
        load_config(tiny, [f"data.path={prepared}", "data.dataset=mpi_inf_3dhp"])
    cfg = load_config(tiny, [f"data.path={prepared}", "data.train_subjects=[S1]"])
    with pytest.raises(ValueError, match="joint layout 'mpi_inf_3dhp17'"):
        fit(cfg, tmp_path / "run")


def test_cross_dataset_evaluation_of_a_human36m_model(prepared: Path, capsys) -> None:
    cmd = ["evaluate", "--dataset", "mpi-inf-3dhp", "--data", str(prepared), "--json"]
    assert main([*cmd, "--checkpoint", "default", "--every", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "mpi_inf_3dhp_cross" and result["quick"]
    assert np.isfinite([result["mpjpe_mm"], result["pck"], result["auc"]]).all()


def test_cross_dataset_predictor_maps_joints_both_ways() -> None:
    from ssrstf.skeleton import H36M_17
    from ssrstf.training.scoring import _mpi_from_h36m

    def h36m_model(clips: np.ndarray) -> np.ndarray:
        assert clips.shape[-2] == H36M_17.num_joints
        # "Lift" by appending the joint's H36M index as depth: exposes the joint order.
        depth = np.broadcast_to(np.arange(17.0)[:, None], (*clips.shape[:-1], 1))
        return np.concatenate([clips[..., :2], depth], axis=-1)

    clips = np.random.default_rng(0).normal(size=(2, 5, 17, 3)).astype(np.float32)
    out = _mpi_from_h36m(h36m_model)(clips)
    np.testing.assert_allclose(out[..., :2], clips[..., :2], atol=1e-6)
    names = MPI_INF_3DHP_17.joint_names
    h36m_of = {"head_top": "head", "neck": "thorax", "head": "neck"}
    for j, name in enumerate(names):
        assert out[0, 0, j, 2] == H36M_17.index(h36m_of.get(name, name))


def test_comparable_joints_evidence_on_real_frames() -> None:
    # The head top is the one MPI joint without a counterpart under the H36M mapping.
    from ssrstf.skeleton import H36M_17, H36M_COMPARABLE_JOINTS_MPI

    path = FIXTURES / "h36m" / "test_h36m_body3d.npz"
    if not path.is_file():
        pytest.skip(f"mmpose Human3.6M fixture absent ({path})")
    mpi = _fixture("test_3dhp_test.npz")["S"][..., :3] * 1000.0
    h36m = np.load(path)["S"][..., :3] * 1000.0
    m, h = MPI_INF_3DHP_17.index, H36M_17.index

    def dist(poses: np.ndarray, a: int, b: int) -> np.ndarray:
        return np.linalg.norm(poses[:, a] - poses[:, b], axis=-1)

    assert dist(mpi, m("neck"), m("head_top")).min() > dist(h36m, h("thorax"), h("head")).max() + 50
    head_mpi, nose_h36m = dist(mpi, m("neck"), m("head")), dist(h36m, h("thorax"), h("neck"))
    assert abs(head_mpi.mean() - nose_h36m.mean()) < 25
    assert MPI_INF_3DHP_17.joint_names[0] == "head_top" and 0 not in H36M_COMPARABLE_JOINTS_MPI
    assert len(H36M_COMPARABLE_JOINTS_MPI) == 16


def _pstmo_file(path: Path, data: object) -> Path:
    np.savez(path, data=np.array(data, dtype=object))
    return path


def _test_entry(frames: int = 3, valid: int | None = None) -> dict:
    return {"data_2d": np.zeros((frames, 17, 2)), "data_3d": np.zeros((frames, 17, 3)),
            "valid": np.ones(frames if valid is None else valid)}  # fmt: skip


def _train_entry(frames_2d: int = 3, frames_3d: int = 3) -> list:
    camera = {"data_2d": np.zeros((frames_2d, 17, 2)), "data_3d": np.zeros((frames_3d, 17, 3))}
    return [{"0": camera}, 25.0]


_BAD_PSTMO = {  # (file name, its "data") → what the error says
    "unknown test sequence": (
        "data_test_3dhp.npz", {"TS9": _test_entry()}, r"\['TS9'\]: unknown test sequence"
    ),
    "test frame counts differ": (
        "data_test_3dhp.npz", {"TS1": _test_entry(valid=2)}, "differ in frame count"
    ),
    "data not a dict": ("data_test_3dhp.npz", [1, 2], "'data' must be a dict keyed by sequence"),
    "train key not a sequence": (
        "data_train_3dhp.npz", {"S1 SeqX": _train_entry()}, "is not 'S<i> Seq<j>'"
    ),
    "train value not [cameras, fps]": (
        "data_train_3dhp.npz", {"S1 Seq1": {"0": {}}}, "→ \\[cameras, fps\\]"
    ),
    "unknown training sequence": (
        "data_train_3dhp.npz", {"S9 Seq1": _train_entry()}, "unknown training sequence S9/Seq1"
    ),
    "camera without 3D": (
        "data_train_3dhp.npz", {"S1 Seq1": [{"0": {"data_2d": np.zeros((3, 17, 2))}}, 25.0]},
        r"\['S1 Seq1'\]\['0'\]: needs keys 'data_2d' and 'data_3d'",
    ),
    "train frame counts differ": (
        "data_train_3dhp.npz", {"S1 Seq1": _train_entry(3, 2)}, "data_2d has 3 frames, data_3d 2"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(_BAD_PSTMO))
def test_malformed_pstmo_files_name_the_entry(case: str, tmp_path: Path) -> None:
    name, data, message = _BAD_PSTMO[case]
    path = _pstmo_file(tmp_path / name, data)
    with pytest.raises(ValueError, match=message) as error:
        prepare_mpi_inf_3dhp(path, allow_pickle=True)
    assert str(path.name) in str(error.value)


def test_pstmo_files_unreadable_pickled_or_with_nan(tmp_path: Path) -> None:
    garbage = tmp_path / "data_test_3dhp.npz"
    garbage.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not a readable .npz file"):
        prepare_mpi_inf_3dhp(garbage, allow_pickle=True)
    path = _pstmo_file(tmp_path / "data_test_3dhp.npz", {"TS1": _test_entry(4)})
    with pytest.raises(ValueError, match="pass --allow-pickle"):
        prepare_mpi_inf_3dhp(path)
    # NaN in a scored frame is refused; in a frame the protocol never scores it becomes a
    # harmless zero with confidence 0 (it may still be context of a model's input clip).
    entry = _test_entry(4)
    entry["data_3d"][2, 5] = np.nan
    with pytest.raises(ValueError, match="1 valid frames have NaN or inf"):
        prepare_mpi_inf_3dhp(_pstmo_file(path, {"TS1": entry}), allow_pickle=True)
    entry["valid"][2] = 0
    entry["data_2d"][2] += 100.0
    streams = prepare_mpi_inf_3dhp(_pstmo_file(path, {"TS1": entry}), allow_pickle=True)
    assert streams.valid.tolist() == [True, True, False, True]
    assert (streams.poses_2d["gt"][2] == 0).all() and (streams.poses_3d[2] == 0).all()
    assert (streams.poses_2d["gt"][[0, 1, 3], :, 2] == 1).all()
