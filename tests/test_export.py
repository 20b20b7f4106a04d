"""Result writers: BVH round trip through independent readers (our `read_bvh` and the bvhio
library's forward kinematics), the rig's helper joints, JSON/NPZ layouts, overwriting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ssrstf.keypoints.keypoints2d import Keypoints2D
from ssrstf.keypoints.npy import write_keypoints
from ssrstf.keypoints.readers import read_keypoints
from ssrstf.keypoints.sample import make_sample
from ssrstf.outputs.bvh import _axis_rotation, _euler_zxy, read_bvh, write_bvh
from ssrstf.outputs.npz_json import _atomic_write, animation_extras, write_json, write_npz
from ssrstf.outputs.rig import rig_hierarchy
from ssrstf.outputs.rig import t_pose_directions as _t_pose_directions
from ssrstf.skeleton import COCO_17, H36M_17, Skeleton

BVH_FROM_CAMERA = np.diag([1.0, -1.0, -1.0])
NAMES = H36M_17.joint_names
H36M_HELPERS = (
    "pelvis_to_right_hip", "pelvis_to_left_hip", "pelvis_to_spine",
    "thorax_to_neck", "thorax_to_left_shoulder", "thorax_to_right_shoulder",
)  # fmt: skip


def _random_rotations(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """(n, 3, 3) rotations about random axes by angles of about ``scale`` radians."""
    q = rng.normal(size=(n, 4)) * [1.0 / max(scale, 1e-6), 1, 1, 1]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], axis=1)  # fmt: skip


def _fk_poses(
    rng: np.random.Generator, frames: int, skeleton: Skeleton = H36M_17, scale: float = 0.8
) -> np.ndarray:
    """(F, J, 3) camera-axes poses in mm: forward kinematics of random joint rotations.

    Bone lengths are constant and the rest offsets of the pelvis and thorax children are not a
    T-pose, so the writer has to recover the torso shape.
    """
    offsets = 250.0 * _t_pose_directions(skeleton, np.zeros((skeleton.num_joints, 3)))
    offsets += rng.normal(scale=30.0, size=offsets.shape)
    rotations = _random_rotations(rng, frames * skeleton.num_joints, scale)
    rotations = rotations.reshape(frames, skeleton.num_joints, 3, 3)
    glob = np.zeros_like(rotations)
    pts = np.zeros((frames, skeleton.num_joints, 3))
    pts[:, skeleton.root] = rng.normal(scale=500.0, size=(frames, 3))
    for joint in range(skeleton.num_joints):  # parents precede children in H36M order
        parent = skeleton.parents[joint]
        if parent < 0:
            glob[:, joint] = rotations[:, joint]
            continue
        glob[:, joint] = glob[:, parent] @ rotations[:, joint]
        pts[:, joint] = pts[:, parent] + glob[:, parent] @ offsets[joint]
    return pts @ BVH_FROM_CAMERA


def _frame_time(path: Path) -> float:
    line = next(x for x in path.read_text().splitlines() if x.startswith("Frame Time:"))
    return float(line.split(":")[1])


# ---------------------------------------------------------------------------------------- BVH


def test_bvh_round_trip_within_a_millimetre(tmp_path: Path) -> None:
    poses = _fk_poses(np.random.default_rng(0), 40)
    poses -= poses[:, :1]  # root-relative, as the lifter outputs
    error = write_bvh(tmp_path / "out.bvh", poses, 25.0)
    assert error < 1e-6
    text = (tmp_path / "out.bvh").read_text()
    lines = text.splitlines()
    assert lines[:2] == ["HIERARCHY", "ROOT pelvis"]
    assert "MOTION" in lines and "Frames: 40" in lines
    assert _frame_time(tmp_path / "out.bvh") == pytest.approx(0.04)
    assert text.count("End Site") == 5  # ankles, wrists and head
    animation = read_bvh(tmp_path / "out.bvh")
    hierarchy = rig_hierarchy(H36M_17)
    assert animation.joint_names == tuple(hierarchy.names[n] for n in hierarchy.order)
    assert set(animation.joint_names) == {*H36M_17.joint_names, *H36M_HELPERS}
    assert animation.fps == pytest.approx(25.0)
    assert animation.positions_mm.shape == (40, 17 + 6, 3)
    joints = read_bvh(tmp_path / "out.bvh", joints=H36M_17.joint_names)
    assert joints.joint_names == H36M_17.joint_names and joints.positions_mm.shape == (40, 17, 3)
    np.testing.assert_allclose(joints.positions_mm, poses, atol=1e-3)


def test_bvh_helper_joints_sit_between_branching_joints_and_their_children(tmp_path) -> None:
    poses = _fk_poses(np.random.default_rng(9), 3)
    write_bvh(tmp_path / "h.bvh", poses, 30.0)
    blocks, stack = {}, []
    for line in (tmp_path / "h.bvh").read_text().split("MOTION")[0].splitlines():
        words = line.split()
        if words[0] in ("ROOT", "JOINT"):
            blocks[words[1]] = {"parent": stack[-1] if stack else None}
            stack.append(words[1])
        elif words[0] == "End":
            stack.append(None)
        elif words[0] == "OFFSET" and stack[-1] is not None:
            blocks[stack[-1]]["offset"] = [float(v) for v in words[1:]]
        elif words[0] == "CHANNELS":
            blocks[stack[-1]]["channels"] = words[2:]
        elif words[0] == "}":
            stack.pop()
    for helper in H36M_HELPERS:
        parent, child = helper.split("_to_")
        assert blocks[helper]["parent"] == parent and blocks[child]["parent"] == helper
        assert blocks[helper]["offset"] == [0.0, 0.0, 0.0]
        assert blocks[helper]["channels"] == ["Zrotation", "Xrotation", "Yrotation"]
    for joint in ("right_knee", "thorax", "head", "left_wrist"):  # only children: no helper
        parent = H36M_17.parents[H36M_17.index(joint)]
        assert blocks[joint]["parent"] == H36M_17.joint_names[parent]
    rotations_only = [name for name, b in blocks.items() if len(b["channels"]) == 3]
    assert len(rotations_only) == 17 + 6 - 1  # constant bone lengths: only the root moves


def test_bvh_root_trajectory_units_and_large_rotations(tmp_path: Path) -> None:
    poses = _fk_poses(np.random.default_rng(1), 30, scale=3.0)  # up to 180° joint rotations
    write_bvh(tmp_path / "m.bvh", poses, 50.0, units="m")
    read = read_bvh(tmp_path / "m.bvh", units="m", joints=NAMES).positions_mm
    np.testing.assert_allclose(read, poses, atol=1e-2)  # 6 decimals of a metre
    write_bvh(tmp_path / "mm.bvh", poses, 50.0, units="mm")
    read = read_bvh(tmp_path / "mm.bvh", units="mm", joints=NAMES).positions_mm
    np.testing.assert_allclose(read, poses, atol=1e-3)


def test_bvh_limb_opposite_to_its_rest_direction(tmp_path: Path) -> None:
    rest = _t_pose_directions(H36M_17, np.zeros((17, 3))) * 200.0
    pose = np.zeros((17, 3))
    for joint in range(1, 17):
        pose[joint] = pose[H36M_17.parents[joint]] + rest[joint]
    knee, ankle = H36M_17.index("right_knee"), H36M_17.index("right_ankle")
    pose[ankle] = pose[knee] - rest[ankle]  # shin straight up: 180° from its rest direction
    elbow, wrist = H36M_17.index("left_elbow"), H36M_17.index("left_wrist")
    pose[wrist] = pose[elbow] - rest[wrist]
    poses = np.stack([pose, pose]) @ BVH_FROM_CAMERA
    assert write_bvh(tmp_path / "a.bvh", poses, 30.0) < 1e-6
    read = read_bvh(tmp_path / "a.bvh", joints=NAMES).positions_mm
    np.testing.assert_allclose(read, poses, atol=1e-3)


def test_bvh_carries_varying_bone_lengths_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    poses = _fk_poses(rng, 20) * rng.uniform(0.6, 1.4, size=(20, 1, 1))
    poses += rng.normal(scale=40.0, size=(20, 17, 3))  # every bone changes length on its own
    assert write_bvh(tmp_path / "n.bvh", poses, 30.0) < 1e-6
    read_back = read_bvh(tmp_path / "n.bvh", joints=H36M_17.joint_names).positions_mm
    np.testing.assert_allclose(read_back, poses, atol=1e-3)
    text = (tmp_path / "n.bvh").read_text()
    positioned = text.count("CHANNELS 6 Xposition Yposition Zposition Zrotation")
    assert positioned == 17 and text.count("CHANNELS 3 Zrotation Xrotation Yrotation") == 6


def _sample_poses() -> np.ndarray:
    """(F, 17, 3) camera-axes mm: the built-in sample's motion with its root path."""
    sample = make_sample(seconds=1.0)
    return sample.poses_3d


