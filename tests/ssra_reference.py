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
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

Kernel = tuple[int, int, int]
"""(local kernel, dilated kernel, dilation) of one axis."""


class AxisConv(nn.Module):
    """Depth-wise 1-D convolution along the frame axis or the joint axis of (B, T, J, C).

    The (B, T, J, C) tensor viewed as (B, C, T, J) is already in channels-last memory layout, so
    the convolution runs without a layout copy. Zero "same" padding, as in LSKA.
    """

    def __init__(self, *, dim: int, kernel_size: int, dilation: int, axis: int) -> None:
        super().__init__()
        if axis not in (1, 2):
            raise ValueError(f"axis must be 1 (frames) or 2 (joints), got {axis}")
        pad = (kernel_size - 1) // 2 * dilation
        shape = (kernel_size, 1) if axis == 1 else (1, kernel_size)
        padding = (pad, 0) if axis == 1 else (0, pad)
        dilations = (dilation, 1) if axis == 1 else (1, dilation)
        self.conv = nn.Conv2d(
            dim, dim, shape, padding=padding, dilation=dilations, groups=dim, bias=True
        )

    def forward(self, x: Tensor) -> Tensor:
        """Convolve along the configured axis. Shapes: (B, T, L, C) -> (B, T, L, C)."""
        return self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class SkeletonLayout(nn.Module):
    """Gather joints into a skeleton-axis order and average them back afterwards.

    Args:
        order: Joint index at each position of the skeleton axis (length L >= J; joints may
            repeat, as in a walk with back-tracking).
        num_joints: J.
    """

    def __init__(self, *, order: Sequence[int], num_joints: int) -> None:
        super().__init__()
        order = list(order)
        if sorted(set(order)) != list(range(num_joints)):
            raise ValueError("skeleton order must visit every joint")
        counts = [order.count(j) for j in range(num_joints)]
        # Row j averages every position at which joint j occurs.
        average = [[float(o == j) / counts[j] for o in order] for j in range(num_joints)]
        self.register_buffer("order", torch.tensor(order, dtype=torch.long), persistent=False)
        self.register_buffer("average", torch.tensor(average), persistent=False)

    def gather(self, x: Tensor) -> Tensor:
        """(B, T, J, C) -> (B, T, L, C)."""
        return x.index_select(2, self.order)

    def scatter_mean(self, x: Tensor) -> Tensor:
        """(B, T, L, C) -> (B, T, J, C), each joint the mean over its positions."""
        return torch.matmul(self.average, x)


class Selection(nn.Module):
    """Selective-kernel choice between a local and a wide branch, per channel.

    The weights come from a squeeze MLP on the branch sum, mean-pooled over ``pool_dims`` (the
    axes the convolutions run along), so each channel picks its receptive field:
    ``out = w·local + (1 − w)·wide`` with ``(w, 1 − w) = softmax(MLP(pool(local + wide)))``.
    """

    def __init__(self, *, dim: int, reduction: int, pool_dims: tuple[int, ...]) -> None:
        super().__init__()
        hidden = max(dim // reduction, 8)
        self.pool_dims = pool_dims
        self.squeeze = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 2 * dim))

    def forward(self, local: Tensor, wide: Tensor) -> Tensor:
        """Mix two (B, T, L, C) branches."""
        pooled = local.mean(self.pool_dims, keepdim=True) + wide.mean(self.pool_dims, keepdim=True)
        weights = self.squeeze(pooled).unflatten(-1, (2, -1)).softmax(dim=-2)
        return torch.lerp(wide, local, weights[..., 0, :])


class LastBranch(nn.Module):
    """No selection: keep only the full (local + dilated) receptive field, as plain LSKA."""

    def forward(self, local: Tensor, wide: Tensor) -> Tensor:
        """Return the wide branch."""
        return wide


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
        uses_layout = spatial_kernel is not None and skeleton_order is not None
        self.layout = (
            SkeletonLayout(order=skeleton_order, num_joints=num_joints) if uses_layout else None
        )
        axes = [(1, temporal_kernel), (2, spatial_kernel)]
        axes = [(axis, k) for axis, k in axes if k is not None]
        self.local = nn.Sequential(
            *(AxisConv(dim=dim, kernel_size=k[0], dilation=1, axis=a) for a, k in axes)
        )
        self.dilated = nn.Sequential(
            *(AxisConv(dim=dim, kernel_size=k[1], dilation=k[2], axis=a) for a, k in axes)
        )
        pool_dims = tuple(a for a, _ in axes)
        self.select = (
            Selection(dim=dim, reduction=reduction, pool_dims=pool_dims)
            if use_selection
            else LastBranch()
        )
        self.mix = nn.Linear(dim, dim)
        self.proj_out = nn.Linear(dim, dim)

    def reset_parameters(self) -> None:
        """Set the gate's bias to ``gate_bias`` (after the model-wide weight initialisation)."""
        nn.init.constant_(self.mix.bias, self.gate_bias)

    def forward(self, x: Tensor) -> Tensor:
        """Gate the projected input with its large-kernel context."""
        u = self.proj_in(x)
        a = u if self.layout is None else self.layout.gather(u)
        local = self.local(a)
        a = self.select(local, self.dilated(local))
        a = a if self.layout is None else self.layout.scatter_mean(a)
        return self.proj_out(u * self.mix(a))
