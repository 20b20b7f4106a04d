"""Body models (ssrstf.mesh): rotations, the SMPL backend on a synthetic file, the anny backend."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrstf.config import from_dict
from ssrstf.mesh.rotations import (
    matrix_to_quaternion,
    matrix_to_rotation_6d,
    matrix_to_rotation_vector,
    quaternion_to_matrix,
    rotation_6d_to_matrix,
    rotation_vector_to_matrix,
)
from ssrstf.mesh.smpl_body import SMPL_JOINT_NAMES, SMPL_TO_H36M, SMPLBody, read_smpl_file
from ssrstf.skeleton import H36M_17

# SMPL's published kinematic tree (parent of each of its 24 joints).
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)


def random_rotations(generator: torch.Generator, *shape: int) -> torch.Tensor:
    """Uniformly random rotation matrices (*shape, 3, 3) (from normalised Gaussian quaternions)."""
    q = torch.randn(*shape, 4, generator=generator, dtype=torch.float64)
    return quaternion_to_matrix(q)


# ------------------------------------------------------------------------------- rotations


def test_6d_round_trip_and_gram_schmidt() -> None:
    g = torch.Generator().manual_seed(0)
    rot = random_rotations(g, 200)
    d6 = matrix_to_rotation_6d(rot)
    assert d6.shape == (200, 6)
    assert torch.allclose(rotation_6d_to_matrix(d6), rot, atol=1e-12)
    # Any two non-parallel columns give a proper rotation whose first column is the first one.
    raw = torch.randn(200, 6, generator=g, dtype=torch.float64)
    out = rotation_6d_to_matrix(raw)
    eye = torch.eye(3, dtype=torch.float64).expand(200, 3, 3)
    assert torch.allclose(out.transpose(-1, -2) @ out, eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(out), torch.ones(200, dtype=torch.float64))
    first = raw[:, 0::2] / raw[:, 0::2].norm(dim=-1, keepdim=True)
    assert torch.allclose(out[..., 0], first, atol=1e-12)


def test_rotation_vector_and_quaternion_round_trips() -> None:
    g = torch.Generator().manual_seed(1)
    rot = random_rotations(g, 500)
    assert torch.allclose(quaternion_to_matrix(matrix_to_quaternion(rot)), rot, atol=1e-10)
    vec = matrix_to_rotation_vector(rot)
    assert (vec.norm(dim=-1) <= np.pi + 1e-9).all()
    assert torch.allclose(rotation_vector_to_matrix(vec), rot, atol=1e-9)
    # Golden value: 90 degrees about z.
    quarter = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert torch.allclose(matrix_to_rotation_vector(quarter), torch.tensor([0, 0, np.pi / 2]))
    # Near 180 degrees (the hard case of a matrix-to-quaternion conversion).
    half = rotation_vector_to_matrix(torch.tensor([0.0, 3.1415, 0.0], dtype=torch.float64))
    assert torch.allclose(matrix_to_rotation_vector(half)[1].abs(), torch.tensor(3.1415).double())


def test_rotation_vector_gradients_are_finite_at_the_identity() -> None:
    vec = torch.zeros(3, 3, requires_grad=True)
    rot = rotation_vector_to_matrix(vec)
    (matrix_to_rotation_vector(rot).square().sum() + rot.sum()).backward()
    assert torch.isfinite(vec.grad).all()


# ------------------------------------------------------------------------- synthetic SMPL


def synthetic_smpl_arrays(seed: int = 0, num_vertices: int = 120) -> dict[str, np.ndarray]:
    """A random model in SMPL's published file layout (nothing licensed): 24 joints."""
    rng = np.random.default_rng(seed)
    k, v = len(SMPL_PARENTS), num_vertices
    regressor = rng.uniform(size=(k, v)) ** 8
    weights = rng.uniform(size=(v, k)) ** 6
    kintree = np.zeros((2, k), dtype=np.int64)
    kintree[0] = SMPL_PARENTS
    kintree[0, 0] = 4294967295  # SMPL stores the root's parent as uint32 -1
    kintree[1] = np.arange(k)
    return {
        "v_template": rng.normal(scale=0.3, size=(v, 3)),
        "shapedirs": rng.normal(scale=0.01, size=(v, 3, 10)),
        "posedirs": rng.normal(scale=0.01, size=(v, 3, 9 * (k - 1))),
        "J_regressor": regressor / regressor.sum(1, keepdims=True),
        "weights": weights / weights.sum(1, keepdims=True),
        "kintree_table": kintree,
        "f": rng.integers(0, v, size=(2 * v, 3)).astype(np.uint32),
    }


