"""Converters into the project format, on small files written here in the sources' layouts."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ssrstf.cli import main
from ssrstf.data.h36m import load_streams
from ssrstf.data.prepare import (
    convert_motionbert,
    convert_videopose3d,
    load_h36m_cameras,
    prepare_h36m,
    read_npz_object,
    source_name_from_path,
)
from ssrstf.geometry import H36M_CAMERA_IDS, project_to_image, world_to_camera
from ssrstf.skeleton import H36M_17, H36M_32_TO_17, STACKED_HOURGLASS_16

# ----------------------------------------------------------------------------- raw layout


def test_prepare_h36m_computes_camera_3d_and_projected_2d(synthetic_h36m_raw: Path) -> None:
    streams = prepare_h36m(synthetic_h36m_raw, progress=False)
    cameras = load_h36m_cameras(synthetic_h36m_raw / "h36m_cameras.json")
    world = np.load(synthetic_h36m_raw / "h36m_3d_17j_world_50fps.npz")
    assert streams.num_streams == 3 * 2 * 4 and streams.num_frames == 4 * sum(
        len(world[k]) for k in world.files
    )
    i = streams.keys.index("S9/Walking 1/58860488")
    cam = cameras["S9/58860488"]
    expected = (world["S9/Walking 1"].astype(np.float64) * 1000 - cam.center) @ cam.rotation.T
    np.testing.assert_allclose(streams.poses_3d[streams.frames(i)], expected, atol=1e-3)
    pixels = cam.focal * expected[..., :2] / expected[..., 2:] + cam.principal_point
    np.testing.assert_allclose(streams.poses_2d["gt"][streams.frames(i), :, :2], pixels, atol=1e-3)
    assert np.all(streams.poses_2d["gt"][..., 2] == 1)
    assert tuple(streams.image_size[i]) == (cam.width, cam.height) and streams.fps[i] == 50
    # λ = Z_root / mean focal; λ · image-space pose = metric depth relative to the root.
    lam = streams.scale_2_5d[streams.frames(i)]
    np.testing.assert_allclose(lam, expected[:, 0, 2] / cam.focal.mean(), rtol=1e-5)
    depth = streams.poses_3d_image[streams.frames(i), :, 2] * lam[:, None]
    np.testing.assert_allclose(depth, expected[..., 2] - expected[:, :1, 2], atol=1e-2)


def test_prepare_h36m_maps_stacked_hourglass_with_a_zero_confidence_stand_in(
    synthetic_h36m_raw: Path,
) -> None:
    streams = prepare_h36m(synthetic_h36m_raw, subjects=["S9"], progress=False)
    assert set(streams.subject) == {"S9"}
    raw = np.load(synthetic_h36m_raw / "h36m_2d_stackedhourglass_16j.npz")["S9/Directions/55011271"]
    sh = streams.poses_2d["sh"][streams.frames(streams.keys.index("S9/Directions/55011271"))]
    for s, name in enumerate(STACKED_HOURGLASS_16.joint_names):
        np.testing.assert_array_equal(sh[:, H36M_17.index(name), :2], raw[:, s])
    neck, thorax, head = (H36M_17.index(n) for n in ("neck", "thorax", "head"))
    np.testing.assert_allclose(sh[:, neck, :2], (sh[:, thorax, :2] + sh[:, head, :2]) / 2)
    assert np.all(sh[:, neck, 2] == 0) and np.all(np.delete(sh[..., 2], neck, axis=1) == 1)


def test_stream_without_detections_is_flagged(synthetic_h36m_raw: Path) -> None:
    streams = prepare_h36m(synthetic_h36m_raw, sequences=["S11/Directions"], progress=False)
    assert streams.keys == [f"S11/Directions/{c}" for c in H36M_CAMERA_IDS]
    np.testing.assert_array_equal(streams.has_2d["sh"], [False, True, True, True])
    assert np.all(streams.poses_2d["sh"][streams.frames(0)] == 0)


def test_prepare_h36m_reports_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="h36m_3d_17j_world_50fps.npz not found"):
        prepare_h36m(tmp_path, progress=False)


# ----------------------------------------------------------------------------- VideoPose3D


def _write_videopose3d(raw: Path, out: Path) -> dict[str, Path]:
    """VideoPose3D's files, in its layouts, from the synthetic raw data."""
    rng = np.random.default_rng(1)
    world = np.load(raw / "h36m_3d_17j_world_50fps.npz")
    sh = np.load(raw / "h36m_2d_stackedhourglass_16j.npz")
    cameras = json.loads((raw / "h36m_cameras.json").read_text())
    positions_3d, cpn, sh_ft = {}, {}, {}
    for key in world.files:
        subject, action = key.split("/")
        poses32 = rng.normal(size=(len(world[key]), 32, 3)).astype(np.float32)
        poses32[:, list(H36M_32_TO_17)] = world[key]
        positions_3d.setdefault(subject, {})[action] = poses32
        per_camera = []
        for camera_id in H36M_CAMERA_IDS:
            cam = cameras[f"{subject}/{camera_id}"]
            points = world_to_camera(world[key], cam["R_world_to_cam"], cam["cam_center_world_m"])
            pixels = project_to_image(points, cam["f"], cam["c"])
            per_camera.append(
                np.concatenate([pixels, pixels[-2:]]).astype(np.float32)
            )  # 2 extra frames
        cpn.setdefault(subject, {})[action] = per_camera
        if not (subject == "S11" and action == "Directions"):  # VideoPose3D drops it
            sh_ft.setdefault(subject, {})[action] = [
                sh[f"{key}/{c}"].astype(np.float32) for c in H36M_CAMERA_IDS
            ]
    cpn["S2"] = {"Walking": [np.zeros((5, 17, 2), np.float32)] * 4}  # unlabeled subject: ignored
    symmetry = [list(H36M_17.left_joints), list(H36M_17.right_joints)]
    paths = {
        "3d": out / "data_3d_h36m.npz",
        "cpn": out / "data_2d_h36m_cpn_ft_h36m_dbb.npz",
        "sh": out / "data_2d_h36m_sh_ft_h36m.npz",
    }
    np.savez_compressed(paths["3d"], positions_3d=positions_3d)
    np.savez_compressed(
        paths["cpn"],
        positions_2d=cpn,
        metadata={"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": symmetry},
    )
    np.savez_compressed(paths["sh"], positions_2d=sh_ft, metadata={"num_joints": 16})
    return paths


