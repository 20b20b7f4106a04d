"""Model tests: shapes, gradients, batch independence, equivariances, golden output."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from ssrstf.config import VARIANTS, ConfigError, ModelConfig, model_config_from_name
from ssrstf.models import SSRSTF, build_model
from ssrstf.models.attention import SpatialAttention, TemporalAttention
from ssrstf.models.graph import SkeletonGCN
from ssrstf.models.ssra import SSRA, SkeletonLayout
from ssrstf.models.tta import predict_with_flip
from ssrstf.skeleton import H36M_17

GOLDEN = Path(__file__).parent / "data" / "golden_tiny.pt"

ABLATIONS = {
    "full": {},
    "global_only": {"local_stream": "none"},
    "local_only": {"global_stream": False},
    "gcn": {"local_stream": "gcn"},
    "no_order": {"ssra_order": "index"},
    "parts_order": {"ssra_order": "parts"},
    "no_selection": {"ssra_selection": False},
    "mean_fusion": {"fusion": "mean"},
    "joint_time": {"ssra_mixing": "joint_time"},
    "temporal_pos": {"use_temporal_pos_embed": True},
    "no_layer_scale": {"layer_scale_init": 0.0},
    "local_mixer_only": {"local_mlp_ratio": 0.0},
    "ssra_gate_bias": {"ssra_gate_bias": 1.0},
}


def shrunk(variant: str, **overrides: object) -> SSRSTF:
    """A variant with its structure kept but depth/width shrunk so tests run in milliseconds."""
    return build_model(variant, dim=16, depth=2, num_heads=2, rep_dim=32, **overrides)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("num_frames", [1, 9, 27])
def test_output_shape_any_length(variant: str, num_frames: int) -> None:
    model = shrunk(variant).eval()
    x = torch.randn(2, num_frames, 17, 3)
    with torch.no_grad():
        y = model(x)
        feats = model.forward_features(x)
    assert y.shape == (2, num_frames, 17, 3)
    assert feats.shape == (2, num_frames, 17, 32)
    assert torch.isfinite(y).all()


def test_full_size_representation_is_512() -> None:
    model = build_model("xsmall").eval()
    with torch.no_grad():
        assert model.forward_features(torch.randn(1, 4, 17, 3)).shape == (1, 4, 17, 512)


@pytest.mark.parametrize("ablation", list(ABLATIONS))
def test_every_parameter_gets_a_gradient(ablation: str) -> None:
    # Large layer-scale so gradients reach every branch with clear magnitude.
    overrides = {"layer_scale_init": 0.5, **ABLATIONS[ablation]}
    model = shrunk("xsmall", **overrides).train()
    model(torch.randn(2, 9, 17, 3)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, f"no gradient for {missing}"


@pytest.mark.parametrize("ablation", ["full", "gcn", "joint_time"])
def test_batch_independence(ablation: str) -> None:
    model = shrunk("xsmall", layer_scale_init=0.5, **ABLATIONS[ablation]).eval()
    x = torch.randn(3, 9, 17, 3)
    x2 = x.clone()
    x2[1] += torch.randn_like(x2[1])
    with torch.no_grad():
        y, y2 = model(x), model(x2)
    torch.testing.assert_close(y[0], y2[0])
    torch.testing.assert_close(y[2], y2[2])
    assert not torch.allclose(y[1], y2[1])


def test_parameter_ranges_of_the_four_sizes() -> None:
    expected = {"xsmall": (1.5e6, 3.5e6), "small": (3.5e6, 7.5e6),
                "base": (8e6, 16e6), "large": (13e6, 26e6)}  # fmt: skip
    for name, (low, high) in expected.items():
        with torch.device("meta"):
            n = sum(p.numel() for p in build_model(name).parameters())
        assert low <= n <= high, (name, n)


def test_local_mlp_ratio_sizes_only_the_local_stream() -> None:
    dim, depth = 16, 2
    full = shrunk("xsmall")
    mixer_only = shrunk("xsmall", local_mlp_ratio=0.0)
    narrow = shrunk("xsmall", local_mlp_ratio=1.0)

    def count(m: SSRSTF) -> int:
        return sum(p.numel() for p in m.parameters())

    # One MLP sub-block (LayerNorm + Linear(C, rC) + Linear(rC, C) + LayerScale) per local block;
    # two local blocks (spatial, temporal) per layer.
    def mlp_block(ratio: int) -> int:
        hidden = dim * ratio
        return 2 * dim + (dim * hidden + hidden) + (hidden * dim + dim) + dim

    assert count(full) - count(mixer_only) == 2 * depth * mlp_block(4)
    assert count(full) - count(narrow) == 2 * depth * (mlp_block(4) - mlp_block(1))
    for layer in mixer_only.layers:
        global_stream, local_stream = layer.streams
        assert all(block.has_mlp for block in global_stream)
        assert not any(block.has_mlp for block in local_stream)
        assert not any(hasattr(block, "mlp") for block in local_stream)


def test_gcn_stream_matches_motionagformer_parameter_count() -> None:
    # MotionAGFormer-XS has 2.24M parameters (reference-codebases §5.2); our GCN ablation
    # differs only in the BatchNorm axis (C instead of T channels: 2*(C - T) per GCN mixer).
    with torch.device("meta"):
        n = sum(p.numel() for p in build_model("xsmall", local_stream="gcn").parameters())
    assert abs(n - 2.24e6) < 0.01e6


def test_spatial_attention_is_joint_permutation_equivariant() -> None:
    attn = SpatialAttention(dim=16, num_heads=2).eval()
    x = torch.randn(2, 5, 17, 16)
    perm = torch.randperm(17)
    with torch.no_grad():
        torch.testing.assert_close(attn(x)[:, :, perm], attn(x[:, :, perm]))


def test_temporal_attention_is_frame_permutation_equivariant() -> None:
    attn = TemporalAttention(dim=16, num_heads=2).eval()
    x = torch.randn(2, 11, 17, 16)
    perm = torch.randperm(11)
    with torch.no_grad():
        torch.testing.assert_close(attn(x)[:, perm], attn(x[:, perm]))


def test_attention_matches_a_slow_reference() -> None:
    attn = TemporalAttention(dim=8, num_heads=2).eval()
    x = torch.randn(1, 6, 3, 8)
    q, k, v = attn.qkv(x).chunk(3, dim=-1)
    out = torch.zeros(1, 6, 3, 8)
    for j in range(3):
        for h in range(2):
            sl = slice(4 * h, 4 * h + 4)
            scores = q[0, :, j, sl] @ k[0, :, j, sl].T / 2.0
            out[0, :, j, sl] = scores.softmax(-1) @ v[0, :, j, sl]
    with torch.no_grad():
        torch.testing.assert_close(attn(x), attn.proj(out))


def _jacobian_support(mixer: torch.nn.Module, num_joints: int, joint: int) -> set[int]:
    """Input joints the output at ``joint`` depends on (single frame)."""
    x = torch.randn(1, 1, num_joints, 8, requires_grad=True)
    mixer(x)[0, 0, joint].sum().backward()
    assert x.grad is not None
    return {j for j in range(num_joints) if x.grad[0, 0, j].abs().sum() > 0}


def test_skeleton_gcn_is_local() -> None:
    gcn = SkeletonGCN(dim=8, adjacency=H36M_17.adjacency()).eval()
    for joint in range(17):
        neighbours = {c for p, c in H36M_17.bones if p == joint}
        neighbours |= {p for p, c in H36M_17.bones if c == joint}
        assert _jacobian_support(gcn, 17, joint) == neighbours | {joint}


def test_ssra_receptive_field_follows_the_skeleton_walk() -> None:
    walk = H36M_17.depth_first_walk()
    # Local kernel 3 without dilation reach: a joint sees exactly its walk neighbours.
    ssra = SSRA(dim=8, spatial_kernel=(3, 1, 1), temporal_kernel=None, skeleton_order=walk,
                num_joints=17, use_selection=False).eval()  # fmt: skip
    for joint in range(17):
        expected = {walk[i + d] for i, j in enumerate(walk) if j == joint for d in (-1, 0, 1)
                    if 0 <= i + d < len(walk)}  # fmt: skip
        assert _jacobian_support(ssra, 17, joint) == expected
        # On the walk, every neighbour is a bone neighbour.
        bone_neighbours = {c for p, c in H36M_17.bones if p == joint}
        bone_neighbours |= {p for p, c in H36M_17.bones if c == joint}
        assert expected <= bone_neighbours | {joint}


def test_ssra_gate_bias_starts_the_gate_open() -> None:
    # With the gate bias at 1 the SSRA starts as u ⊙ (1 + W·a): its output is the plain projection
    # proj_out(u) plus the (small) large-kernel term; with bias 0 the gate starts near zero.
    torch.manual_seed(0)
    x = torch.randn(2, 9, 17, 16)
    for bias in (0.0, 1.0):
        model = shrunk("xsmall", ssra_gate_bias=bias).eval()
        ssra = model.layers[0].streams[1][0].mixer
        assert isinstance(ssra, SSRA)
        torch.testing.assert_close(ssra.mix.bias, torch.full_like(ssra.mix.bias, bias))
        with torch.no_grad():
            out = ssra(x)
            plain = ssra.proj_out(ssra.proj_in(x)) - ssra.proj_out.bias  # u ⊙ 1, then proj_out
        relative = (out - ssra.proj_out.bias - plain).norm() / plain.norm()
        # bias 1: out ≈ proj_out(u); bias 0: out ≈ proj_out.bias, far from proj_out(u).
        assert (relative < 0.5) if bias == 1.0 else (relative > 0.5), (bias, relative)


def test_local_layers_keep_the_local_stream_only_where_named() -> None:
    base = ModelConfig(dim=16, depth=4, num_heads=2, num_frames=9, local_mlp_ratio=0.0)
    model = SSRSTF(ModelConfig(**{**base.__dict__, "local_layers": (0, 2)}))
    assert [len(layer.streams) for layer in model.layers] == [2, 1, 2, 1]
    assert sum(isinstance(m, SSRA) for m in model.modules()) == 4  # 2 layers x (joints, time)
    x = torch.randn(2, 9, 17, 16)
    layer = model.layers[1]  # global-only: its output is its global stream's
    torch.testing.assert_close(layer(x), layer.streams[0](x))
    # Naming every layer is the paper's model: the same weights and outputs as the default.
    torch.manual_seed(0)
    every = SSRSTF(ModelConfig(**{**base.__dict__, "local_layers": (3, 2, 1, 0)}))
    torch.manual_seed(0)
    default = SSRSTF(base)
    assert every.state_dict().keys() == default.state_dict().keys()
    x = torch.randn(1, 9, 17, 3)
    torch.testing.assert_close(every.eval()(x), default.eval()(x))
    for bad in ((0, 4), (1, 1)):
        with pytest.raises(ConfigError, match="model.local_layers"):
            ModelConfig(**{**base.__dict__, "local_layers": bad})


def test_plain_attention_at_cpu_inference_equals_the_fused_kernel(monkeypatch) -> None:
    from ssrstf.models import attention

    torch.manual_seed(0)
    model = shrunk("xsmall", layer_scale_init=1.0).eval()  # attention weighs in fully
    x = torch.randn(3, 27, 17, 3)
    with torch.no_grad():
        plain = model(x)  # 17 joints and 27 frames: plain matmuls
        monkeypatch.setattr(attention, "PLAIN_ATTENTION_MAX_TOKENS", 0)
        fused = model(x)
    torch.testing.assert_close(plain, fused, rtol=1e-5, atol=1e-6)
    assert not torch.equal(plain, fused)  # the two paths really ran
    # With gradients (training) the fused kernel always runs.
    monkeypatch.setattr(attention, "PLAIN_ATTENTION_MAX_TOKENS", 32)
    torch.testing.assert_close(model(x).detach(), fused, rtol=0, atol=0)


def test_broadcast_attention_equals_sdpa_outputs_and_gradients() -> None:
    from ssrstf.models.attention import broadcast_attention

    torch.manual_seed(0)
    qkv = torch.randn(6, 4, 17, 3 * 8, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(6, 4, 17, 8, dtype=torch.float64)
    outs = []
    for fn in (broadcast_attention, torch.nn.functional.scaled_dot_product_attention):
        out = fn(*qkv.chunk(3, dim=-1))
        outs.append((out, torch.autograd.grad(out, qkv, grad)[0]))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-12)


def test_compiled_training_attention_equals_the_fused_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trainer's compiled CPU path (train.compile_attention): same outputs and gradients."""
    from ssrstf.models import attention
    from ssrstf.models.attention import set_compiled_training_attention

    monkeypatch.setattr(attention, "_compile_failed", False)  # whatever ran before
    torch.manual_seed(0)
    model = shrunk("xsmall", layer_scale_init=1.0).train()  # attention weighs in fully
    x = torch.randn(2, 27, 17, 3)
    results = []
    for compiled in (False, True):
        assert set_compiled_training_attention(model, compiled) == 2 * model.cfg.depth
        model.zero_grad(set_to_none=True)
        out = model(x)
        out.square().mean().backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (fused, fused_grads), (comp, comp_grads) = results
    # Inductor compiled it (other arithmetic: not bitwise equal); only without a C++ compiler
    # may the fallback have warned and run the fused kernel.
    if shutil.which(os.environ.get("CXX", "g++")):
        assert not attention._compile_failed and not torch.equal(comp, fused)
    else:
        assert attention._compile_failed or not torch.equal(comp, fused)
    torch.testing.assert_close(comp, fused, rtol=1e-5, atol=1e-5)
    for a, b in zip(comp_grads, fused_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_compiled_attention_falls_back_only_when_the_compiler_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No C++ compiler: one warning, the fused kernel from then on. A model error propagates."""
    from torch._inductor.exc import InductorError

    from ssrstf.models import attention

    q = torch.randn(2, 8, 17, 8)

    def raising(err: Exception):
        def compiled(*_: torch.Tensor) -> torch.Tensor:
            raise err

        return compiled

    monkeypatch.setattr(attention, "_compile_failed", False)
    monkeypatch.setattr(attention, "_compiled", raising(ValueError("shapes do not match")))
    with pytest.raises(ValueError, match="shapes do not match"):
        attention._compiled_attention(q, q, q)
    assert not attention._compile_failed
    failure = InductorError(RuntimeError("No working C++ compiler found"), "InvalidCxxCompiler")
    monkeypatch.setattr(attention, "_compiled", raising(failure))
    with pytest.warns(RuntimeWarning, match="compiled training attention unavailable"):
        assert attention._compiled_attention(q, q, q) is None
    assert attention._compile_failed
    assert attention._compiled_attention(q, q, q) is None  # no second try, no second warning


def test_skeleton_layout_round_trip() -> None:
    walk = H36M_17.depth_first_walk()
    layout = SkeletonLayout(order=walk, num_joints=17)
    x = torch.randn(2, 3, 17, 4)
    gathered = layout.gather @ x  # (L, J) @ (..., J, C): position l holds joint walk[l]
    torch.testing.assert_close(gathered, x[:, :, list(walk)])
    torch.testing.assert_close(layout.average @ gathered, x)


def test_ssra_temporal_mode_is_causal_free_and_bounded() -> None:
    # Temporal kernel (5, 7, 3) reaches 2 + 3*3 = 11 frames each side.
    ssra = SSRA(dim=8, spatial_kernel=None, temporal_kernel=(5, 7, 3), skeleton_order=None,
                num_joints=17, use_selection=False).eval()  # fmt: skip
    x = torch.randn(1, 40, 17, 8, requires_grad=True)
    ssra(x)[0, 20].sum().backward()
    assert x.grad is not None
    frames = {t for t in range(40) if x.grad[0, t].abs().sum() > 0}
    assert frames == set(range(9, 32))


@pytest.mark.parametrize("ablation", ["full", "gcn"])
def test_flip_tta_is_flip_equivariant(ablation: str) -> None:
    model = shrunk("xsmall", layer_scale_init=0.5, **ABLATIONS[ablation]).eval()
    x = torch.randn(2, 9, 17, 3)
    flip = list(H36M_17.flip_permutation)

    def mirror(t: torch.Tensor) -> torch.Tensor:
        t = t[..., flip, :].clone()
        t[..., 0] = -t[..., 0]
        return t

    with torch.no_grad():
        a = predict_with_flip(model, mirror(x), H36M_17)
        b = mirror(predict_with_flip(model, x, H36M_17))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_state_dict_round_trip() -> None:
    model = shrunk("small").eval()
    clone = shrunk("small").eval()
    clone.load_state_dict(model.state_dict())
    x = torch.randn(1, 9, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(model(x), clone(x))


def test_golden_output_of_seeded_tiny_model() -> None:
    from make_golden import golden_input, golden_model

    expected = torch.load(GOLDEN, weights_only=True)
    with torch.no_grad():
        torch.testing.assert_close(golden_model()(golden_input()), expected, atol=1e-5, rtol=1e-4)


def test_build_model_accepts_a_config() -> None:
    cfg = ModelConfig(dim=16, depth=1, num_heads=2)
    assert build_model(cfg, local_stream="gcn").cfg.local_stream == "gcn"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dim": 30, "num_heads": 8}, "model.dim"),
        ({"global_stream": False, "local_stream": "none"}, "leave no stream"),
        ({"ssra_temporal_kernel": (4, 7, 3)}, "model.ssra_temporal_kernel"),
        ({"local_stream": "tcn"}, "model.local_stream"),
        ({"depht": 3}, "unknown config key 'model.depht'"),
        ({"local_mlp_ratio": -1.0}, "model.local_mlp_ratio"),
        ({"mlp_ratio": 0.0}, "model.mlp_ratio"),
    ],
)
def test_bad_model_config_names_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model("xsmall", **overrides)


def test_unknown_variant_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="xsmall, small, base, large"):
        build_model("huge")


@pytest.mark.parametrize("shape", [(2, 9, 16, 3), (2, 9, 17, 2), (9, 17, 3), (2, 0, 17, 3)])
def test_bad_input_shape_is_a_clear_error(shape: tuple[int, ...]) -> None:
    model = shrunk("xsmall").eval()
    with pytest.raises(ValueError, match="SSRSTF"):
        model(torch.randn(*shape))


def test_temporal_position_embedding_limits_length() -> None:
    model = shrunk("xsmall", use_temporal_pos_embed=True, num_frames=9).eval()
    with pytest.raises(ValueError, match="exceed"):
        model(torch.randn(1, 10, 17, 3))


def test_single_frame_mlp_baseline_lifts_frames_independently() -> None:
    from ssrstf.config import load_config
    from ssrstf.models import SingleFrameMLP, create_model

    cfg = load_config("configs/baseline-mlp_1f_h36m-gt.yaml").model
    small = model_config_from_name(cfg, dim=32)
    model = create_model(small).eval()
    assert isinstance(model, SingleFrameMLP)
    x = torch.randn(2, 5, 17, 3)
    y = model(x)
    assert y.shape == (2, 5, 17, 3)
    x2 = x.clone()
    x2[:, 3] += 1.0
    changed = (model(x2) - y).abs().amax(dim=(0, 2, 3))
    assert changed[3] > 0 and torch.all(changed[[0, 1, 2, 4]] == 0)
    # Width 1024, two residual blocks of two layers: the published baseline's size.
    params = sum(p.numel() for p in create_model(cfg).parameters())
    assert params == (51 * 1024 + 1024) + 4 * (1024 * 1024 + 1024) + 10 * 1024 + (1024 * 51 + 51)


def test_build_model_builds_the_architecture_asked_for() -> None:
    from ssrstf.models import SingleFrameMLP

    assert isinstance(build_model("xsmall", architecture="mlp", dim=32), SingleFrameMLP)
    assert isinstance(build_model("xsmall"), SSRSTF)