@pytest.mark.parametrize("motion", ["sample", "sample, rigid", "stretching"])
def test_bvh_read_back_by_bvhio(tmp_path: Path, motion: str) -> None:
    """A BVH library's own parser and forward kinematics find every joint in every frame."""
    pytest.importorskip("bvhio", reason="bvhio (dev extra) reads the BVH back")
    from animation_readers import bvh_positions_mm

    rng = np.random.default_rng(3)
    poses = _sample_poses()
    if motion == "sample":  # lifter-like: bones and torso shapes change a little every frame
        poses = poses + rng.normal(scale=15.0, size=poses.shape)
    elif motion == "stretching":
        centre = poses[:, :1]
        poses = centre + (poses - centre) * rng.uniform(0.6, 1.4, size=(len(poses), 1, 1))
        poses += rng.normal(scale=40.0, size=poses.shape)
    world = np.eye(4)
    world[:3, :3] = _random_rotations(rng, 1, 0.3)[0] @ BVH_FROM_CAMERA  # a tilted camera
    world[:3, 3] = [100.0, 1600.0, -4000.0]
    write_bvh(tmp_path / "s.bvh", poses, 50.0, world_from_camera=world)
    expected = poses @ world[:3, :3].T + world[:3, 3]
    read = bvh_positions_mm(tmp_path / "s.bvh", H36M_17.joint_names)
    assert read.shape == expected.shape
    distance = np.linalg.norm(read - expected, axis=-1)
    assert distance.max() < 0.01, distance.max()  # every joint, every frame, the root path too