def test_videopose3d_conversion_matches_the_raw_preparation(
    synthetic_h36m_raw: Path, tmp_path: Path
) -> None:
    paths = _write_videopose3d(synthetic_h36m_raw, tmp_path)
    names = {source_name_from_path(paths[k]): paths[k] for k in ("cpn", "sh")}
    assert set(names) == {"cpn", "sh"}
    converted = convert_videopose3d(
        paths["3d"], names, synthetic_h36m_raw / "h36m_cameras.json", progress=False
    )
    raw = prepare_h36m(synthetic_h36m_raw, progress=False)
    assert converted.keys == raw.keys
    np.testing.assert_allclose(converted.poses_3d, raw.poses_3d, atol=1e-3)
    np.testing.assert_allclose(converted.poses_2d["gt"], raw.poses_2d["gt"], atol=1e-3)
    # CPN (17 joints, longer than the mocap) is trimmed; its x, y equal the GT projection.
    np.testing.assert_allclose(converted.poses_2d["cpn"], raw.poses_2d["gt"], atol=1e-3)
    assert converted.has_2d["cpn"].all()
    # SH (16 joints) maps like the raw SH; VideoPose3D has none for S11 "Directions".
    lacking = {k for k, ok in zip(converted.keys, converted.has_2d["sh"], strict=True) if not ok}
    assert lacking == {f"S11/Directions/{c}" for c in H36M_CAMERA_IDS}
    keep = np.repeat(converted.has_2d["sh"], converted.lengths)
    np.testing.assert_array_equal(converted.poses_2d["sh"][keep], raw.poses_2d["sh"][keep])


