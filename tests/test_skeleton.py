"""Tests for ssrstf.skeleton: tree invariants of every skeleton and the H36M converters."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from ssrstf.skeleton import (
    BLAZEPOSE_33,
    BLAZEPOSE_TO_COCO,
    BLAZEPOSE_TO_H36M,
    COCO_17,
    COCO_TO_H36M,
    H36M_17,
    H36M_TO_MPI_INF_3DHP,
    HALPE_26,
    HALPE_TO_H36M,
    HUMANEVA_15,
    HUMANEVA_TO_H36M,
    MAPPINGS_TO_H36M,
    MPI_INF_3DHP_17,
    MPI_INF_3DHP_TEST_SCENES,
    MPI_INF_3DHP_TO_H36M,
    OPENPOSE_BODY_25,
    OPENPOSE_BODY_25_TO_H36M,
    PCK_JOINT_GROUPS_MPI,
    PCK_JOINTS_MPI,
    SKELETONS,
    JointMapping,
    Skeleton,
    compose,
    convert_keypoints,
    mapping_matrix,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

ALL_SKELETONS = list(SKELETONS.values())
ALL_MAPPINGS = [*MAPPINGS_TO_H36M.values(), H36M_TO_MPI_INF_3DHP, BLAZEPOSE_TO_COCO]

# Reference tables copied from docs/reference-codebases.md, kept independent of the module.
H36M_TO_MPI_DOC = {0: 14, 1: 8, 2: 9, 3: 10, 4: 11, 5: 12, 6: 13, 7: 15, 8: 1, 9: 16, 10: 0,
                   11: 5, 12: 6, 13: 7, 14: 2, 15: 3, 16: 4}  # fmt: skip
BLAZEPOSE_TO_COCO_DOC = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
MOTIONBERT_BONES = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9),
                    (9, 10), (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16)]  # fmt: skip


def _flip(points: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Mirror x and swap left/right joints (confidence channel, if any, untouched)."""
    flipped = points[..., list(skeleton.flip_permutation), :].copy()
    flipped[..., 0] *= -1
    return flipped


# --------------------------------------------------------------------------- skeleton invariants


def test_registry_names_and_sizes() -> None:
    sizes = {name: s.num_joints for name, s in SKELETONS.items()}
    assert sizes == {"h36m17": 17, "mpi_inf_3dhp17": 17, "coco17": 17, "halpe26": 26,
                     "blazepose33": 33, "humaneva15": 15, "openpose_body25": 25}  # fmt: skip
    assert all(name == s.name for name, s in SKELETONS.items())
    assert set(MAPPINGS_TO_H36M) == set(SKELETONS)
    assert all(m.target is H36M_17 and m.source.name == k for k, m in MAPPINGS_TO_H36M.items())


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_parents_form_a_tree(skeleton: Skeleton) -> None:
    assert [p for p in skeleton.parents if p < 0] == [-1]
    assert len(set(skeleton.joint_names)) == skeleton.num_joints
    for joint in range(skeleton.num_joints):
        seen = {joint}
        while joint != skeleton.root:
            joint = skeleton.parents[joint]
            assert 0 <= joint < skeleton.num_joints and joint not in seen
            seen.add(joint)


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_flip_permutation(skeleton: Skeleton) -> None:
    perm = skeleton.flip_permutation
    assert sorted(perm) == list(range(skeleton.num_joints))
    assert all(perm[perm[j]] == j for j in range(skeleton.num_joints))
    names = skeleton.joint_names
    for left in skeleton.left_joints:
        assert "left" in names[left]
        assert names[perm[left]] == names[left].replace("left", "right")
    sided = set(skeleton.left_joints) | set(skeleton.right_joints)
    for j, name in enumerate(names):  # every sided joint is listed; midline joints stay put
        assert (j in sided) == ("left" in name or "right" in name)


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_tree_and_parts_are_mirror_symmetric(skeleton: Skeleton) -> None:
    perm = skeleton.flip_permutation
    bones = {frozenset(b) for b in skeleton.bones}
    assert {frozenset((perm[p], perm[c])) for p, c in skeleton.bones} == bones
    assert skeleton.parents[skeleton.root] == -1 and perm[skeleton.root] == skeleton.root
    mirrored_part = {0: 0, 1: 2, 2: 1, 3: 4, 4: 3}
    assert all(skeleton.parts[perm[j]] == mirrored_part[p] for j, p in enumerate(skeleton.parts))
    assert all(skeleton.parts[j] in (0, 2, 3) for j in skeleton.left_joints)
    assert all(skeleton.parts[j] in (0, 1, 4) for j in skeleton.right_joints)


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_adjacency(skeleton: Skeleton) -> None:
    adj = skeleton.adjacency()
    assert adj.shape == (skeleton.num_joints,) * 2 and adj.dtype == np.float32
    np.testing.assert_array_equal(adj, adj.T)
    assert np.all(np.diag(adj) == 0)
    assert set(np.unique(adj)) <= {0.0, 1.0}
    assert adj.sum() / 2 == skeleton.num_joints - 1
    np.testing.assert_array_equal(skeleton.adjacency(self_loops=True), adj + np.eye(len(adj)))


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_depth_first_walk(skeleton: Skeleton) -> None:
    walk = skeleton.depth_first_walk()
    adj = skeleton.adjacency()
    assert len(walk) == 2 * skeleton.num_joints - 1
    assert walk[0] == walk[-1] == skeleton.root
    assert set(walk) == set(range(skeleton.num_joints))
    assert all(adj[a, b] == 1 for a, b in pairwise(walk))


