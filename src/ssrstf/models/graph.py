"""Graph-convolution mixers of the MotionAGFormer-style local stream (the ``"gcn"`` ablation).

Spatial: a GCN over the fixed bone graph. Temporal: a GCN over a similarity kNN graph between
the frames of each joint. Both follow MotionAGFormer's mixer,
``ReLU(x + Norm(A · V(x) + U(x)))``, with one documented change: the normalisation is a
BatchNorm over channels rather than over the node axis, because MotionAGFormer's
``BatchNorm1d(num_frames)`` ties the model to one clip length.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class _GraphMixer(nn.Module):
    def __init__(self, *, dim: int) -> None:
        super().__init__()
        self.u = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.norm = nn.BatchNorm1d(dim)
        self.act = nn.ReLU()

    def aggregate(self, v: Tensor, x: Tensor) -> Tensor:
        """Sum ``v`` over each node's neighbours; ``x`` (the mixer input) may define the graph."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Mix tokens over the graph. Shapes: (B, T, J, C) -> (B, T, J, C)."""
        y = self.aggregate(self.v(x), x) + self.u(x)
        y = self.norm(y.reshape(-1, y.shape[-1])).reshape(y.shape)
        return self.act(x + y)


class SkeletonGCN(_GraphMixer):
    """GCN over the bone graph of each frame, symmetric-normalised, no self-loops."""

    def __init__(self, *, dim: int, adjacency: np.ndarray) -> None:
        super().__init__(dim=dim)
        adj = torch.as_tensor(adjacency, dtype=torch.float32)
        inv_sqrt_degree = adj.sum(1).clamp(min=1.0).rsqrt()
        self.register_buffer(
            "adjacency", inv_sqrt_degree[:, None] * adj * inv_sqrt_degree[None], persistent=False
        )

    def aggregate(self, v: Tensor, x: Tensor) -> Tensor:
        """Normalised neighbour sum over joints: (B, T, J, C) -> (B, T, J, C)."""
        return torch.matmul(self.adjacency, v)


class TemporalKNNGCN(_GraphMixer):
    """GCN over frames: each frame averages its k most similar frames (of the same joint).

    Similarity is the dot product of the mixer input's features, as in MotionAGFormer's
    ``use_temporal_similarity``; the row-normalised kNN adjacency equals their D^-1/2 A D^-1/2
    because every row has exactly k ones.
    """

    def __init__(self, *, dim: int, num_neighbours: int) -> None:
        super().__init__(dim=dim)
        self.num_neighbours = num_neighbours

    def aggregate(self, v: Tensor, x: Tensor) -> Tensor:
        """Mean of ``v`` over each frame's k most similar frames (similarity from ``x``)."""
        k = min(self.num_neighbours, x.shape[1])
        with torch.no_grad():
            seq = x.transpose(1, 2)  # (B, J, T, C)
            neighbours = torch.matmul(seq, seq.transpose(-1, -2)).topk(k, dim=-1).indices
        b, t, j, c = v.shape
        v_seq = v.transpose(1, 2)  # (B, J, T, C)
        idx = neighbours.reshape(b, j, t * k, 1).expand(-1, -1, -1, c)
        gathered = torch.gather(v_seq, 2, idx).reshape(b, j, t, k, c)
        return gathered.mean(dim=3).transpose(1, 2)