def test_videopose3d_subset_and_gt_name(synthetic_h36m_raw: Path, tmp_path: Path) -> None:
    paths = _write_videopose3d(synthetic_h36m_raw, tmp_path)
    cameras = synthetic_h36m_raw / "h36m_cameras.json"
    part = convert_videopose3d(paths["3d"], {}, cameras, subjects=["S9"], progress=False)
    assert set(part.subject) == {"S9"} and part.sources == ("gt",)
    with pytest.raises(ValueError, match="'gt' 2D source is computed"):
        convert_videopose3d(paths["3d"], {"gt": paths["cpn"]}, cameras, progress=False)


class _Payload:
    """Pickles to a call that would create a file: the safe reader must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_npz_object_reader_refuses_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = np.empty((), dtype=object)
    evil[()] = _Payload(marker)
    np.savez(tmp_path / "evil.npz", positions_3d=evil)
    with pytest.raises(ValueError, match="refusing to unpickle"):
        read_npz_object(tmp_path / "evil.npz", "positions_3d")
    assert not marker.exists()
    with pytest.raises(ValueError, match="has no key 'positions_2d'"):
        read_npz_object(tmp_path / "evil.npz", "positions_2d")


def test_npz_object_reader_reads_numpy1_pickles(tmp_path: Path) -> None:
    # The public files were written by numpy 1 (pickle protocol 3, module numpy.core.multiarray).
    value = {"S1": {"Walking": np.arange(6, dtype=np.float32).reshape(1, 2, 3)}}
    payload = pickle.dumps(np.array(value, dtype=object), protocol=3)
    payload = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|O", "fortran_order": False, "shape": ()}
    )
    with zipfile.ZipFile(tmp_path / "old.npz", "w") as archive:
        archive.writestr("positions_3d.npy", header.getvalue() + payload)  # header has the magic
    out = read_npz_object(tmp_path / "old.npz", "positions_3d")
    np.testing.assert_array_equal(out["S1"]["Walking"], value["S1"]["Walking"])


# ----------------------------------------------------------------------------- MotionBERT


def _write_motionbert(prepared: Path, out: Path) -> Path:
    """A pickle in MotionBERT's layout built from the synthetic prepared data."""
    streams = load_streams(prepared)
    rng = np.random.default_rng(2)
    act_ids = {"Directions": 2, "Walking 1": 14}
    split = {"train": [], "test": []}
    for i, key in enumerate(streams.keys):
        subject, action, camera = key.split("/")
        if not streams.has_2d["sh"][i]:
            continue
        # S9 "Walking 1" plays the role of the blocked s_09_act_05_subact_02.
        act, subact = (5, 2) if (subject, action) == ("S9", "Walking 1") else (act_ids[action], 1)
        ca = H36M_CAMERA_IDS.index(camera) + 1
        source = f"s_{int(subject[1:]):02d}_act_{act:02d}_subact_{subact:02d}_ca_{ca:02d}"
        split["train" if subject == "S1" else "test"].append(
            (i, action.split(" ")[0], camera, source)
        )
    data = {}
    for name, entries in split.items():
        frames = np.concatenate(
            [np.arange(*streams.frames(i).indices(streams.num_frames)) for i, *_ in entries]
        )
        labels = [(a, c, s) for i, a, c, s in entries for _ in range(streams.lengths[i])]
        image = streams.poses_3d_image[frames]
        lam = streams.scale_2_5d[frames]
        data[name] = {
            "joint_2d": streams.poses_2d["sh"][frames, :, :2],
            "confidence": rng.uniform(0.2, 1.0, size=(len(frames), 17)).astype(np.float32),
            "joint3d_image": image,
            "joints_2.5d_image": image * lam[:, None, None] + [100.0, -50.0, 4000.0],
            "2.5d_factor": lam,
            "camera_name": [c for _, c, _ in labels],
            "action": [a for a, _, _ in labels],
            "source": [s for _, _, s in labels],
            "c3d_frame": np.arange(len(frames)),
        }
    path = out / "h36m_sh_conf_cam_source_final.pkl"
    path.write_bytes(pickle.dumps(data))
    return path