@pytest.mark.parametrize("skeleton", ALL_SKELETONS, ids=lambda s: s.name)
def test_body_part_order_is_a_permutation(skeleton: Skeleton) -> None:
    order = skeleton.body_part_order()
    assert sorted(order) == list(range(skeleton.num_joints))
    assert [skeleton.parts[j] for j in order] == sorted(skeleton.parts)


def test_h36m_and_mpi_facts_match_the_reference_doc() -> None:
    assert H36M_17.root == 0 and sorted(H36M_17.bones) == sorted(MOTIONBERT_BONES)
    assert H36M_17.index("right_hip") == 1 and H36M_17.index("left_hip") == 4
    assert MPI_INF_3DHP_17.root == 14 and MPI_INF_3DHP_17.joint_names[14] == "pelvis"
    assert HUMANEVA_15.parents == (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1)
    assert HALPE_26.joint_names[17:20] == ("head", "neck", "hip") and HALPE_26.root == 19


def test_pck_constants() -> None:
    assert tuple(range(14)) == PCK_JOINTS_MPI
    names = {
        g: {MPI_INF_3DHP_17.joint_names[j] for j in js} for g, js in PCK_JOINT_GROUPS_MPI.items()
    }
    assert names["head"] == {"head_top"} and names["neck"] == {"neck"}
    for group in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        assert names[group + "s"] == {f"left_{group}", f"right_{group}"}
    assert sum(MPI_INF_3DHP_TEST_SCENES.values(), ()) == tuple(f"TS{i}" for i in range(1, 7))


def test_invalid_skeletons_are_rejected() -> None:
    with pytest.raises(ValueError, match="cycle"):
        Skeleton("bad", ("a", "b", "c"), (-1, 2, 1), (), ())
    with pytest.raises(ValueError, match="one root"):
        Skeleton("bad", ("a", "b"), (-1, -1), (), ())
    with pytest.raises(ValueError, match="no joint 'chin'"):
        COCO_17.index("chin")


# --------------------------------------------------------------------------------- converters


@pytest.mark.parametrize("mapping", ALL_MAPPINGS, ids=lambda m: m.name)
def test_mapping_is_affine_and_commutes_with_flip(mapping: JointMapping) -> None:
    matrix = mapping_matrix(mapping)
    assert matrix.shape == (mapping.target.num_joints, mapping.source.num_joints)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    flip_t, flip_s = list(mapping.target.flip_permutation), list(mapping.source.flip_permutation)
    np.testing.assert_array_equal(matrix[flip_t][:, flip_s], matrix)


def _coco_frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    frame = np.concatenate([rng.normal(size=(17, 2)) * 100, rng.uniform(0.1, 1, (17, 1))], -1)
    frame[5] = [10, 20, 0.9]  # left shoulder
    frame[6] = [30, 22, 0.4]  # right shoulder
    frame[11] = [12, 80, 0.8]  # left hip
    frame[12] = [28, 84, 0.7]  # right hip
    return frame


def test_coco_to_h36m_hand_built_example() -> None:
    coco = _coco_frame()
    h36m = convert_keypoints(coco, COCO_TO_H36M)
    assert h36m.shape == (17, 3)
    j = H36M_17.index
    np.testing.assert_allclose(h36m[j("pelvis"), :2], [20, 82])
    np.testing.assert_allclose(h36m[j("thorax"), :2], [20, 21])
    np.testing.assert_allclose(h36m[j("spine"), :2], [20, 51.5])
    np.testing.assert_allclose(h36m[j("neck")], coco[0])
    np.testing.assert_allclose(h36m[j("head"), :2], (coco[1, :2] + coco[2, :2]) / 2)
    np.testing.assert_allclose(h36m[1], coco[12])  # H36M 1 is the RIGHT hip = COCO 12
    np.testing.assert_allclose(h36m[4], coco[11])
    np.testing.assert_allclose(h36m[[11, 12, 13, 14, 15, 16]], coco[[5, 7, 9, 6, 8, 10]])
    np.testing.assert_allclose(h36m[[2, 3, 5, 6]], coco[[14, 16, 13, 15]])
    # Confidence of a synthesised joint = min of its sources.
    assert h36m[j("pelvis"), 2] == pytest.approx(0.7)
    assert h36m[j("thorax"), 2] == pytest.approx(0.4)
    assert h36m[j("spine"), 2] == pytest.approx(0.4)
    assert h36m[j("head"), 2] == pytest.approx(coco[[1, 2], 2].min())