def reference_smpl(a: dict[str, np.ndarray], beta: np.ndarray, rot: np.ndarray):
    """Textbook SMPL, one vertex at a time in float64: vertices (V, 3), joints (24, 3)."""
    parents = list(SMPL_PARENTS)
    v_shaped = a["v_template"] + a["shapedirs"] @ beta
    joints = a["J_regressor"] @ v_shaped
    feature = (rot[1:] - np.eye(3)).reshape(-1)
    v_posed = v_shaped + a["posedirs"] @ feature
    world = []
    for k in range(len(parents)):
        local = np.eye(4)
        local[:3, :3] = rot[k]
        local[:3, 3] = joints[k] - (joints[parents[k]] if k else 0)
        world.append(local if k == 0 else world[parents[k]] @ local)
    skin = []
    for k in range(len(parents)):
        unbind = np.eye(4)
        unbind[:3, 3] = -joints[k]
        skin.append(world[k] @ unbind)
    out = np.zeros_like(v_posed)
    for i in range(len(v_posed)):
        blend = sum(a["weights"][i, k] * skin[k] for k in range(len(parents)))
        out[i] = (blend @ np.append(v_posed[i], 1.0))[:3]
    posed_joints = np.array([w[:3, 3] for w in world])
    return out - posed_joints[0], posed_joints - posed_joints[0]


@pytest.fixture
def smpl_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "smpl"
    folder.mkdir()
    np.savez(folder / "SMPL_NEUTRAL.npz", **synthetic_smpl_arrays())
    return folder


def test_smpl_backend_matches_a_slow_reference(smpl_folder: Path) -> None:
    body = SMPLBody(smpl_folder)
    arrays = read_smpl_file(smpl_folder / "SMPL_NEUTRAL.npz")
    g = torch.Generator().manual_seed(2)
    pose = rotation_vector_to_matrix(0.4 * torch.randn(2, 3, 24, 3, generator=g))
    shape = torch.randn(2, 10, generator=g)
    out = body(pose, shape)
    assert out.vertices.shape == (2, 3, 120, 3) and out.joints.shape == (2, 3, 17, 3)
    h36m_index = [SMPL_JOINT_NAMES.index(SMPL_TO_H36M[n]) for n in H36M_17.joint_names]
    for b in range(2):
        for t in range(3):
            vertices, joints = reference_smpl(
                arrays, shape[b].double().numpy(), pose[b, t].double().numpy()
            )
            np.testing.assert_allclose(out.vertices[b, t].numpy(), vertices, atol=2e-5)
            np.testing.assert_allclose(out.joints[b, t].numpy(), joints[h36m_index], atol=2e-5)
    # A vertex subset equals the same rows of the full mesh; joints only skips the mesh.
    ids = torch.tensor([3, 50, 7])
    subset = body(pose, shape, vertices=ids)
    assert torch.allclose(subset.vertices, out.vertices[:, :, ids], atol=1e-6)
    assert body(pose, shape, vertices=False).vertices is None