def test_read_bvh_position_channels_replace_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "loc.bvh"
    path.write_text(
        "HIERARCHY\nROOT hips\n{\n OFFSET 0 0 0\n"
        " CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
        " JOINT knee\n {\n  OFFSET 0 -10 0\n"
        "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
        "  End Site\n  {\n   OFFSET 0 -5 0\n  }\n }\n}\n"
        "MOTION\nFrames: 2\nFrame Time: 0.5\n"
        "1 2 3 0 0 0 0 -10 0 0 0 0\n"
        "1 2 3 90 0 0 0 -12 0 0 0 0\n"
    )
    bvh = read_bvh(path).positions_mm @ BVH_FROM_CAMERA / 10.0
    np.testing.assert_allclose(bvh[0], [[1, 2, 3], [1, -8, 3]], atol=1e-12)
    np.testing.assert_allclose(bvh[1], [[1, 2, 3], [13, 2, 3]], atol=1e-12)  # Rz(90°)·(0,-12,0)
    with pytest.raises(ValueError, match=r"loc\.bvh: no joint\(s\) ankle"):
        read_bvh(path, joints=["knee", "ankle"])


def test_animation_extras_say_which_poses_the_files_carry() -> None:
    poses = _fk_poses(np.random.default_rng(4), 6) @ BVH_FROM_CAMERA
    extras = animation_extras(poses, frame="world")
    assert extras["animation_poses"] is not None and extras["animation_rigid"]
    assert str(extras["animation_frame"]) == "world"
    stretched = animation_extras(poses * np.linspace(0.9, 1.1, 6)[:, None, None], frame="camera")
    assert not stretched["animation_rigid"] and str(stretched["animation_frame"]) == "camera"
    with pytest.raises(ValueError, match="frame must be"):
        animation_extras(poses, frame="up")
    with pytest.raises(ValueError, match=r"points_mm must be \(F, 17, 3\)"):
        animation_extras(poses[:, :5], frame="world")


def test_bvh_other_skeleton_uses_its_own_hierarchy(tmp_path: Path) -> None:
    poses = _fk_poses(np.random.default_rng(3), 5, skeleton=COCO_17)
    write_bvh(tmp_path / "c.bvh", poses, 30.0, skeleton=COCO_17)
    animation = read_bvh(tmp_path / "c.bvh")
    assert animation.joint_names[0] == "nose"
    assert set(animation.joint_names) == set(rig_hierarchy(COCO_17).names)
    order = [animation.joint_names.index(n) for n in COCO_17.joint_names]
    np.testing.assert_allclose(animation.positions_mm[:, order], poses, atol=1e-3)


