"""GLB export read back with an independent glTF reader (pygltflib) and our own forward kinematics.

The reader side (`animation_readers.Glb`) uses only pygltflib's parsing and the glTF 2.0 rules
(node matrix T · R · S, global = parent · local, accessors as typed views of the binary chunk,
skinning ``Σ w · joint_global · inverse_bind``); nothing from the writer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from animation_readers import Glb as _Glb

from ssrstf.outputs.gltf import ANIMATION_NAME, MESH_NODE_NAME, glb_document, write_glb
from ssrstf.outputs.rig import rig_hierarchy
from ssrstf.skeleton import COCO_17, H36M_17

pygltflib = pytest.importorskip("pygltflib", reason="pygltflib (dev extra) reads the GLB back")

CAMERA_TO_GLTF = np.diag([1.0, -1.0, -1.0])


def _poses(rng: np.random.Generator, frames: int, skeleton=H36M_17, jitter: float = 0.0):
    """(F, J, 3) camera-axes mm: random bone directions with fixed lengths (+ optional jitter)."""
    lengths = rng.uniform(100.0, 450.0, skeleton.num_joints)
    poses = np.zeros((frames, skeleton.num_joints, 3))
    for joint in range(skeleton.num_joints):  # parents precede children in these skeletons
        parent = skeleton.parents[joint]
        if parent < 0:
            continue
        direction = rng.normal(size=3) + 0.2 * rng.normal(size=(frames, 3)).cumsum(0)
        direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
        poses[:, joint] = poses[:, parent] + lengths[joint] * direction
    return poses + rng.normal(scale=jitter, size=poses.shape)


def test_glb_round_trip_hierarchy_times_and_joints(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    poses = _poses(rng, 30, jitter=4.0)  # bone lengths vary, as in predictions
    poses -= poses[:, :1]
    path = write_glb(tmp_path / "p.glb", poses, 25.0)
    assert path.read_bytes()[:4] == b"glTF"
    glb = _Glb(path)
    gltf = glb.gltf
    assert gltf.asset.version == "2.0"
    names = [node.name for node in gltf.nodes]
    assert names[: H36M_17.num_joints] == list(H36M_17.joint_names)
    helpers = [
        "pelvis_to_right_hip", "pelvis_to_left_hip", "pelvis_to_spine",
        "thorax_to_neck", "thorax_to_left_shoulder", "thorax_to_right_shoulder",
    ]  # fmt: skip
    assert names[H36M_17.num_joints : -1] == helpers and names[-1] == MESH_NODE_NAME
    for joint, parent in enumerate(H36M_17.parents):  # the skeleton's hierarchy, with helpers
        holders = [i for i, node in enumerate(gltf.nodes) if joint in (node.children or [])]
        if parent < 0:
            assert holders == []
        elif len(H36M_17.children[parent]) > 1:  # a branching joint: parent → helper → joint
            (helper,) = holders
            assert names[helper] == f"{names[parent]}_to_{names[joint]}"
            assert helper in gltf.nodes[parent].children and not gltf.nodes[helper].translation
        else:
            assert holders == [parent]
    assert gltf.skins[0].joints == list(range(len(names) - 1))  # joints and helpers
    scene = gltf.scenes[gltf.scene]
    assert sorted(names[i] for i in scene.nodes) == sorted(["pelvis", MESH_NODE_NAME])
    assert gltf.animations[0].name == ANIMATION_NAME
    for times, _ in glb.channels().values():
        np.testing.assert_allclose(times, np.arange(30) / 25.0, atol=1e-6)
    np.testing.assert_allclose(
        glb.positions_mm(H36M_17.joint_names), poses @ CAMERA_TO_GLTF.T, atol=0.01
    )  # well inside 1 mm


def test_glb_root_motion_and_world_frame(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    poses = _poses(rng, 20)
    poses -= poses[:, :1]
    trajectory = np.stack(
        [np.linspace(-1500, 1500, 20), np.full(20, 200.0), np.linspace(3000, 5000, 20)], -1
    )
    write_glb(tmp_path / "cam.glb", poses, 30.0, trajectory_mm=trajectory)
    glb = _Glb(tmp_path / "cam.glb")
    expected = (poses + trajectory[:, None]) @ CAMERA_TO_GLTF.T
    np.testing.assert_allclose(glb.positions_mm(H36M_17.joint_names), expected, atol=0.01)
    root_t = glb.channels()[0, "translation"][1] * 1000.0
    np.testing.assert_allclose(root_t, trajectory @ CAMERA_TO_GLTF.T, atol=0.01)

    angle = 0.3  # a camera tilted down by 0.3 rad, 1.6 m above a floor at world Y = 0
    tilt = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    world = np.eye(4)
    world[:3, :3] = tilt @ CAMERA_TO_GLTF
    world[:3, 3] = [0.0, 1600.0, 0.0]
    write_glb(tmp_path / "w.glb", poses, 30.0, trajectory_mm=trajectory, world_from_camera=world)
    expected = (poses + trajectory[:, None]) @ world[:3, :3].T + world[:3, 3]
    read = _Glb(tmp_path / "w.glb")
    np.testing.assert_allclose(read.positions_mm(H36M_17.joint_names), expected, atol=0.01)
    assert read.gltf.asset.extras["frame"] == "world"


def test_rigid_poses_animate_only_rotations_and_the_root(tmp_path: Path) -> None:
    # Constant bone lengths, but the torso's shape (hips and spine around the pelvis, neck and
    # shoulders around the thorax) changes from frame to frame: the helpers aim each child.
    poses = _poses(np.random.default_rng(2), 15)
    glb = _Glb(write_glb(tmp_path / "r.glb", poses, 30.0))
    paths = {key for key in glb.channels()}
    rotations = {node for node, path in paths if path == "rotation"}
    translations = {node for node, path in paths if path == "translation"}
    assert rotations == set(range(rig_hierarchy(H36M_17).num_nodes))
    assert translations == {0}  # the root motion only
    np.testing.assert_allclose(
        glb.positions_mm(H36M_17.joint_names), poses @ CAMERA_TO_GLTF.T, atol=0.01
    )


def test_strongly_varying_bone_lengths_are_carried_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    poses = _poses(rng, 40)
    poses *= rng.uniform(0.6, 1.4, size=(40, 1, 1))  # the whole body grows and shrinks
    poses += rng.normal(scale=40.0, size=poses.shape)  # and every bone on its own
    glb = _Glb(write_glb(tmp_path / "v.glb", poses, 30.0))
    translations = {node for node, path in glb.channels() if path == "translation"}
    assert translations == set(range(H36M_17.num_joints))  # every joint, no helper
    np.testing.assert_allclose(
        glb.positions_mm(H36M_17.joint_names), poses @ CAMERA_TO_GLTF.T, atol=0.01
    )
    rest, posed = glb.skinned_vertices_mm()
    rest_joints = glb.positions_mm(H36M_17.joint_names)  # tips follow their joints every frame
    inverse_bind = glb.accessor(glb.gltf.skins[0].inverseBindMatrices).reshape(-1, 4, 4)
    bind = -np.swapaxes(inverse_bind, 1, 2)[: H36M_17.num_joints, :3, 3] * 1000.0
    for joint in range(1, H36M_17.num_joints):
        at = np.linalg.norm(rest - bind[joint], axis=1) < 1e-3
        assert at.any()
        distance = np.linalg.norm(posed[:, at] - rest_joints[:, joint, None], axis=-1)
        assert distance.max() < 0.01


def test_skinned_mesh_follows_the_joints(tmp_path: Path) -> None:
    poses = _poses(np.random.default_rng(3), 10, jitter=3.0)
    glb = _Glb(write_glb(tmp_path / "s.glb", poses, 30.0))
    gltf = glb.gltf
    mesh_node = next(n for n in gltf.nodes if n.name == MESH_NODE_NAME)
    (primitive,) = gltf.meshes[mesh_node.mesh].primitives
    position = glb.accessor(primitive.attributes.POSITION)
    joints = glb.accessor(primitive.attributes.JOINTS_0).astype(int)
    weights = glb.accessor(primitive.attributes.WEIGHTS_0)
    assert len(position) == 16 * 8 * 3  # 16 bones, 8 faces each, unindexed
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)
    inverse_bind = glb.accessor(gltf.skins[0].inverseBindMatrices).reshape(-1, 4, 4)
    inverse_bind = np.swapaxes(inverse_bind, 1, 2)  # column-major in the file
    frame = 7
    skinning = glb.joint_matrices()[frame] @ inverse_bind  # (J, 4, 4)
    homogeneous = np.concatenate([position, np.ones((len(position), 1))], axis=1)
    per_joint = np.einsum("jab,vb->vja", skinning, homogeneous)[..., :3]  # (V, J, 3)
    skinned = np.zeros_like(position)
    for k in range(4):
        skinned += weights[:, k : k + 1] * per_joint[np.arange(len(position)), joints[:, k]]
    rest_joints = -inverse_bind[:, :3, 3]  # bind pose: identity rotations
    expected = poses[frame] @ CAMERA_TO_GLTF.T / 1000.0
    on_joint = 0
    for joint in range(17):  # vertices on a joint in the rest pose stay on it when animated
        at = np.linalg.norm(position - rest_joints[joint], axis=1) < 1e-6
        on_joint += at.sum()
        np.testing.assert_allclose(skinned[at], np.tile(expected[joint], (at.sum(), 1)), atol=1e-5)
    assert on_joint == 16 * 8  # every face has one apex: the bone's base or its tip
    for k, (parent, child) in enumerate(H36M_17.bones):  # each bone's 24 vertices, in order
        block = skinned[24 * k : 24 * (k + 1)]
        distance = _distance_to_segment(block, expected[parent], expected[child])
        assert distance.max() < 0.05  # ring radius ≤ 3 cm, plus the torso fit and the jitter


def _distance_to_segment(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    t = np.clip((points - a) @ (b - a) / max((b - a) @ (b - a), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1)


def test_glb_header_chunks_and_bounds(tmp_path: Path) -> None:
    data = glb_document(_poses(np.random.default_rng(4), 3), 10.0)
    magic, version, length = np.frombuffer(data[:12], "<u4")
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_length, json_type = np.frombuffer(data[12:20], "<u4")
    assert json_type == 0x4E4F534A and json_length % 4 == 0
    bin_header = data[20 + json_length : 28 + json_length]
    assert np.frombuffer(bin_header, "<u4")[1] == 0x004E4942
    glb = pygltflib.GLTF2.load_from_bytes(data)
    for accessor in glb.accessors:
        view = glb.bufferViews[accessor.bufferView]
        assert view.byteOffset % 4 == 0
    position = glb.accessors[glb.meshes[0].primitives[0].attributes.POSITION]
    assert position.min is not None and position.max is not None


def test_single_frame_and_other_skeleton(tmp_path: Path) -> None:
    poses = _poses(np.random.default_rng(5), 1, skeleton=COCO_17)
    glb = _Glb(write_glb(tmp_path / "c.glb", poses, 30.0, skeleton=COCO_17))
    assert [n.name for n in glb.gltf.nodes[:17]] == list(COCO_17.joint_names)
    read = glb.positions_mm(COCO_17.joint_names)
    np.testing.assert_allclose(read, poses @ CAMERA_TO_GLTF.T, atol=0.01)


def test_glb_input_errors_and_overwrite(tmp_path: Path) -> None:
    poses = _poses(np.random.default_rng(6), 4)
    with pytest.raises(ValueError, match=r"poses_mm must be \(F, 17, 3\)"):
        write_glb(tmp_path / "a.glb", poses[:, :5], 30.0)
    with pytest.raises(ValueError, match="finite"):
        write_glb(tmp_path / "a.glb", np.full_like(poses, np.nan), 30.0)
    with pytest.raises(ValueError, match="every bone of the rest pose has zero length"):
        write_glb(tmp_path / "a.glb", np.zeros_like(poses), 30.0)
    for fps in (0.0, float("inf")):  # infinity: every key time 0, and invalid JSON
        with pytest.raises(ValueError, match="fps must be positive and finite"):
            write_glb(tmp_path / "a.glb", poses, fps)
    with pytest.raises(ValueError, match="trajectory_mm"):
        write_glb(tmp_path / "a.glb", poses, 30.0, trajectory_mm=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="rigid"):
        write_glb(tmp_path / "a.glb", poses, 30.0, world_from_camera=2 * np.eye(4))
    assert not list(tmp_path.iterdir())
    write_glb(tmp_path / "a.glb", poses, 30.0)
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_glb(tmp_path / "a.glb", poses, 30.0)
    write_glb(tmp_path / "a.glb", poses, 30.0, overwrite=True)
