"""SSRA: skeleton selective refine attention, the token mixer of the SSRFormer (local) stream.

Our reconstruction of the paper's operator (the paper's text beyond the abstract is not
available; see docs/design.md). For an input ``x`` of shape (B, T, J, C):

1. ``u = GELU(Linear(x))``.
2. *Skeleton*: joints are laid out along a skeleton axis (a depth-first walk of the kinematic
   tree with back-tracking by default), so neighbours on the axis are neighbours on the body.
3. *Large-kernel decomposition* (LSKA): a depth-wise local convolution, then a dilated one,
   along the skeleton axis, along time, or both (joint-time mode).
4. *Selective*: the local-only and the local+dilated results are mixed with per-channel softmax
   weights computed from pooled features (selective-kernel style).
5. The result is averaged back to one value per joint, mixed by a 1x1 (Linear) layer and gates
   ``u`` element-wise (*refine*): ``out = Linear(u ⊙ a)``.

Implementation (docs/design.md, "Speed-motivated implementation choices"). Steps 2-5 up to the
mix are affine per channel along the convolved axis, and the selection weights are constant
along it. On the skeleton axis the gather, both convolutions and the scatter-mean therefore fold
into one per-channel J x J matrix, with the pooled selection input as one more output column:
the block is one batched matmul on ``u`` held channels-first, (C, B, T, J), which the linear
layers produce and consume through transposed matmuls (no layout copy). Along time the direct
depth-wise convolutions on a channels-last view are cheaper than a dense T x T fold; the dilated
one runs as an undilated kernel with zeros between the taps (the same convolution; PyTorch's CPU
backward of dilated depth-wise convolutions is several times slower); joint-time blocks run the
same way on the gathered skeleton axis. The parameters, and so the state dict, are those of the
direct implementation, which tests/ssra_reference.py keeps as the equivalence reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Kernel = tuple[int, int, int]
"""(local kernel, dilated kernel, dilation) of one axis."""


def _shifts(taps: int, dilation: int, n: int, *, like: Tensor) -> Tensor:
    """(taps, n, n) one-hot: tap k of a zero-padded "same" depth-wise convolution.

    Cross-correlation, as ``nn.Conv2d``: output o reads input ``o + (k - centre)·dilation``
    through tap k; taps that fall into the padding are dropped.
    """
    pos = torch.arange(n, device=like.device)
    offsets = (torch.arange(taps, device=like.device) - (taps - 1) // 2) * dilation
    return (pos[None, :, None] == pos[None, None, :] + offsets[:, None, None]).to(like.dtype)


class AxisConv(nn.Module):
    """Depth-wise 1-D convolution along the frame axis or the joint axis.

    Holds the parameters as an ``nn.Conv2d`` with a (k, 1) or (1, k) kernel (the checkpoint
    layout). Zero "same" padding, as in LSKA. The skeleton-axis fold reads the taps; the other
    blocks apply the convolution (`forward`).
    """

    def __init__(self, *, dim: int, kernel_size: int, dilation: int, axis: int) -> None:
        super().__init__()
        if axis not in (1, 2):
            raise ValueError(f"axis must be 1 (frames) or 2 (joints), got {axis}")
        self.axis = axis
        self.dilation = dilation
        pad = (kernel_size - 1) // 2 * dilation
        shape = (kernel_size, 1) if axis == 1 else (1, kernel_size)
        padding = (pad, 0) if axis == 1 else (0, pad)
        dilations = (dilation, 1) if axis == 1 else (1, dilation)
        self.conv = nn.Conv2d(
            dim, dim, shape, padding=padding, dilation=dilations, groups=dim, bias=True
        )

    @property
    def bias(self) -> Tensor:
        """(C,) bias."""
        return self.conv.bias

    def forward(self, x: Tensor) -> Tensor:
        """Convolve channels-first (B, C, T, L) along the axis (channels-last memory is fastest).

        A dilated kernel runs as the undilated kernel with zeros between its taps, the same
        convolution: the CPU backward of dilated depth-wise convolutions is several times
        slower than that of a plain one even with the extra zero taps.
        """
        conv = self.conv
        weight = conv.weight
        if self.dilation > 1:
            taps = weight.shape[2 + self.axis - 1]
            size = (taps - 1) * self.dilation + 1
            index = torch.arange(0, size, self.dilation, device=weight.device)
            stuffed = weight.new_zeros(weight.shape[0], 1, size)
            stuffed = stuffed.index_copy(2, index, weight.flatten(1)[:, None])
            weight = (
                stuffed.view(-1, 1, size, 1) if self.axis == 1 else stuffed.view(-1, 1, 1, size)
            )
        return F.conv2d(x, weight, conv.bias, padding=conv.padding, groups=conv.groups)


class SkeletonLayout(nn.Module):
    """Gather joints into a skeleton-axis order and average them back afterwards, as matrices.

    Args:
        order: Joint index at each position of the skeleton axis (length L >= J; joints may
            repeat, as in a walk with back-tracking).
        num_joints: J.

    Attributes:
        gather: (L, J) one-hot rows: position l holds joint ``order[l]``.
        average: (J, L): row j averages every position at which joint j occurs
            (``average @ gather`` is the identity).
    """

    def __init__(self, *, order: Sequence[int], num_joints: int) -> None:
        super().__init__()
        order = list(order)
        if sorted(set(order)) != list(range(num_joints)):
            raise ValueError("skeleton order must visit every joint")
        counts = [order.count(j) for j in range(num_joints)]
        gather = [[float(o == j) for j in range(num_joints)] for o in order]
        average = [[float(o == j) / counts[j] for o in order] for j in range(num_joints)]
        self.register_buffer("gather", torch.tensor(gather), persistent=False)
        self.register_buffer("average", torch.tensor(average), persistent=False)


class Selection(nn.Module):
    """Selective-kernel choice between a local and a wide branch, per channel.

    The weights come from a squeeze MLP on the branch sum, mean-pooled over the axes the
    convolutions run along, so each channel picks its receptive field:
    ``out = w·local + (1 − w)·wide`` with ``(w, 1 − w) = softmax(MLP(pool(local + wide)))``.
    """

    def __init__(self, *, dim: int, reduction: int) -> None:
        super().__init__()
        hidden = max(dim // reduction, 8)
        self.squeeze = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 2 * dim))

    def forward(self, pooled: Tensor, channel_dim: int = 0) -> Tensor:
        """Weight ``w`` of the local branch from the pooled branch sum, same shape."""
        pooled = pooled.movedim(channel_dim, -1)
        weights = self.squeeze(pooled).unflatten(-1, (2, -1)).softmax(dim=-2)
        return weights[..., 0, :].movedim(-1, channel_dim)


def _joint_bases(
    local: AxisConv, dilated: AxisConv, layout: SkeletonLayout, use_selection: bool
) -> tuple[Tensor, Tensor]:
    """Constant bases of a skeleton-axis block's folded maps and biases.

    The folded map is linear in ``φ = [w_local, w_local ⊗ w_dilated]`` (the taps and tap pairs)
    and its bias in ``β = [b_local, b_local·w_dilated, b_dilated]``, so per forward pass it is
    one small matmul with these bases instead of building and composing (C, L, L) matrices.

    Returns:
        ``(maps, bias)``: (k1 + k1·k2, J, m) and (2 + k2, m), with m output columns
        [wide | local − wide | pooled] (m = 2J + 1) or, without selection, [wide] (m = J).
    """
    like = layout.average
    gather_t, average_t = layout.gather.T, layout.average.T  # (J, L), (L, J)
    n, j = average_t.shape
    s1 = _shifts(local.conv.weight.shape[-1], local.dilation, n, like=like)
    s2 = _shifts(dilated.conv.weight.shape[-1], dilated.dilation, n, like=like)
    s12 = (s1[:, None] @ s2[None]).flatten(0, 1)  # tap pairs: local, then dilated
    loc, wide = gather_t @ s1 @ average_t, gather_t @ s12 @ average_t
    response = torch.ones(n, dtype=like.dtype, device=like.device) @ s2  # of a constant input
    ones, zeros = torch.ones_like(like[:, 0]), torch.zeros_like(like[:, 0])
    if not use_selection:
        maps = torch.cat([torch.zeros_like(loc), wide])
        return maps, torch.stack([zeros, *(response @ average_t), ones])
    loc_mean = gather_t @ s1.mean(-1, keepdim=True)  # means over the skeleton axis
    wide_mean = gather_t @ s12.mean(-1, keepdim=True)
    maps = torch.cat([
        torch.cat([torch.zeros_like(loc), loc, loc_mean], -1),
        torch.cat([wide, -wide, wide_mean], -1),
    ])  # fmt: skip
    r, r_mean = response @ average_t, response.mean(-1, keepdim=True)
    bias = torch.cat([
        torch.cat([zeros, ones, ones[:1]])[None],
        torch.cat([r, -r, r_mean], -1),
        torch.cat([ones, -ones, ones[:1]])[None],
    ])  # fmt: skip
    return maps, bias


class SSRA(nn.Module):
    """Skeleton selective refine attention. Shapes: (B, T, J, C) -> (B, T, J, C).

    Args:
        dim: Channels C.
        spatial_kernel: (local, dilated, dilation) along the skeleton axis, or None to leave the
            joint axis alone (temporal mode).
        temporal_kernel: The same along time, or None (spatial mode). Both set = joint-time mode.
        skeleton_order: Joint order of the skeleton axis, or None for plain index order.
        num_joints: J.
        use_selection: Mix the local and local+dilated branches selectively.
        reduction: Channel reduction of the selection MLP.
        gate_bias: Initial bias of the gate projection ``mix`` (`reset_parameters`).
    """

    def __init__(
        self,
        *,
        dim: int,
        spatial_kernel: Kernel | None,
        temporal_kernel: Kernel | None,
        skeleton_order: Sequence[int] | None,
        num_joints: int,
        use_selection: bool = True,
        reduction: int = 4,
        gate_bias: float = 0.0,
    ) -> None:
        super().__init__()
        self.gate_bias = gate_bias
        if spatial_kernel is None and temporal_kernel is None:
            raise ValueError("SSRA needs a spatial kernel, a temporal kernel or both")
        self.proj_in = nn.Sequential(nn.Linear(dim, dim), nn.GELU())
        # Plain index order is the identity layout (no gather, no averaging).
        order = range(num_joints) if skeleton_order is None else skeleton_order
        self.layout = SkeletonLayout(order=order, num_joints=num_joints) if spatial_kernel else None
        axes = [(1, temporal_kernel), (2, spatial_kernel)]
        axes = [(axis, k) for axis, k in axes if k is not None]
        # Module order (time before joints) fixes the state-dict keys of existing checkpoints.
        self.local = nn.Sequential(
            *(AxisConv(dim=dim, kernel_size=k[0], dilation=1, axis=a) for a, k in axes)
        )
        self.dilated = nn.Sequential(
            *(AxisConv(dim=dim, kernel_size=k[1], dilation=k[2], axis=a) for a, k in axes)
        )
        self.select = Selection(dim=dim, reduction=reduction) if use_selection else None
        self.mix = nn.Linear(dim, dim)
        self.proj_out = nn.Linear(dim, dim)
        if axes == [(2, spatial_kernel)]:  # constants of the skeleton-axis fold (no state)
            maps, bias = _joint_bases(self.local[0], self.dilated[0], self.layout, use_selection)
            self.register_buffer("joint_maps", maps, persistent=False)
            self.register_buffer("joint_bias", bias, persistent=False)

    def reset_parameters(self) -> None:
        """Set the gate's bias to ``gate_bias`` (after the model-wide weight initialisation)."""
        nn.init.constant_(self.mix.bias, self.gate_bias)

    def forward(self, x: Tensor) -> Tensor:
        """Gate the projected input with its large-kernel context."""
        if self.local[0].axis == 2 and len(self.local) == 1:
            return self._forward_folded(x)
        u = self.proj_in(x)  # frames or joint-time: the convolutions themselves
        return self.proj_out(u * self.mix(self._conv_context(u)))

    def _forward_folded(self, x: Tensor) -> Tensor:
        """Skeleton-axis block, channels-first: one folded matmul for gather, convs, scatter.

        The block runs on (C, B·T·J); the transposes ride on the matmuls of the linear layers
        (the same products as nn.Linear), so there is no layout copy at all.
        """
        b, t, j, c = x.shape
        linear, gelu = self.proj_in
        u = gelu(torch.addmm(linear.bias[:, None], linear.weight, x.reshape(-1, c).T))
        w1, w2 = self.local[0].conv.weight.flatten(1), self.dilated[0].conv.weight.flatten(1)
        b1, b2 = self.local[0].bias[:, None], self.dilated[0].bias[:, None]
        taps = torch.cat([w1, (w1[:, :, None] * w2[:, None, :]).flatten(1)], 1)
        maps = (taps @ self.joint_maps.flatten(1)).view(c, *self.joint_maps.shape[1:])
        bias = torch.cat([b1, b1 * w2, b2], 1) @ self.joint_bias  # (C, m)
        a = torch.baddbmm(bias[:, None], u.view(c, b * t, j), maps)  # (C, B·T, m)
        if self.select is not None:
            # Columns [wide | local - wide | pooled]: the selection written out as
            # wide + w·(local - wide) (cheaper to differentiate than lerp or addcmul).
            wide, diff, pooled = a.split([j, j, 1], -1)
            a = wide + self.select(pooled) * diff
        gate = u * torch.addmm(self.mix.bias[:, None], self.mix.weight, a.reshape(c, -1))
        return torch.addmm(self.proj_out.bias, gate.T, self.proj_out.weight.T).view(b, t, j, c)

    def _conv_context(self, u: Tensor) -> Tensor:
        """Context of a temporal or joint-time block, (B, T, J, C) -> (B, T, J, C).

        Along time the direct depth-wise convolutions on a channels-last view (no copy) beat a
        dense T x T fold, which would do 2T + 1 multiply-adds per value against 5 + 19.
        """
        if self.layout is not None:  # joint-time: gather to the skeleton axis (L, J) @ ...
            u = self.layout.gather @ u
        v = u.permute(0, 3, 1, 2)  # (B, C, T, L) view, channels-last in memory
        loc = self.local(v)
        wide = self.dilated(loc)
        if self.select is not None:
            dims = tuple(conv.axis + 1 for conv in self.local)  # pool along the convolved axes
            pooled = loc.mean(dims, keepdim=True) + wide.mean(dims, keepdim=True)
            # One fused lerp: written out, the difference would cost two more passes here.
            wide = torch.lerp(wide, loc, self.select(pooled, channel_dim=1))
        a = wide.permute(0, 2, 3, 1)
        return a if self.layout is None else self.layout.average @ a