def test_read_bvh_hand_written_file(tmp_path: Path) -> None:
    path = tmp_path / "hand.bvh"
    path.write_text(
        "HIERARCHY\nROOT hips\n{\n OFFSET 0 0 0\n"
        " CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation\n"
        " JOINT knee\n {\n  OFFSET 0 -10 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n"
        "  End Site\n  {\n   OFFSET 0 -5 0\n  }\n }\n}\n"
        "MOTION\nFrames: 2\nFrame Time: 0.5\n"
        "1 2 3 0 0 0 0 0 0\n"
        "0 0 0 90 0 0 0 0 0\n"
    )
    animation = read_bvh(path)
    assert animation.fps == 2.0 and animation.joint_names == ("hips", "knee")
    bvh = animation.positions_mm @ BVH_FROM_CAMERA / 10.0  # back to BVH frame, cm
    np.testing.assert_allclose(bvh[0], [[1, 2, 3], [1, -8, 3]], atol=1e-12)
    np.testing.assert_allclose(bvh[1], [[0, 0, 0], [0, 0, -10]], atol=1e-12)  # Rx(90°)·(0,-10,0)


def test_read_bvh_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.bvh"
    path.write_text("HIERARCHY\nROOT a\n{\n OFFSET 0 0\n")
    with pytest.raises(ValueError, match=r"bad\.bvh: invalid BVH"):
        read_bvh(path)
    still = "HIERARCHY\nROOT a\n{\n OFFSET 0 0 0\n CHANNELS 1 Xrotation\n}\nMOTION\nFrames: 1\n"
    path.write_text(still + "Frame Time: 0\n5\n")
    with pytest.raises(ValueError, match=r"bad\.bvh: invalid BVH \(Frame Time 0\.0 is not"):
        read_bvh(path)
    path.write_text(still + "Frame Time: 0.04\n5\n")
    assert read_bvh(path).fps == 25.0
    with pytest.raises(ValueError, match=r"units must be one of \['cm', 'm', 'mm'\], got 'inch'"):
        read_bvh(path, units="inch")


def test_euler_zxy_decomposition_including_gimbal_lock() -> None:
    rotations = _random_rotations(np.random.default_rng(4), 200, 3.0)
    gimbal = _axis_rotation("Z", np.array([30.0, -50.0])) @ _axis_rotation(
        "X", np.array([90.0, -90.0])
    )
    # Within 0.003° of the lock (the thigh horizontal in a squat): still exact, not rebuilt
    # as if locked (a 450 mm bone would move by 0.01 mm).
    near = np.degrees(np.arcsin(1 - np.array([9e-10, 1e-8, 1e-6])))
    close = (
        _axis_rotation("Z", np.array([30.0, -120.0, 75.0]))
        @ _axis_rotation("X", np.concatenate([near[:2], -near[2:]]))
        @ _axis_rotation("Y", np.array([40.0, 10.0, -160.0]))
    )
    for rot in (rotations, gimbal, close):
        z, x, y = np.moveaxis(_euler_zxy(rot), -1, 0)
        rebuilt = _axis_rotation("Z", z) @ _axis_rotation("X", x) @ _axis_rotation("Y", y)
        np.testing.assert_allclose(rebuilt, rot, atol=1e-12)