def test_smpl_h36m_regressor_beside_the_model_gives_the_joints(smpl_folder: Path) -> None:
    rng = np.random.default_rng(7)
    regressor = rng.uniform(size=(17, 120)) ** 4
    regressor /= regressor.sum(1, keepdims=True)
    np.save(smpl_folder / "J_regressor_h36m.npy", regressor)
    body = SMPLBody(smpl_folder)
    assert body.h36m_regressor is not None and "h36m_regressor" in dict(body.named_buffers())
    arrays = read_smpl_file(smpl_folder / "SMPL_NEUTRAL.npz")
    g = torch.Generator().manual_seed(8)
    pose = rotation_vector_to_matrix(0.4 * torch.randn(1, 2, 24, 3, generator=g))
    shape = torch.randn(1, 10, generator=g)
    for vertices in (True, False, torch.tensor([4, 9])):
        out = body(pose, shape, vertices=vertices)
        for t in range(2):
            reference, _ = reference_smpl(
                arrays, shape[0].double().numpy(), pose[0, t].double().numpy()
            )
            np.testing.assert_allclose(out.joints[0, t].numpy(), regressor @ reference, atol=2e-5)
    assert body.to(torch.float64).h36m_regressor.dtype == torch.float64  # moved as a buffer
    # A malformed or mis-shaped regressor file is named in the error.
    (smpl_folder / "J_regressor_h36m.npy").write_bytes(b"not an array")
    with pytest.raises(ValueError, match=r"J_regressor_h36m\.npy: not a readable \.npy"):
        SMPLBody(smpl_folder)
    np.save(smpl_folder / "J_regressor_h36m.npy", regressor[:, :10])
    with pytest.raises(ValueError, match=r"J_regressor_h36m\.npy: shape \(17, 10\)"):
        SMPLBody(smpl_folder)


def test_smpl_pickle_is_read_safely_and_code_is_refused(tmp_path: Path) -> None:
    scipy_sparse = pytest.importorskip("scipy.sparse")
    arrays = synthetic_smpl_arrays(seed=3)
    good = tmp_path / "SMPL_NEUTRAL.pkl"
    for kind in ("csc_matrix", "csr_matrix", "coo_matrix"):
        sparse = getattr(scipy_sparse, kind)(arrays["J_regressor"])
        for protocol in (2, pickle.DEFAULT_PROTOCOL, 5):  # 5: numpy's _frombuffer arrays
            good.write_bytes(pickle.dumps(dict(arrays, J_regressor=sparse), protocol=protocol))
            loaded = read_smpl_file(good, allow_pickle=True)
            np.testing.assert_array_equal(loaded["J_regressor"], arrays["J_regressor"])
    body = SMPLBody(tmp_path, allow_pickle=True)
    assert body.num_vertices == 120 and body.faces.shape == (240, 3)

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"v_template": Payload()}))
    with pytest.raises(ValueError, match="builtins.print, which a model file never needs"):
        read_smpl_file(evil, allow_pickle=True)
    # A sparse matrix is checked before it is made dense: its size, then its indices.
    huge = dict(arrays, J_regressor=scipy_sparse.csc_matrix((10**6, 10**6)))
    evil.write_bytes(pickle.dumps(huge, protocol=5))
    with pytest.raises(ValueError, match=r"evil\.pkl: J_regressor is a sparse matrix of shape "
                       r"\(1000000, 1000000\), too large"):  # fmt: skip
        read_smpl_file(evil, allow_pickle=True)
    for kind in ("csc_matrix", "coo_matrix"):
        bad = getattr(scipy_sparse, kind)(arrays["J_regressor"])
        (bad.indices if kind == "csc_matrix" else bad.row)[0] = 10**6  # out of range
        evil.write_bytes(pickle.dumps(dict(arrays, J_regressor=bad)))
        with pytest.raises(ValueError, match="J_regressor is not a valid sparse matrix"):
            read_smpl_file(evil, allow_pickle=True)


