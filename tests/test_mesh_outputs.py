"""Mesh recovery end to end: the head, its training, mesh.npz / mesh.glb, the CLI, the protocol.

Every test here needs anny (extra ``mesh``) and shares one constructed model (``anny_body``,
conftest.py); the GLB is read back with an independent reader (pygltflib, dev extra).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from animation_readers import Glb

from ssrstf.cli import main
from ssrstf.config import from_dict
from ssrstf.keypoints.sample import make_sample
from ssrstf.mesh.losses import MeshLoss, joint_limit_loss
from ssrstf.mesh.metrics import feet_below_floor, shape_spread
from ssrstf.mesh.model import create_mesh_model, export_mesh_weights, load_mesh_model
from ssrstf.mesh.rotations import rotation_vector_to_matrix
from ssrstf.models.tta import make_predictor
from ssrstf.outputs.bvh import CAMERA_TO_BVH
from ssrstf.skeleton import H36M_17

pygltflib = pytest.importorskip("pygltflib", reason="pygltflib (dev extra) reads the GLB back")


def mesh_config(**mesh):
    return from_dict({"mesh": {"use_mesh_head": True, **mesh}, "data": {"input_source": "gt"}})


@pytest.fixture
def head_file(anny_body, tmp_path: Path) -> Path:
    """A mesh head on the packaged lifter whose output biases are random: varied poses."""
    from ssrstf.training.mesh_training import prepare_mesh_config

    cfg = prepare_mesh_config(mesh_config())
    model = create_mesh_model(cfg, body=anny_body)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        bias = model.head.pose_branch.out.bias
        bias.copy_(0.3 * torch.randn(bias.shape, generator=g))
        bias[:6] = 0  # the root stays upright, facing the camera
    return export_mesh_weights(tmp_path / "head.safetensors", model, cfg)


def test_a_head_is_exported_only_with_the_backbone_it_was_trained_on(
    anny_body, tmp_path: Path
) -> None:
    from ssrstf.training.mesh_training import prepare_mesh_config

    cfg = prepare_mesh_config(mesh_config())
    model = create_mesh_model(cfg, body=anny_body)
    export_mesh_weights(tmp_path / "ok.safetensors", model, cfg)  # the packaged lifter's own
    with torch.no_grad():
        next(model.backbone.parameters()).add_(1.0)  # as if `default` had been replaced since
    with pytest.raises(ValueError, match="is not the backbone this head was trained on"):
        export_mesh_weights(tmp_path / "stale.safetensors", model, cfg)
    assert not (tmp_path / "stale.safetensors").exists()


# --------------------------------------------------------------------------- losses, metrics


def test_joint_limit_loss_golden_values() -> None:
    inf = float("inf")
    max_angle = torch.tensor([inf, 1.0, 1.0])
    axis = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    ext, off = torch.tensor([0.0, 0.0, 0.2]), torch.tensor([0.0, 0.0, 0.1])
    hinge = torch.tensor([False, False, True])
    inside = torch.tensor([[3.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.9, 0.05, 0.0]])
    assert joint_limit_loss(inside, max_angle, axis, ext, off, hinge) == 0
    # Bone 1 turns 1.5 rad (0.5 too far); the hinge bends backwards by 0.5 (0.3 past its
    # extension) and 0.3 about another axis (0.2 too far): (0.25 + 0.09 + 0.04) / 3.
    outside = torch.tensor([[9.0, 0.0, 0.0], [0.0, 1.5, 0.0], [-0.5, 0.0, 0.3]])
    loss = joint_limit_loss(outside, max_angle, axis, ext, off, hinge)
    assert torch.isclose(loss, torch.tensor((0.25 + 0.09 + 0.04) / 3))


def test_feet_below_floor_and_shape_spread() -> None:
    heights = np.array([[10.0, 5.0], [30.0, 40.0], [-25.0, 0.0]])
    np.testing.assert_allclose(feet_below_floor(heights, 0.0), [0.0, 0.0, 25.0])
    spread = shape_spread(np.array([[1.0], [3.0], [5.0], [5.0]]), ["S9", "S9", "S11", "S11"])
    assert spread["S9"][0] == 1.0 and spread["S11"][0] == 0.0


# ------------------------------------------------------------------------------ the head


def test_new_head_starts_at_rest_upright_and_average(anny_body) -> None:
    torch.manual_seed(0)  # an unseeded head failed the 2 % scale check once in a full run
    cfg = replace(mesh_config(), model=replace(mesh_config().model, dim=16, depth=1,
                                               num_heads=2, num_frames=9))  # fmt: skip
    cfg = replace(cfg, mesh=replace(cfg.mesh, backbone="", freeze_backbone=False,
                                    use_joint_ik=False))  # fmt: skip
    model = create_mesh_model(cfg, body=anny_body).eval()
    out = model(torch.randn(2, 9, 17, 3), vertices=False)
    assert out.joints.shape == (2, 9, 17, 3) and torch.isfinite(out.joints).all()
    assert torch.allclose(out.shape, torch.full((2, 6), 0.5), atol=0.02)
    assert torch.allclose(out.scale, torch.ones(2), atol=0.02)
    # Near the rest pose, upright in camera axes: the head above the ankles (y down).
    joints = out.joints[0, 0]
    assert joints[H36M_17.index("head"), 1] + 1.0 < joints[H36M_17.index("left_ankle"), 1]
    assert torch.equal(model.head.joint_offsets, torch.zeros(17, 3))
    assert not any(k.startswith("body") for k in model.state_dict())  # anny is not a weight


def test_tiny_head_trained_a_few_steps_lowers_its_loss(anny_body) -> None:
    cfg = mesh_config(backbone="", freeze_backbone=False, loss_smoothness=0.0, dropout=0.0)
    cfg = replace(cfg, model=replace(cfg.model, dim=16, depth=1, num_heads=2, num_frames=9))
    model = create_mesh_model(cfg, body=anny_body).train()
    loss_fn = MeshLoss(cfg.mesh, anny_body)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 9, 17, 3, generator=g)
    # Targets the body can reach: the joints of a random pose per clip, upright, facing us.
    vec = 0.4 * torch.randn(4, 1, anny_body.num_pose_bones, 3, generator=g)
    pose = rotation_vector_to_matrix(vec).expand(4, 9, -1, 3, 3).clone()
    pose[:, :, 0] = anny_body.facing_camera()
    with torch.no_grad():
        target = anny_body(pose, torch.rand(4, 6, generator=g), vertices=False).joints
    target = target - target[:, :, :1]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-4)
    losses = []
    for _ in range(20):
        loss, terms = loss_fn(model(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert max(losses[-3:]) < 0.75 * losses[0], losses
    assert {"mpjpe", "velocity", "rotation_prior", "joint_limits", "shape_prior"} <= set(terms)


def test_lifter_term_supervises_a_training_backbone(anny_body) -> None:
    cfg = mesh_config(backbone="", freeze_backbone=False, loss_smoothness=0.0, dropout=0.0)
    cfg = replace(cfg, model=replace(cfg.model, dim=16, depth=1, num_heads=2, num_frames=9))
    model = create_mesh_model(cfg, body=anny_body).train()
    x = torch.randn(2, 9, 17, 3, generator=torch.Generator().manual_seed(2))
    target = 0.3 * torch.randn(2, 9, 17, 3, generator=torch.Generator().manual_seed(3))
    target = target - target[:, :, :1]
    out = model(x)
    _, terms = MeshLoss(cfg.mesh, anny_body)(out, target)
    assert "lifter" not in terms  # off by default
    weighted = replace(cfg.mesh, loss_lifter=2.0)
    loss, terms = MeshLoss(weighted, anny_body)(out, target)
    expected = (out.lifter_joints - target).norm(dim=-1).mean().detach()  # MPJPE, metres
    assert terms["lifter"] == pytest.approx(float(expected), rel=1e-5)
    loss.backward()
    head_grad = model.backbone.head.weight.grad
    assert head_grad is not None and head_grad.abs().sum() > 0
    with pytest.raises(ValueError, match="mesh.loss_lifter"):
        replace(cfg.mesh, loss_lifter=-1.0)


def test_training_loop_trains_a_mesh_head_and_its_checkpoint_loads(
    anny_body, synthetic_h36m: Path, tmp_path: Path
) -> None:
    from ssrstf.training.trainer import fit

    cfg = from_dict({
        "model": {"variant": "custom", "dim": 16, "depth": 1, "num_heads": 2, "num_frames": 9},
        "data": {"path": str(synthetic_h36m), "input_source": "gt", "train_subjects": ["S1"]},
        "train": {"epochs": 1, "batch_size": 4, "max_steps": 3, "eval_every_steps": 2},
        "eval": {"flip_test": False, "batch_size": 4},
        "mesh": {"use_mesh_head": True, "backbone": "", "freeze_backbone": False},
    })  # fmt: skip
    best = fit(cfg, tmp_path / "run")
    records = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert "train_joint_limits" in records[0] and "p1_mm" in records[-1]
    model, loaded = load_mesh_model(best)
    assert loaded.mesh.use_mesh_head and isinstance(model.head.joint_offsets, torch.nn.Parameter)
    # `ssrstf export` of a mesh run writes the mesh model (here with its trainable backbone).
    out = tmp_path / "mesh.safetensors"
    assert main(["export", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--out", str(out),
                 "--note", "test"]) == 0  # fmt: skip
    exported, _ = load_mesh_model(out)
    for name, tensor in load_mesh_model(tmp_path / "run" / "last.pt")[0].state_dict().items():
        torch.testing.assert_close(exported.state_dict()[name], tensor, rtol=0, atol=0)
    onnx = ["export", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--out", "m.onnx"]
    assert main(onnx) == 2


# ------------------------------------------------------------------------ files and the CLI


def test_mesh_glb_read_back_reproduces_mesh_npz(anny_body, head_file: Path, tmp_path) -> None:
    from ssrstf.lifting.meshes import MeshRecoverer
    from ssrstf.outputs.mesh_files import write_mesh_npz
    from ssrstf.outputs.mesh_gltf import write_mesh_glb

    sample = make_sample(seconds=0.3)  # 15 frames at 50 fps
    mesh = MeshRecoverer(head_file).recover(sample.keypoints.keypoints, (1000, 1000))
    frames = len(sample.keypoints.keypoints)
    assert mesh.vertices.shape == (frames, anny_body.num_vertices, 3)
    write_mesh_npz(tmp_path / "mesh.npz", mesh, 50.0)
    write_mesh_glb(tmp_path / "mesh.glb", mesh, 50.0)
    with np.load(tmp_path / "mesh.npz", allow_pickle=False) as npz:
        vertices, faces, joints = npz["vertices"], npz["faces"], npz["joints"]
        assert npz["pose"].shape == (frames, anny_body.num_pose_bones, 3, 3)
        assert list(npz["shape_names"]) == list(anny_body.shape_names)
    assert faces.shape == (27420, 3) and np.abs(joints[:, 0]).max() < 1e-3  # pelvis at 0
    reader = Glb(tmp_path / "mesh.glb")
    (primitive,) = reader.gltf.meshes[0].primitives
    assert reader.gltf.accessors[primitive.attributes.POSITION].count == anny_body.num_vertices
    assert reader.gltf.accessors[primitive.indices].count == 3 * 27420
    (animation,) = reader.gltf.animations
    times = reader.accessor(animation.samplers[0].input)[:, 0]
    assert len(times) == frames and np.isclose(times[-1], (frames - 1) / 50.0)
    moving = {c.target.node for c in animation.channels if c.target.path == "rotation"}
    assert len(moving) >= anny_body.num_pose_bones - 2  # the posed bones (and nothing static)
    _, skinned_mm = reader.skinned_vertices_mm()  # skinning the file gives mesh.npz (file frame)
    for frame in (0, frames - 1):
        expected = vertices[frame] @ CAMERA_TO_BVH.T
        np.testing.assert_allclose(skinned_mm[frame], expected, atol=0.5)
    # The mesh moves between frames (the random head poses every bone).
    assert np.abs(vertices[-1] - vertices[0]).max() > 1.0
    # A pelvis away from the root bone's head (SMPL's regressed one): the whole skeleton moves
    # with it, so the file still skins to mesh.npz's root-relative vertices.
    offset = np.array([0.1, -0.2, 0.3])  # metres, body axes
    posed = mesh.skinned.posed.copy()
    posed[..., :3, 3] += offset
    shifted = replace(mesh, root=mesh.root + offset, skinned=replace(mesh.skinned, posed=posed))
    write_mesh_glb(tmp_path / "shifted.glb", shifted, 50.0)
    _, shifted_mm = Glb(tmp_path / "shifted.glb").skinned_vertices_mm()
    np.testing.assert_allclose(shifted_mm, skinned_mm, atol=0.05)


def test_infer_mesh_cli_writes_files_and_never_overwrites(
    head_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = make_sample(seconds=0.3)
    keypoints = tmp_path / "keypoints.npy"
    np.save(keypoints, sample.keypoints.keypoints)
    out = tmp_path / "out"
    args = ["infer", str(keypoints), "--skeleton", "h36m", "--image-size", "1000x1000",
            "--fps", "50", "--mesh", "--mesh-checkpoint", str(head_file), "--out", str(out),
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert (out / "mesh.glb").stat().st_size > 0 and (out / "poses_3d.npz").is_file()
    before = (out / "mesh.npz").read_bytes()
    capsys.readouterr()
    assert main(args) == 2  # refuses to replace the files
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "mesh.npz").read_bytes() == before
    wrong = [*args[:-3], "--body-model", "smpl", "--out", str(tmp_path / "other"), "--quiet"]
    assert main(wrong) == 2  # a head trained on anny cannot drive SMPL
    assert "is a head for the anny body model" in capsys.readouterr().err


def test_lift_mesh_python_api(anny_body, head_file: Path) -> None:
    import ssrstf

    xy = make_sample(seconds=0.2).keypoints.keypoints[..., :2].copy()
    xy[3, 13] = np.nan  # a missing joint is filled, as in ssrstf.lift
    mesh = ssrstf.lift_mesh(xy, (1000, 1000), mesh_checkpoint=head_file)
    assert mesh.vertices.shape == (10, anny_body.num_vertices, 3)
    assert np.isfinite(mesh.vertices).all() and mesh.body_model == "anny"
    poses = ssrstf.lift(xy, (1000, 1000))

    # The mesh's joints and the skeleton it came from are in the same frame and units.
    def median_distance(skeleton: np.ndarray) -> float:
        return float(np.median(np.linalg.norm(mesh.joints - skeleton, axis=-1)))

    own = median_distance(poses)
    assert own < 300  # mm, not metres; the random head bends the limbs away from the skeleton
    assert own < 0.8 * median_distance(poses[:, H36M_17.flip_permutation])  # sides kept
    assert own < 0.5 * median_distance(poses * [1, -1, -1])  # camera axes, not Y up


def test_mesh_posed_from_the_given_skeleton_follows_its_bones(anny_body, tmp_path) -> None:
    from ssrstf.lifting.meshes import MeshRecoverer, mesh_agreement_mm
    from ssrstf.training.mesh_training import prepare_mesh_config

    cfg = prepare_mesh_config(mesh_config())
    fresh = export_mesh_weights(tmp_path / "fresh.safetensors", create_mesh_model(cfg), cfg)
    recoverer = MeshRecoverer(fresh)  # a new head: residuals near identity, swing IK decides
    kp = make_sample(seconds=0.6).keypoints.keypoints
    skeleton = recoverer.lifter.lift(kp, (1000, 1000))  # single pass, as the IK saw before
    rng = np.random.default_rng(5)
    other = skeleton + rng.normal(size=skeleton.shape) * 40.0  # a different skeleton
    other[:, 0] = 0.0
    own = recoverer.recover(kp, (1000, 1000))
    # (the body kept: a fitted shape moves the hips, and with them the thigh's direction)
    given = recoverer.recover(kp, (1000, 1000), skeleton_mm=other, fit_shape=False)

    def thigh(points: np.ndarray) -> np.ndarray:  # right hip -> right knee, unit
        d = points[:, 2] - points[:, 1]
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def angle(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.degrees(np.arccos(np.clip((a * b).sum(-1), -1, 1))).mean())

    # The mesh's thigh points where the given skeleton's does, not where the backbone's does.
    assert angle(thigh(given.joints), thigh(other)) < 2.0
    assert angle(thigh(own.joints), thigh(other)) > 2.0 * angle(thigh(given.joints), thigh(other))
    assert np.median(mesh_agreement_mm(given, other)) < np.median(mesh_agreement_mm(own, other))
    with pytest.raises(ValueError, match=r"skeleton_mm must be finite \(30, 17, 3\)"):
        recoverer.recover(kp, (1000, 1000), skeleton_mm=other[:5])


def test_shape_fit_recovers_the_body_that_made_the_skeleton(anny_body, tmp_path) -> None:
    from ssrstf.lifting.meshes import MeshRecoverer, mesh_agreement_mm
    from ssrstf.training.mesh_training import prepare_mesh_config

    cfg = prepare_mesh_config(mesh_config())
    torch.manual_seed(0)  # the new head's weights (the test passed for seeds 0-7)
    fresh = export_mesh_weights(tmp_path / "fresh.safetensors", create_mesh_model(cfg), cfg)
    recoverer = MeshRecoverer(fresh)
    kp = make_sample(seconds=0.6).keypoints.keypoints
    head = recoverer.recover(kp, (1000, 1000))
    # A skeleton the body model itself makes in the head's poses, from another body: taller
    # (scale 1.1) and of other phenotypes. Fitting shape and scale must find a body that
    # makes (almost) the same joints; the head's own body cannot.
    model = recoverer.model
    pose = torch.as_tensor(head.pose)[None]
    other_shape = torch.tensor([[0.3, 0.6, 0.6, 0.4, 0.8, 0.4]], dtype=torch.float32)
    with torch.no_grad():
        truth = model.from_parameters(pose, other_shape, torch.tensor([1.1])).joints[0]
    skeleton = truth.numpy() * 1000.0
    kept = recoverer.recover(kp, (1000, 1000), skeleton_mm=skeleton, fit_shape=False)
    fitted = recoverer.recover(kp, (1000, 1000), skeleton_mm=skeleton)
    assert fitted.shape_fitted and not kept.shape_fitted and not head.shape_fitted
    before = float(np.median(mesh_agreement_mm(kept, skeleton)))
    after = float(np.median(mesh_agreement_mm(fitted, skeleton)))
    assert before > 40.0 and after < 0.25 * before, (before, after)
    assert ((fitted.shape >= 0) & (fitted.shape <= 1)).all()  # phenotypes stay in range

    # Height and scale trade off against each other; the size they make is the skeleton's.
    def size(points: np.ndarray) -> float:
        return float(np.linalg.norm(points - points[:, :1], axis=-1).mean())

    assert size(fitted.joints) == pytest.approx(size(skeleton), rel=0.05), before
    assert abs(size(kept.joints) / size(skeleton) - 1) > 0.1
    # The poses are the head's either way: only the body changed.
    np.testing.assert_allclose(fitted.pose, kept.pose)
    # The head's parameters were not touched by the fit's gradients.
    assert all(p.grad is None for p in model.parameters())


def test_head_only_file_refuses_another_backbone(anny_body, tmp_path: Path) -> None:
    from ssrstf.checkpoint import DEFAULT_CHECKPOINT

    backbone = tmp_path / "backbone.safetensors"
    backbone.write_bytes(DEFAULT_CHECKPOINT.read_bytes())
    cfg = mesh_config(backbone=str(backbone))
    from ssrstf.training.mesh_training import prepare_mesh_config

    cfg = prepare_mesh_config(cfg)
    model = create_mesh_model(cfg, body=anny_body)
    path = export_mesh_weights(tmp_path / "head.safetensors", model, cfg)
    loaded, _ = load_mesh_model(path)
    state = model.head.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in loaded.head.state_dict().items())
    data = bytearray(backbone.read_bytes())
    data[-1] ^= 1  # another backbone (one bit of its weights differs)
    backbone.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="trained on another backbone"):
        load_mesh_model(path)


def test_mesh_protocol_on_synthetic_data(
    head_file: Path, synthetic_h36m: Path, monkeypatch
) -> None:
    from ssrstf.training import mesh_scoring
    from ssrstf.training.mesh_scoring import evaluate_mesh_checkpoint

    devices = []  # the flip pass runs where the backbone is (cuda with --device cuda)

    def predictor(model, skeleton, **kwargs):
        devices.append(torch.device(kwargs["device"]))  # named, not left at make_predictor's cpu
        assert devices[-1] == next(model.parameters()).device
        return make_predictor(model, skeleton, **kwargs)

    monkeypatch.setattr(mesh_scoring, "make_predictor", predictor)
    result = evaluate_mesh_checkpoint(
        head_file, synthetic_h36m, sample_every=3, progress=False, self_intersections=False
    )
    assert devices == [torch.device("cpu")]
    for name in ("mesh", "lifter", "lifter_flip"):
        row = result.joints[name]
        assert all(np.isfinite(row[k]) for k in ("p1_17", "p2_17", "p1_14", "p2_14"))
    assert result.joints["mesh"]["p1_17"] > result.joints["lifter"]["p1_17"]  # random head
    assert 0 <= result.plausibility["feet_below_share"] <= 1
    assert set(result.shape_spread) == {"S9", "S11"}
    assert "MPVE" in result.not_measured[0] and "mesh protocol" in result.text()


def test_mesh_protocol_refuses_data_without_stream_up_before_scoring(
    head_file: Path, synthetic_h36m: Path, tmp_path: Path, monkeypatch
) -> None:
    from ssrstf.data.h36m import load_streams, save_streams
    from ssrstf.training import mesh_scoring

    no_up = save_streams(replace(load_streams(synthetic_h36m), up=None), tmp_path / "no_up.npz")

    def never(*args, **kwargs):
        raise AssertionError("the joint pass ran before the check")

    monkeypatch.setattr(mesh_scoring, "_run_stream", never)
    with pytest.raises(ValueError, match="no_up.npz: no stream_up"):
        mesh_scoring.evaluate_mesh_checkpoint(head_file, no_up, progress=False)


@pytest.mark.slow
def test_self_intersection_detects_an_arm_through_the_chest(anny_body) -> None:
    # Slow: the first use compiles anny's collision kernel with warp (~45 s, cached after).
    from ssrstf.mesh.metrics import SelfIntersection

    detector = SelfIntersection(anny_body.anny)
    shape = anny_body.neutral_shape()[None]
    rest = anny_body(anny_body.rest_pose(), shape).vertices[0]
    pose = anny_body.rest_pose()
    names = anny_body.pose_bone_names
    pose[0, 0, names.index("upperarm01.L")] = rotation_vector_to_matrix(torch.tensor([0, 0, 2.2]))
    pose[0, 0, names.index("lowerarm01.L")] = rotation_vector_to_matrix(torch.tensor([0, 0, 1.5]))
    crossed = anny_body(pose, shape).vertices[0]
    counts = detector(torch.stack([rest, crossed]))
    assert counts[0] == 0 and counts[1] > 0


def test_evaluate_mesh_command_prints_and_writes_the_result(
    head_file: Path, synthetic_h36m: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ssrstf evaluate --mesh``: the JSON printed is the file written; other protocols and
    datasets are refused in one line before any work."""
    from ssrstf.cli import main

    out = tmp_path / "mesh_result"
    args = ["evaluate", "--mesh", str(head_file), "--data", str(synthetic_h36m),
            "--sample-every", "50", "--json", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(out.with_suffix(".json").read_text()) == printed
    assert set(printed["joints"]) >= {"mesh", "lifter"}
    for refused in (["--protocol", "motionbert"], ["--dataset", "mpi-inf-3dhp"]):
        assert main([*args, *refused]) == 2
        assert "--mesh scores Human3.6M with the videopose3d protocol only" in (
            capsys.readouterr().err
        )


def test_mesh_recovery_refuses_a_strided_lifter(head_file: Path) -> None:
    from ssrstf.lifting.lifter import Lifter
    from ssrstf.lifting.meshes import MeshRecoverer

    with pytest.raises(ValueError, match="mesh recovery runs on consecutive frames"):
        MeshRecoverer(head_file, lifter=Lifter("default", frame_stride=3))
