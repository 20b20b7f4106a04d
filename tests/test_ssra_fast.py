"""The folded SSRA (src/ssrstf/models/ssra.py) against the direct implementation it replaced.

tests/ssra_reference.py keeps the direct implementation (gather, two depth-wise convolutions,
selection, scatter-mean) unchanged as the slow reference. Every SSRA config value is compared:
outputs and the gradients of the input and of every parameter, in float32 within 1e-5 of the
tensor's scale (rounding only: the fold changes the summation order) and in float64 within
1e-10 (the two are the same function). The state dicts are identical, so checkpoints written
by either implementation load into the other.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import ssra_reference as reference
import torch
from torch import nn

import ssrstf.models.ssrstf as ssrstf_module
from ssrstf.checkpoint import load_model
from ssrstf.models import build_model
from ssrstf.models.ssra import SSRA, AxisConv
from ssrstf.skeleton import H36M_17

ROOT = Path(__file__).resolve().parents[1]
ORDERS = {
    "walk": H36M_17.depth_first_walk(),
    "parts": H36M_17.body_part_order(),
    "index": None,
}
# (spatial kernel, temporal kernel): the defaults, other sizes and dilations, joint-time pairs.
# The skeleton order only matters where a kernel runs along the skeleton axis.
SPATIAL_KERNELS = [
    ((3, 3, 2), None),
    ((3, 3, 2), (5, 7, 3)),
    ((5, 3, 3), None),
    ((1, 3, 1), None),
    ((3, 5, 1), (5, 5, 1)),
]
TEMPORAL_KERNELS = [(None, (5, 7, 3)), (None, (3, 11, 2)), (None, (1, 1, 1))]
CASES = [
    *itertools.product(ORDERS, (True, False), SPATIAL_KERNELS),
    *itertools.product(["index"], (True, False), TEMPORAL_KERNELS),
]


def _assert_same(new: torch.Tensor, ref: torch.Tensor, tol: float, what: str) -> None:
    scale = ref.abs().max().item()
    torch.testing.assert_close(
        new, ref, rtol=tol, atol=tol * max(scale, 1e-30), msg=lambda m: f"{what}: {m}"
    )


def _compare(new: nn.Module, ref: nn.Module, x: torch.Tensor, tol: float) -> None:
    """Outputs and gradients (input and parameters) of two modules with the same state dict."""
    new.load_state_dict(ref.state_dict(), strict=True)
    x_new, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_new, y_ref = new(x_new), ref(x_ref)
    _assert_same(y_new, y_ref, tol, "output")
    grad = torch.randn(y_ref.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(2))
    y_new.backward(grad)
    y_ref.backward(grad)
    _assert_same(x_new.grad, x_ref.grad, tol, "input gradient")
    new_params = dict(new.named_parameters())
    for name, p_ref in ref.named_parameters():
        _assert_same(new_params[name].grad, p_ref.grad, tol, f"gradient of {name}")


def _ssra_pair(dtype: torch.dtype, **kwargs: object) -> tuple[SSRA, nn.Module]:
    # Built in the target dtype, so that constant matrices (the skeleton layout's averages, the
    # fold's bases) hold their exact values at that precision in both implementations.
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        torch.manual_seed(0)
        ref = reference.SSRA(**kwargs)
        new = SSRA(**kwargs)
    finally:
        torch.set_default_dtype(default)
    with torch.no_grad():  # non-trivial values everywhere (biases included), not the init
        for p in ref.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return new, ref


def _case_id(case: tuple) -> str:
    order, selection, kernels = case
    axes = [
        f"{axis}{''.join(map(str, k))}"
        for axis, k in zip("st", kernels, strict=True)
        if k is not None
    ]
    return "-".join([order, "select" if selection else "wide", *axes])


@pytest.mark.parametrize(("order", "selection", "kernels"), CASES, ids=map(_case_id, CASES))
def test_folded_ssra_equals_the_direct_implementation(
    order: str, selection: bool, kernels: tuple
) -> None:
    # Every parameter is overwritten, so the gate bias (an initial value only) is covered by
    # the whole-model test below.
    spatial, temporal = kernels
    kwargs = dict(dim=16, spatial_kernel=spatial, temporal_kernel=temporal,
                  skeleton_order=ORDERS[order], num_joints=17, use_selection=selection)  # fmt: skip
    generator = torch.Generator().manual_seed(1)
    # The training length in both precisions; a single frame and an even length in float32.
    for frames, dtype, tol in ((27, torch.float32, 1e-5), (27, torch.float64, 1e-10),
                               (1, torch.float32, 1e-5), (8, torch.float32, 1e-5)):  # fmt: skip
        x = torch.randn(3, frames, 17, 16, generator=generator, dtype=torch.float64)
        new, ref = _ssra_pair(dtype, **kwargs)
        _compare(new, ref, x.to(dtype), tol)


def _reference_model(cfg_overrides: dict, monkeypatch: pytest.MonkeyPatch) -> nn.Module:
    with monkeypatch.context() as patch:
        patch.setattr(ssrstf_module, "SSRA", reference.SSRA)
        model = build_model("xsmall", **cfg_overrides)
    assert any(isinstance(m, reference.SSRA) for m in model.modules())
    return model


MODEL_CONFIGS = {
    "budget": dict(depth=2, layer_scale_init=0.5),
    "parts_no_selection": dict(depth=1, ssra_order="parts", ssra_selection=False),
    "index_joint_time": dict(depth=1, ssra_order="index", ssra_mixing="joint_time"),
    "mixer_only_gate_bias": dict(depth=1, local_mlp_ratio=0.0, ssra_gate_bias=1.0),
    "kernels": dict(depth=1, ssra_spatial_kernel=(5, 3, 3), ssra_temporal_kernel=(3, 11, 2)),
}


@pytest.mark.parametrize("name", list(MODEL_CONFIGS))
def test_whole_model_keeps_state_dict_outputs_and_gradients(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = dict(MODEL_CONFIGS[name], dim=16, num_heads=2, rep_dim=32)
    ref = _reference_model(overrides, monkeypatch).train()
    new = build_model("xsmall", **overrides).train()
    assert {k: v.shape for k, v in new.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    x = torch.randn(2, 27, 17, 3, generator=torch.Generator().manual_seed(3))
    _compare(new, ref, x, 1e-5)


# A trained SSR-STF (the 60-CPU-minute SSR-STF-lite arm of docs/results.md, committed as the mesh
# ablation's backbone): trained gates and kernels, not an initialisation, through both SSRA paths.
TRAINED_SSRSTF = ROOT / "runs" / "abl60-mix_ssrstf-lite" / "last.pt"


@pytest.mark.skipif(not TRAINED_SSRSTF.is_file(), reason=f"{TRAINED_SSRSTF} absent")
def test_a_trained_ssrstf_loads_and_matches_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    model, cfg = load_model(TRAINED_SSRSTF)
    with monkeypatch.context() as patch:
        patch.setattr(ssrstf_module, "SSRA", reference.SSRA)
        ref, _ = load_model(TRAINED_SSRSTF)
    assert any(isinstance(m, reference.SSRA) for m in ref.modules())
    assert any(isinstance(m, SSRA) for m in model.modules())
    x = torch.randn(2, cfg.model.num_frames, 17, cfg.model.in_channels,
                    generator=torch.Generator().manual_seed(4)) * 0.5  # fmt: skip
    with torch.no_grad():
        _assert_same(model(x), ref(x), 1e-5, "trained SSR-STF output")


def test_axis_conv_runs_dilated_kernels_as_zero_stuffed_ones() -> None:
    torch.manual_seed(0)
    for axis, (size, dilation), n in itertools.product((1, 2), ((3, 1), (5, 2), (7, 3)), (1, 9)):
        conv = AxisConv(dim=4, kernel_size=size, dilation=dilation, axis=axis)
        x = torch.randn(2, 4, n, 3) if axis == 1 else torch.randn(2, 4, 3, n)
        # nn.Conv2d with its own (dilated) geometry is the direct definition.
        torch.testing.assert_close(conv(x), conv.conv(x), rtol=1e-6, atol=1e-6)