def test_motionbert_pickle_needs_an_explicit_opt_in(synthetic_h36m: Path, tmp_path: Path) -> None:
    path = _write_motionbert(synthetic_h36m, tmp_path)
    with pytest.raises(ValueError, match="--allow-pickle"):
        convert_motionbert(path)


def test_motionbert_conversion(synthetic_h36m: Path, tmp_path: Path) -> None:
    path = _write_motionbert(synthetic_h36m, tmp_path)
    streams = convert_motionbert(path, allow_pickle=True)
    prepared = load_streams(synthetic_h36m)
    assert (
        streams.num_streams == 23 and streams.poses_3d is None and streams.sources == ("gt", "sh")
    )
    i = streams.keys.index("S9/Walking 2/55011271")  # "<action> <subaction>" naming
    assert streams.sequence_id[i] == "s_09_act_05_subact_02"
    j = prepared.keys.index("S9/Walking 1/55011271")
    np.testing.assert_allclose(
        streams.poses_3d_image[streams.frames(i)], prepared.poses_3d_image[prepared.frames(j)]
    )
    np.testing.assert_allclose(
        streams.poses_2d["sh"][streams.frames(i), :, :2],
        prepared.poses_2d["sh"][prepared.frames(j), :, :2],
    )
    assert tuple(streams.image_size[i]) == (1000, 1000)
    gt = streams.ground_truth_2_5d(i)  # the stored joints_2.5d_image
    np.testing.assert_allclose(
        gt - gt[:, :1],
        (prepared.ground_truth_2_5d(j) - prepared.ground_truth_2_5d(j)[:, :1]),
        atol=1e-2,
    )


# ----------------------------------------------------------------------------- CLI


def test_cli_prepare_info_and_convert(synthetic_h36m_raw: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "prepared.npz"
    assert (
        main(
            [
                "data",
                "prepare-h36m",
                "--source",
                str(synthetic_h36m_raw),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert "24 streams" in capsys.readouterr().out
    assert main(["data", "info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["streams"] == 24 and summary["subjects"]["S9"]["streams"] == 8
    assert summary["arrays"] == ["poses_3d", "poses_3d_image", "scale_2_5d"]
    paths = _write_videopose3d(synthetic_h36m_raw, tmp_path)
    cameras = str(synthetic_h36m_raw / "h36m_cameras.json")
    args = ["--positions-3d", str(paths["3d"]), "--cameras", cameras, "--quiet"]
    vp3d = tmp_path / "vp3d.npz"
    cmd = [
        "data",
        "convert-videopose3d",
        *args,
        "--keypoints-2d",
        f"det={paths['cpn']}",
        str(paths["sh"]),
    ]
    assert main([*cmd, "--out", str(vp3d)]) == 0
    assert load_streams(vp3d, arrays=()).has_2d.keys() == {"det", "sh", "gt"}
    pkl = _write_motionbert(out, tmp_path)
    capsys.readouterr()
    assert (
        main(["data", "convert-motionbert", "--pickle", str(pkl), "--out", str(tmp_path / "mb")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--allow-pickle" in err and "\n" not in err
    assert (
        main(
            [
                "data",
                "convert-motionbert",
                "--pickle",
                str(pkl),
                "--allow-pickle",
                "--out",
                str(tmp_path / "mb"),
            ]
        )
        == 0
    )
    assert (tmp_path / "mb.npz").is_file()