def test_two_channels_give_no_confidence_and_batch_dims_are_kept() -> None:
    coco = np.stack([_coco_frame(), _coco_frame() + 1.0])[None]  # (1, 2, 17, 3)
    xy = convert_keypoints(coco[..., :2], COCO_TO_H36M)
    assert xy.shape == (1, 2, 17, 2)
    np.testing.assert_allclose(xy, convert_keypoints(coco, COCO_TO_H36M)[..., :2])
    np.testing.assert_allclose(xy[0, 1], convert_keypoints(coco[0, 1, :, :2], COCO_TO_H36M))


def test_dtypes() -> None:
    assert convert_keypoints(np.zeros((17, 3), np.float32), COCO_TO_H36M).dtype == np.float32
    assert convert_keypoints(np.zeros((17, 2), np.int64), COCO_TO_H36M).dtype == np.float64


def test_flip_commutes_with_coco_conversion() -> None:
    coco = np.random.default_rng(1).normal(size=(4, 17, 3))
    np.testing.assert_allclose(
        convert_keypoints(_flip(coco, COCO_17), COCO_TO_H36M),
        _flip(convert_keypoints(coco, COCO_TO_H36M), H36M_17),
    )


def test_halpe_to_h36m() -> None:
    halpe = np.random.default_rng(2).uniform(size=(26, 3))
    h36m = convert_keypoints(halpe, HALPE_TO_H36M)
    np.testing.assert_allclose(h36m[0], halpe[19])
    np.testing.assert_allclose(h36m[8], halpe[18])
    np.testing.assert_allclose(h36m[7, :2], (halpe[18, :2] + halpe[19, :2]) / 2)
    assert h36m[7, 2] == min(halpe[18, 2], halpe[19, 2])
    np.testing.assert_allclose(h36m[[9, 10]], halpe[[0, 17]])
    coco_part = convert_keypoints(halpe[:17], COCO_TO_H36M)
    limbs = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]
    np.testing.assert_allclose(h36m[limbs], coco_part[limbs])


def test_blazepose_goes_through_the_coco_subset() -> None:
    assert [s for ((s, _),) in BLAZEPOSE_TO_COCO.weights] == BLAZEPOSE_TO_COCO_DOC
    blaze = np.random.default_rng(3).uniform(size=(5, 33, 3))
    np.testing.assert_allclose(
        convert_keypoints(blaze, BLAZEPOSE_TO_H36M),
        convert_keypoints(blaze[:, BLAZEPOSE_TO_COCO_DOC], COCO_TO_H36M),
    )
    assert compose(BLAZEPOSE_TO_COCO, COCO_TO_H36M) == BLAZEPOSE_TO_H36M
    assert BLAZEPOSE_33.num_joints == 33


def test_mpi_to_h36m_matches_doc_table_and_round_trips() -> None:
    assert [w for w in MPI_INF_3DHP_TO_H36M.weights] == [
        ((H36M_TO_MPI_DOC[h], 1.0),) for h in range(17)
    ]
    poses = np.random.default_rng(4).normal(size=(3, 17, 3))  # 3D: all channels are coordinates
    to_mpi = convert_keypoints(poses, H36M_TO_MPI_INF_3DHP, has_confidence=False)
    for h, m in H36M_TO_MPI_DOC.items():
        np.testing.assert_array_equal(to_mpi[:, m], poses[:, h])
    back = convert_keypoints(to_mpi, MPI_INF_3DHP_TO_H36M, has_confidence=False)
    np.testing.assert_array_equal(back, poses)


def test_humaneva_to_h36m() -> None:
    eva = np.random.default_rng(5).normal(size=(15, 3))
    h36m = convert_keypoints(eva, HUMANEVA_TO_H36M, has_confidence=False)
    np.testing.assert_allclose(h36m[7], (eva[0] + eva[1]) / 2)
    np.testing.assert_allclose(h36m[9], (eva[1] + eva[14]) / 2)
    np.testing.assert_allclose(h36m[[0, 8, 10, 1, 4, 11, 14]], eva[[0, 1, 14, 11, 8, 2, 5]])