def test_smpl_pickle_needs_the_opt_in_npz_does_not(smpl_folder: Path, tmp_path: Path) -> None:
    from ssrstf.mesh.model import build_body_model
    from ssrstf.mesh.smpl_body import smpl_pickle_allowed

    folder = tmp_path / "pkl"
    folder.mkdir()
    pkl = folder / "SMPL_NEUTRAL.pkl"
    pkl.write_bytes(pickle.dumps(synthetic_smpl_arrays(), protocol=5))
    for read in (
        lambda: read_smpl_file(pkl), lambda: SMPLBody(folder),
        lambda: build_body_model("smpl", pkl), lambda: read_smpl_file(pkl, allow_pickle=False),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=r"SMPL_NEUTRAL\.pkl: .*pass --allow-pickle"):
            read()
    assert build_body_model("smpl", pkl, allow_pickle=True).num_vertices == 120
    with smpl_pickle_allowed():
        assert SMPLBody(folder).source == str(pkl)
    with pytest.raises(ValueError, match="--allow-pickle"):
        SMPLBody(folder)  # the scope has ended
    assert SMPLBody(smpl_folder).num_vertices == 120  # .npz: no flag


def test_smpl_mesh_head_from_a_pkl_needs_allow_pickle_everywhere(
    smpl_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssrstf.cli import main
    from ssrstf.keypoints.sample import make_sample
    from ssrstf.mesh.model import create_mesh_model, export_mesh_weights, load_mesh_model
    from ssrstf.training.mesh_training import prepare_mesh_config

    pkl = tmp_path / "SMPL_NEUTRAL.pkl"  # what a downloaded checkpoint's config may name
    pkl.write_bytes(pickle.dumps(synthetic_smpl_arrays()))
    mesh = {"use_mesh_head": True, "body_model": "smpl", "body_model_path": str(pkl)}
    cfg = prepare_mesh_config(from_dict({"mesh": mesh, "data": {"input_source": "gt"}}))
    head = export_mesh_weights(
        tmp_path / "smpl_head.safetensors", create_mesh_model(cfg, allow_pickle=True), cfg
    )
    with pytest.raises(ValueError, match="--allow-pickle"):
        load_mesh_model(head)
    assert load_mesh_model(head, allow_pickle=True)[0].body.source == str(pkl)
    assert load_mesh_model(head, body_model_path=smpl_folder)[0].body.source.endswith(".npz")
    keypoints = tmp_path / "keypoints.npy"
    np.save(keypoints, make_sample(seconds=0.3).keypoints.keypoints)
    infer = ["infer", str(keypoints), "--skeleton", "h36m", "--image-size", "1000x1000",
             "--fps", "50", "--mesh", "--mesh-checkpoint", str(head), "--quiet"]  # fmt: skip
    missing = str(tmp_path / "missing.npz")
    evaluate = ["evaluate", "--mesh", str(head), "--data", missing]
    for args in (infer + ["--out", str(tmp_path / "a")], evaluate):
        capsys.readouterr()
        assert main(args) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and "pass --allow-pickle" in error
    capsys.readouterr()
    assert main([*evaluate, "--allow-pickle"]) == 2  # the model loads; the data file is missing
    error = capsys.readouterr().err
    assert "missing.npz" in error and "pickle" not in error
    assert main([*infer, "--out", str(tmp_path / "b"), "--allow-pickle"]) == 0
    assert (tmp_path / "b" / "mesh.npz").is_file()


def test_head_only_files_name_a_missing_or_replaced_backbone(
    smpl_folder: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from ssrstf.checkpoint import DEFAULT_CHECKPOINT
    from ssrstf.mesh.model import create_mesh_model, export_mesh_weights, load_mesh_model
    from ssrstf.training.mesh_training import prepare_mesh_config

    backbone = tmp_path / "backbone.safetensors"
    backbone.write_bytes(tiny_checkpoint.read_bytes())
    mesh = {"use_mesh_head": True, "body_model": "smpl", "body_model_path": str(smpl_folder)}
    mesh["backbone"] = str(backbone)
    cfg = prepare_mesh_config(from_dict({"mesh": mesh, "data": {"input_source": "gt"}}))
    model = create_mesh_model(cfg)
    head = export_mesh_weights(tmp_path / "head.safetensors", model, cfg)
    assert load_mesh_model(head)[1].mesh.backbone == str(backbone)
    backbone.unlink()
    with pytest.raises(FileNotFoundError, match=r"backbone this head was trained on is missing"):
        load_mesh_model(head)
    # Another model in the backbone's file (more tensors than the head's): refused by name.
    backbone.write_bytes(DEFAULT_CHECKPOINT.read_bytes())
    with pytest.raises(ValueError, match="is not the backbone this head was trained on"):
        export_mesh_weights(tmp_path / "again.safetensors", model, cfg)


def test_smpl_layout_errors_name_the_problem(tmp_path: Path) -> None:
    arrays = synthetic_smpl_arrays()
    del arrays["weights"]
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(ValueError, match="missing weights"):
        read_smpl_file(tmp_path / "a.npz")
    arrays = synthetic_smpl_arrays()
    arrays["posedirs"] = arrays["posedirs"][..., :10]
    np.savez(tmp_path / "b.npz", **arrays)
    with pytest.raises(ValueError, match=r"posedirs has shape \(120, 3, 10\), expected"):
        read_smpl_file(tmp_path / "b.npz")
    with pytest.raises(FileNotFoundError, match="holds no SMPL model file"):
        SMPLBody(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("smplx") is None, reason="smplx not installed")
def test_smpl_backend_matches_smplx(tmp_path: Path) -> None:
    # An independent implementation. smplx reads only .pkl and picks extra joints by SMPL's
    # vertex ids, so this synthetic model has SMPL's 6,890 vertices.
    import smplx

    arrays = synthetic_smpl_arrays(num_vertices=6890)
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps(arrays))
    reference = smplx.SMPL(str(tmp_path), gender="neutral", num_betas=10)
    g = torch.Generator().manual_seed(4)
    vec = 0.5 * torch.randn(5, 24, 3, generator=g)
    betas = torch.randn(5, 10, generator=g)
    expected = reference(
        betas=betas, global_orient=vec[:, :1].reshape(5, 3), body_pose=vec[:, 1:].reshape(5, 69)
    )
    out = SMPLBody(tmp_path, allow_pickle=True)(rotation_vector_to_matrix(vec)[:, None], betas)
    shift = expected.joints[:, :1]
    assert torch.allclose(out.vertices[:, 0], expected.vertices - shift, atol=1e-5)
    index = [SMPL_JOINT_NAMES.index(SMPL_TO_H36M[n]) for n in H36M_17.joint_names]
    assert torch.allclose(out.joints[:, 0], (expected.joints - shift)[:, index], atol=1e-5)


# ---------------------------------------------------------------------------------- swing IK


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_swing_is_a_proper_rotation_onto_the_target_up_to_180_degrees(dtype) -> None:
    from ssrstf.mesh.ik import swing

    g = torch.Generator().manual_seed(10)
    degrees = [0, 1, 30, 90, 150, 171, 172, 179, 179.2, 179.3, 179.5, 179.9, 179.99, 180]
    a = torch.nn.functional.normalize(torch.randn(len(degrees), 8, 3, generator=g).double(), dim=-1)
    side = torch.linalg.cross(a, torch.randn(len(degrees), 8, 3, generator=g).double(), dim=-1)
    side = torch.nn.functional.normalize(side, dim=-1)
    angle = torch.deg2rad(torch.tensor(degrees, dtype=torch.float64))[:, None, None]
    b = torch.cos(angle) * a + torch.sin(angle) * side
    axes = torch.eye(3, dtype=torch.float64).expand(len(degrees), 3, 3)
    a, b = torch.cat([a, axes], 1), torch.cat([b, -axes], 1)  # and exactly opposite axes
    rot = swing(a.to(dtype), b.to(dtype)).double()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    eye = torch.eye(3, dtype=torch.float64)
    assert (torch.linalg.det(rot) - 1).abs().max() < tol
    assert (rot.transpose(-1, -2) @ rot - eye).abs().max() < tol
    assert (torch.einsum("...ij,...j->...i", rot, a) - b).norm(dim=-1).max() < tol
    # the smallest rotation: its angle is the angle between a and b
    cos = ((rot.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    expected = torch.tensor(degrees, dtype=torch.float64)[:, None]
    assert (torch.rad2deg(torch.acos(cos[:, :8])) - expected).abs().max() < 0.1
    # finite gradients everywhere, at 0° and 180° included
    a_grad = a.to(dtype).clone().requires_grad_(True)
    swing(a_grad, b.to(dtype)).sum().backward()
    assert torch.isfinite(a_grad.grad).all()


def test_swing_ik_keeps_the_root_at_rest_without_a_pelvis_frame(smpl_folder: Path) -> None:
    from ssrstf.mesh.ik import solve_swing_ik

    body = SMPLBody(smpl_folder)
    setup = body.ik_setup()
    rest = body(body.rest_pose(), body.neutral_shape()[None], vertices=False).joints[0, 0]
    hips = rest.clone()
    hips[H36M_17.index("left_hip")] = hips[H36M_17.index("right_hip")]  # coincident hips
    along = rest.clone()  # "up" along the hip axis
    along[H36M_17.index("spine")] = (
        rest[H36M_17.index("pelvis")]
        + rest[H36M_17.index("left_hip")]
        - rest[H36M_17.index("right_hip")]
    )
    joints = torch.stack([rest, torch.zeros_like(rest), hips, along])[None]
    pose = solve_swing_ik(
        joints, setup.links, num_pose_bones=body.num_pose_bones,
        rest_up=torch.tensor(setup.rest_up), rest_across=torch.tensor(setup.rest_across),
        up_joints=setup.up_joints, across_joints=setup.across_joints,
    )[0]  # fmt: skip
    eye = torch.eye(3)
    assert torch.allclose(pose[0], eye.expand_as(pose[0]), atol=1e-5)  # the rest pose solves
    assert torch.equal(pose[1:, 0], eye.expand(3, 3, 3))  # no pelvis frame: the root at rest
    assert torch.equal(pose[1], eye.expand_as(pose[1]))  # all joints equal: the rest pose
    assert torch.allclose(torch.linalg.det(pose), torch.ones(pose.shape[:2]), atol=1e-5)


# ------------------------------------------------------------------------------------ anny


def test_anny_rest_pose_reproduces_annys_own_rest_joints(anny_body) -> None:
    pose = anny_body.rest_pose(1, 1)
    shape = anny_body.neutral_shape()[None]
    out = anny_body(pose, shape)
    own = anny_body.anny()  # anny's forward with its defaults: rest pose, phenotypes 0.5
    heads = own["bone_poses"][0, :, :3, 3]
    for j in range(H36M_17.num_joints):
        if anny_body.joint_points[j] < 0:  # a bone head (the nose and skull top are points)
            assert torch.allclose(out.joints[0, 0, j], heads[anny_body.joint_bones[j]], atol=1e-6)
    assert torch.equal(out.vertices[0, 0], own["vertices"][0])
    # Human3.6M sides: the subject's left is anny's +x; the head is above the neck point.
    joints = out.joints[0, 0]
    assert joints[H36M_17.index("left_hip"), 0] > 0 > joints[H36M_17.index("right_hip"), 0]
    assert joints[H36M_17.index("head"), 2] > joints[H36M_17.index("neck"), 2] > 0


def test_anny_shapes_finite_values_and_gradients(anny_body) -> None:
    g = torch.Generator().manual_seed(5)
    vec = (0.3 * torch.randn(2, 3, anny_body.num_pose_bones, 3, generator=g)).requires_grad_()
    shape = torch.rand(2, 6, generator=g).requires_grad_()
    out = anny_body(rotation_vector_to_matrix(vec), shape)
    v = anny_body.num_vertices
    assert out.vertices.shape == (2, 3, v, 3) and out.joints.shape == (2, 3, 17, 3)
    assert out.joint_rotations.shape == (2, 3, 17, 3, 3)
    assert torch.isfinite(out.vertices).all() and torch.isfinite(out.joints).all()
    assert anny_body.faces.shape == (27420, 3) and int(anny_body.faces.max()) == v - 1
    (out.joints.square().sum() + out.vertices.square().mean()).backward()
    assert vec.grad.abs().sum(dim=(0, 1, 3)).gt(0).all()  # every posed bone matters
    assert shape.grad.abs().gt(0).all()  # every phenotype matters
    # The vertex-subset skinning equals the full mesh's rows.
    ids = torch.arange(0, v, 97)
    with torch.no_grad():
        subset = anny_body(rotation_vector_to_matrix(vec), shape, vertices=ids)
    assert torch.allclose(subset.vertices, out.vertices[:, :, ids].detach(), atol=1e-5)


def test_anny_follows_the_module_to_another_dtype_and_device(anny_body) -> None:
    from ssrstf.mesh.anny_body import AnnyBody
    from ssrstf.mesh.model import create_mesh_model
    from ssrstf.training.mesh_training import prepare_mesh_config

    shared = anny_body.anny
    moved = AnnyBody(shared).to("meta")  # what a CUDA device does, without one
    assert moved.anny.template_vertices.device.type == "meta"
    assert moved.faces.device.type == "meta"
    body64 = AnnyBody(shared).to(torch.float64)
    assert body64.anny.template_vertices.dtype == torch.float64
    assert shared.template_vertices.dtype == torch.float32  # the shared model never moves
    g = torch.Generator().manual_seed(9)
    vec = 0.3 * torch.randn(2, 2, anny_body.num_pose_bones, 3, generator=g, dtype=torch.float64)
    pose, shape = rotation_vector_to_matrix(vec), torch.rand(2, 6, generator=g).double()
    ids = torch.arange(0, anny_body.num_vertices, 211)
    out64 = body64(pose, shape, vertices=ids)
    out32 = anny_body(pose.float(), shape.float(), vertices=ids)
    assert out64.joints.dtype == out64.vertices.dtype == torch.float64
    assert torch.allclose(out64.joints, out32.joints.double(), atol=1e-5)
    assert torch.allclose(out64.vertices, out32.vertices.double(), atol=1e-5)
    # A whole mesh model moved to float64 runs in float64 and leaves the shared body as it was.
    cfg = from_dict({"mesh": {"use_mesh_head": True}, "data": {"input_source": "gt"}})
    model = create_mesh_model(prepare_mesh_config(cfg), body=anny_body).eval()
    x = torch.randn(1, 9, 17, 3, generator=g)
    with torch.no_grad():
        joints32 = model(x, vertices=ids).joints
        model.to(torch.float64)
        out = model(x.double(), vertices=ids)
    assert out.joints.dtype == out.vertices.dtype == torch.float64
    assert torch.allclose(out.joints, joints32.double(), atol=1e-4)
    assert anny_body.anny is shared and anny_body.point_weights.dtype == torch.float32
    assert model.body is not anny_body and model.body.anny.dtype == torch.float64


def test_anny_knee_and_elbow_hinges_bend_the_right_way(anny_body) -> None:
    # A positive rotation about each hinge axis moves the ankle backwards (anny's +y: it faces
    # -y) and the wrist forwards: the joint-angle limits allow exactly these directions.
    limits = anny_body.joint_limits()
    names = anny_body.pose_bone_names
    shape = anny_body.neutral_shape()[None]
    rest = anny_body(anny_body.rest_pose(), shape, vertices=False).joints[0, 0]
    for bone, joint, direction in (
        ("lowerleg01.L", "left_ankle", 1.0), ("lowerleg01.R", "right_ankle", 1.0),
        ("lowerarm01.L", "left_wrist", -1.0), ("lowerarm01.R", "right_wrist", -1.0),
    ):  # fmt: skip
        limit = limits[names.index(bone)]
        assert limit is not None and limit.hinge_axis is not None
        pose = anny_body.rest_pose()
        axis = torch.tensor(limit.hinge_axis)
        pose[0, 0, names.index(bone)] = rotation_vector_to_matrix(0.8 * axis)
        bent = anny_body(pose, shape, vertices=False).joints[0, 0]
        moved = bent[H36M_17.index(joint)] - rest[H36M_17.index(joint)]
        assert direction * moved[1] > 0.05, (bone, moved)
    assert limits[0] is None  # the root (global orientation) is free


def test_anny_facing_camera_turns_the_body_upright_in_camera_axes(anny_body) -> None:
    pose = anny_body.rest_pose()
    pose[0, 0, 0] = anny_body.facing_camera()
    joints = anny_body(pose, anny_body.neutral_shape()[None], vertices=False).joints[0, 0]
    head, ankle = joints[H36M_17.index("head")], joints[H36M_17.index("left_ankle")]
    assert head[1] < -0.5 and ankle[1] > 0.5  # camera y points down
    assert joints[H36M_17.index("left_shoulder"), 0] > 0  # a person facing us: left on the right
    assert joints[H36M_17.index("neck"), 2] < 0  # the nose points towards the camera (-z)


def test_swing_ik_reproduces_joints_the_body_can_reach(anny_body) -> None:
    from ssrstf.mesh.ik import solve_swing_ik

    setup = anny_body.ik_setup()

    def solve(joints: torch.Tensor) -> torch.Tensor:
        return solve_swing_ik(
            joints, setup.links, num_pose_bones=anny_body.num_pose_bones,
            rest_up=torch.tensor(setup.rest_up), rest_across=torch.tensor(setup.rest_across),
            up_joints=setup.up_joints, across_joints=setup.across_joints,
        )  # fmt: skip

    g = torch.Generator().manual_seed(6)
    shape = anny_body.neutral_shape()[None]
    pose = anny_body.rest_pose(1, 6)
    pose[0, :, 0] = rotation_vector_to_matrix(torch.randn(6, 3, generator=g))
    target = anny_body(pose, shape, vertices=False).joints
    solved = anny_body(solve(target), shape, vertices=False).joints
    assert (solved - target).norm(dim=-1).max() < 1e-5  # any global orientation, exactly
    # Bent limbs and spine: the legs, pelvis, spine and thorax land on the targets. (The
    # shoulders and the nose do not quite: the clavicles pivot away from the thorax joint and
    # the head's turn about the neck is not a swing; the head's residual covers both.)
    for link in setup.links:
        vec = 0.4 * torch.randn(6, 3, generator=g)
        pose[0, :, link.bone] = rotation_vector_to_matrix(vec)
    target = anny_body(pose, shape, vertices=False).joints
    solved = anny_body(solve(target), shape, vertices=False).joints
    names = ("pelvis", "spine", "thorax", "left_knee", "right_ankle", "left_ankle", "head")
    errors = (solved - target).norm(dim=-1)[0]
    for name in names:
        assert errors[:, H36M_17.index(name)].max() < 0.01, name  # 1 cm


def test_missing_mesh_extra_error_names_the_extra(monkeypatch) -> None:
    import sys

    from ssrstf.mesh.extra import MissingMeshError, require_mesh

    monkeypatch.setitem(sys.modules, "anny", None)  # what an absent package looks like
    with pytest.raises(MissingMeshError, match=r"pip install 'ssrstf\[mesh\]'"):
        require_mesh("anny")


def test_cli_without_the_mesh_extra_says_which_extra(monkeypatch, tmp_path: Path, capsys) -> None:
    import sys

    from ssrstf.cli import main
    from ssrstf.mesh import anny_body, model

    monkeypatch.setitem(sys.modules, "anny", None)
    monkeypatch.setattr(model, "_BODIES", {})  # no anny built in this process yet
    monkeypatch.setattr(anny_body, "_MODEL", {})
    out = tmp_path / "demo"
    assert main(["demo", "--mesh", "--out", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1] == "error: mesh recovery needs the optional body model: pip install " \
        "'ssrstf[mesh]'"  # fmt: skip
    assert not (out / "mesh.npz").exists()