def test_bvh_angles_are_continuous_across_frames_and_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A joint turning on past ±180°: its channels unwrap (no 360° jump between frames, also
    across the writer's blocks), and the file still gives back every joint."""
    import ssrstf.outputs.bvh as bvh

    monkeypatch.setattr(bvh, "_MOTION_BLOCK", 7)
    frames = 40
    poses = np.repeat(_fk_poses(np.random.default_rng(2), 1, scale=0.3), frames, axis=0)
    turn = _axis_rotation("Y", np.linspace(0.0, 700.0, frames))  # the whole body, 2 turns
    poses = np.einsum("fij,fkj->fki", turn, poses - poses[:, :1]) + [0.0, 0.0, 3000.0]
    write_bvh(tmp_path / "turn.bvh", poses, 25.0, units="mm")
    text = (tmp_path / "turn.bvh").read_text()
    motion = np.array(
        [[float(v) for v in line.split()] for line in text.split("Frame Time:")[1].splitlines()[1:]]
    )
    assert motion.shape[0] == frames and np.abs(np.diff(motion, axis=0)).max() < 180.0
    assert np.abs(motion).max() > 360.0  # the root's turn, unwrapped
    read = read_bvh(tmp_path / "turn.bvh", units="mm", joints=NAMES).positions_mm
    np.testing.assert_allclose(read, poses, atol=1e-3)


def test_bvh_input_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"poses_mm must be \(F, 17, 3\)"):
        write_bvh(tmp_path / "x.bvh", np.zeros((3, 16, 3)), 30.0)
    with pytest.raises(ValueError, match="finite"):
        write_bvh(tmp_path / "x.bvh", np.full((3, 17, 3), np.nan), 30.0)
    for fps in (0.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="fps must be positive and finite"):
            write_bvh(tmp_path / "x.bvh", np.zeros((3, 17, 3)), fps)
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])  # orthogonal, but a left-handed file frame
    for matrix in (mirror, np.full((4, 4), np.nan), np.eye(3)):
        with pytest.raises(ValueError, match="world_from_camera must be a"):
            write_bvh(tmp_path / "x.bvh", np.zeros((3, 17, 3)), 30.0, world_from_camera=matrix)
    with pytest.raises(ValueError, match="units must be one of"):
        write_bvh(tmp_path / "x.bvh", np.zeros((3, 17, 3)), 30.0, units="inch")
    assert not (tmp_path / "x.bvh").exists()


# ----------------------------------------------------------------------------------- JSON, NPZ