def test_openpose_body25_to_h36m() -> None:
    body = np.random.default_rng(6).uniform(size=(25, 3))
    h36m = convert_keypoints(body, OPENPOSE_BODY_25_TO_H36M)
    np.testing.assert_allclose(h36m[[0, 8, 9]], body[[8, 1, 0]])  # MidHip, Neck, Nose
    np.testing.assert_allclose(h36m[7, :2], (body[1, :2] + body[8, :2]) / 2)
    np.testing.assert_allclose(h36m[10, :2], (body[15, :2] + body[16, :2]) / 2)
    # BODY_25 indices of R/L hip, knee, ankle, L/R shoulder, elbow, wrist (OpenPose docs order).
    np.testing.assert_allclose(
        h36m[[1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]],
        body[[9, 10, 11, 12, 13, 14, 5, 6, 7, 2, 3, 4]],
    )
    assert OPENPOSE_BODY_25.root == 8


def test_joint_without_sources_is_absent() -> None:
    weights = list(COCO_TO_H36M.weights)
    weights[10] = ()
    mapping = JointMapping(COCO_17, H36M_17, tuple(weights))
    out = convert_keypoints(_coco_frame(), mapping)
    np.testing.assert_array_equal(out[10], [0.0, 0.0, 0.0])


def test_shape_errors_name_expected_and_actual_joint_count() -> None:
    with pytest.raises(ValueError, match=r"expects \(\.\.\., 17, C\).*coco17.*got 33 joints"):
        convert_keypoints(np.zeros((2, 33, 3)), COCO_TO_H36M)
    with pytest.raises(ValueError, match="no joint axis"):
        convert_keypoints(np.zeros(17), COCO_TO_H36M)
    with pytest.raises(ValueError, match="has_confidence"):
        convert_keypoints(np.zeros((17, 4)), COCO_TO_H36M)
    out = convert_keypoints(np.ones((17, 4)), MPI_INF_3DHP_TO_H36M, has_confidence=True)
    assert out.shape == (17, 4)


def test_invalid_mappings_are_rejected() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        JointMapping(COCO_17, H36M_17, (((0, 0.5),),) * 17)
    with pytest.raises(ValueError, match="entries for 17 joints"):
        JointMapping(COCO_17, H36M_17, (((0, 1.0),),) * 3)
    with pytest.raises(ValueError, match="cannot compose"):
        compose(COCO_TO_H36M, COCO_TO_H36M)


# ------------------------------------------------------------------------------ real fixtures


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} not available (shared data is not part of the repository)")
    return path


@pytest.mark.dataset
def test_real_h36m_bones_are_mirror_symmetric() -> None:
    poses = np.load(_shared("fixtures_mmpose/h36m/test_h36m_body3d.npz"))["S"][..., :3]
    perm = H36M_17.flip_permutation
    for parent, child in H36M_17.bones:
        length = np.linalg.norm(poses[:, child] - poses[:, parent], axis=-1)
        mirror = np.linalg.norm(poses[:, perm[child]] - poses[:, perm[parent]], axis=-1)
        np.testing.assert_allclose(length, mirror, atol=1e-4)


@pytest.mark.dataset
def test_real_mpi_poses_convert_to_mirror_symmetric_h36m_limbs() -> None:
    poses = np.load(_shared("fixtures_mmpose/mpi_inf_3dhp/test_3dhp_test.npz"))["S"]
    h36m = convert_keypoints(poses, MPI_INF_3DHP_TO_H36M, has_confidence=True)  # xyz + visibility
    perm = H36M_17.flip_permutation
    # The universal skeleton is symmetric for pelvis-hip, upper-arm and shank bones.
    for parent, child in [(0, 4), (11, 12), (5, 6)]:
        left = np.linalg.norm(h36m[:, child, :3] - h36m[:, parent, :3], axis=-1)
        right = np.linalg.norm(h36m[:, perm[child], :3] - h36m[:, perm[parent], :3], axis=-1)
        np.testing.assert_allclose(left, right, atol=1e-4)


@pytest.mark.dataset
def test_coco_names_match_movenet_output() -> None:
    frames = json.loads(_shared("tfjs_pose_videos/pose_1.json").read_text())
    assert tuple(frames[0]) == COCO_17.joint_names
    coco = np.array([[[kp["x"], kp["y"]] for kp in frame.values()] for frame in frames])
    h36m = convert_keypoints(coco, COCO_TO_H36M)
    assert h36m.shape == (len(frames), 17, 2) and np.isfinite(h36m).all()