def _results(frames: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return (
        rng.normal(size=(frames, 17, 3)) * 300,
        rng.uniform(size=(frames, 17, 3)) * 100,
        (np.array([True, False, True])),
    )


def test_write_json_layout(tmp_path: Path) -> None:
    poses_3d, poses_2d, valid = _results()
    write_json(tmp_path / "p.json", poses_3d, poses_2d, valid, 50.0, H36M_17.joint_names)
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["format"] == "ssrstf-poses" and doc["format_version"] == 1
    assert doc["joint_names"] == list(H36M_17.joint_names) and doc["num_frames"] == 3
    assert doc["fps"] == 50.0 and doc["poses_3d"]["units"] == "mm"
    assert doc["poses_3d"]["axes"].startswith("camera: x right, y down, z forward")
    assert doc["poses_2d"] == {"units": "pixels", "channels": "x, y, confidence"}
    assert [f["valid"] for f in doc["frames"]] == [True, False, True]
    assert [f["index"] for f in doc["frames"]] == [0, 1, 2]
    np.testing.assert_allclose([f["pose_3d"] for f in doc["frames"]], poses_3d, atol=5e-4)
    np.testing.assert_allclose([f["pose_2d"] for f in doc["frames"]], poses_2d, atol=5e-4)
    write_json(tmp_path / "q.json", poses_3d, None, valid, None, H36M_17.joint_names)
    doc = json.loads((tmp_path / "q.json").read_text())
    assert doc["fps"] is None and doc["poses_2d"] is None and "pose_2d" not in doc["frames"][0]


def test_write_json_in_blocks_is_one_json_document(tmp_path: Path, monkeypatch) -> None:
    from ssrstf.outputs import npz_json as export

    rng = np.random.default_rng(4)
    poses_3d, poses_2d = rng.normal(size=(5, 17, 3)) * 300, rng.uniform(size=(5, 17, 3)) * 100
    valid = np.array([True, True, False, True, True])
    extras = {"trajectory": rng.normal(size=(5, 3)), "foot_contact": rng.uniform(size=(5, 2)) > 0.5}
    args = (poses_3d, poses_2d, valid, 25.0, H36M_17.joint_names)
    kwargs = {"frame_extras": extras, "extras": {"rigid": True}}
    write_json(tmp_path / "one.json", *args, **kwargs)
    monkeypatch.setattr(export, "_JSON_BLOCK", 2)  # blocks of 2, 2 and 1 frames
    write_json(tmp_path / "blocks.json", *args, **kwargs)
    text = (tmp_path / "blocks.json").read_text()
    assert text == (tmp_path / "one.json").read_text()
    doc = json.loads(text)
    assert doc["rigid"] is True and [f["index"] for f in doc["frames"]] == [0, 1, 2, 3, 4]
    assert [f["foot_contact"] for f in doc["frames"]] == extras["foot_contact"].tolist()
    np.testing.assert_allclose([f["trajectory"] for f in doc["frames"]], extras["trajectory"],
                               atol=5e-4)  # fmt: skip
    # The same bytes as one json.dumps of the whole document.
    whole = dict(doc)
    assert text == json.dumps(whole, allow_nan=False, separators=(",", ":"))


def test_write_npz_keys(tmp_path: Path) -> None:
    poses_3d, poses_2d, valid = _results()
    write_npz(tmp_path / "p.npz", poses_3d, poses_2d, valid, 50.0, H36M_17.joint_names)
    with np.load(tmp_path / "p.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["poses_3d"], poses_3d)
        np.testing.assert_array_equal(data["poses_2d"], poses_2d)
        np.testing.assert_array_equal(data["valid"], valid)
        assert float(data["fps"]) == 50.0 and str(data["units"]) == "mm"
        assert tuple(data["joint_names"]) == H36M_17.joint_names
    write_npz(tmp_path / "q.npz", poses_3d, None, valid, None, H36M_17.joint_names)
    with np.load(tmp_path / "q.npz", allow_pickle=False) as data:
        assert np.isnan(data["fps"]) and "poses_2d" not in data.files


def test_writer_input_errors(tmp_path: Path) -> None:
    poses_3d, poses_2d, valid = _results()
    names = H36M_17.joint_names
    with pytest.raises(ValueError, match="16 joint names for 17 joints"):
        write_json(tmp_path / "a.json", poses_3d, poses_2d, valid, 30.0, names[:16])
    with pytest.raises(ValueError, match=r"valid must be \(3,\)"):
        write_npz(tmp_path / "a.npz", poses_3d, poses_2d, valid[:2], 30.0, names)
    with pytest.raises(ValueError, match="poses_3d contains NaN"):
        write_json(tmp_path / "a.json", poses_3d * np.nan, poses_2d, valid, 30.0, names)
    with pytest.raises(ValueError, match=r"poses_2d must be \(3, 17, 2\|3\)"):
        write_json(tmp_path / "a.json", poses_3d, poses_2d[:, :5], valid, 30.0, names)
    with pytest.raises(ValueError, match="fps must be positive and finite"):
        write_npz(tmp_path / "a.npz", poses_3d, poses_2d, valid, float("inf"), names)
    for name in ("fps", "file"):  # a standard key; numpy's own argument name
        with pytest.raises(ValueError, match=f"npz extra '{name}' clashes with a standard key"):
            write_npz(tmp_path / "a.npz", poses_3d, None, valid, 30.0, names, extras={name: 1})
    for name in ("frames", "num_frames"):
        with pytest.raises(ValueError, match=f"JSON extra.*'{name}' clash with standard keys"):
            write_json(tmp_path / "a.json", poses_3d, None, valid, 30.0, names, extras={name: 1})
    assert not list(tmp_path.iterdir())


def test_keypoints_npz_round_trip(tmp_path: Path) -> None:
    frames = np.random.default_rng(6).uniform(10, 400, size=(4, 17, 3))
    kp = Keypoints2D(frames, COCO_17, np.array([1, 1, 0, 1], bool), (640, 480), 30.0, "test")
    write_keypoints(tmp_path / "kp.npz", kp)
    back = read_keypoints(tmp_path / "kp.npz")
    np.testing.assert_array_equal(back.keypoints, kp.keypoints)
    np.testing.assert_array_equal(back.valid, kp.valid)
    assert back.skeleton is COCO_17 and back.image_size == (640, 480) and back.fps == 30.0


# ------------------------------------------------------------------------------ file handling


@pytest.mark.parametrize("writer", ["json", "npz", "bvh"])
def test_writers_refuse_to_overwrite(tmp_path: Path, writer: str) -> None:
    poses_3d, poses_2d, valid = _results()
    path = tmp_path / f"out.{writer}"
    path.write_text("precious")

    def write(**kwargs: bool) -> None:
        if writer == "bvh":
            write_bvh(path, _fk_poses(np.random.default_rng(7), 3), 30.0, **kwargs)
        else:
            fn = write_json if writer == "json" else write_npz
            fn(path, poses_3d, poses_2d, valid, 30.0, H36M_17.joint_names, **kwargs)

    with pytest.raises(FileExistsError, match=rf"out\.{writer} already exists; pass --overwrite"):
        write()
    assert path.read_text() == "precious"
    write(overwrite=True)
    assert path.stat().st_size > len("precious")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def explode(handle: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        _atomic_write(tmp_path / "sub" / "x.json", False, explode)
    assert list((tmp_path / "sub").iterdir()) == []
