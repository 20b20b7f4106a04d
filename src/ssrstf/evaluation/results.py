"""Results of the Human3.6M protocols: `EvalResult` (headline, per action, per joint), its
tables and their files.

`ScoredResult` is what every evaluation result shares (quick-mode label, JSON), also
MPI-INF-3DHP's (`ssrstf.evaluation.mpi_inf_3dhp`); the protocols themselves live in
`ssrstf.evaluation.protocol`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ssrstf.evaluation.metrics import mean_per_group
from ssrstf.evaluation.tables import Column, Table, write_tables


class ScoredResult:
    """What every evaluation result shares (mixin of the result dataclasses).

    Subclasses are dataclasses with an ``every`` field (1 = the full protocol, N > 1 = quick mode
    on every N-th test clip) and a `title`.
    """

    every: int

    def title(self) -> str:
        """Protocol name for `label`."""
        raise NotImplementedError

    @property
    def is_quick(self) -> bool:
        """True when only a subset of clips was scored (not comparable to published numbers)."""
        return self.every > 1

    @property
    def label(self) -> str:
        """`title`, with the quick-mode caveat when it applies."""
        if self.is_quick:
            return f"{self.title()}, QUICK: 1 in {self.every} test clips, not the full protocol"
        return self.title()

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON: the fields plus ``quick`` and ``label``."""
        out = asdict(self)
        out.update(quick=self.is_quick, label=self.label)
        return out


@dataclass(frozen=True)
class EvalResult(ScoredResult):
    """Outcome of one evaluation.

    Attributes:
        protocol: Protocol name.
        p1_mm: Mean over actions of the per-action MPJPE.
        p2_mm: Mean over actions of the per-action P-MPJPE.
        per_action: Action → ``{"p1_mm", "p2_mm", "frames"}``, sorted by action.
        frames: Scored frames.
        streams: Scored streams.
        clip_len: Test clip length T.
        every: Quick mode: only every ``every``-th test clip was scored (1 = full protocol).
        skipped: Keys of streams left out by the protocol's skip list.
        gt_2d: MotionBERT's ``gt_2d`` setting: predicted x, y replaced by the input 2D.
        data_origin: The command(s) that made the scored data (`Streams.origin`).
        overlap: Frames shared by consecutive test windows whose predictions were stitched
            (`evaluate_model`); 0: non-overlapping clips.
        caveats: What the label adds to the protocol name (`H36MProtocol.caveats`).
        per_joint: Joint name → ``{"p1_mm", "p2_mm"}``, in the skeleton's order, averaged as the
            headline (per action over its frames, then over actions): their mean over joints is
            ``p1_mm`` / ``p2_mm`` (the root's P1 is 0: poses are root-relative).
        left_out: A record per test stream the protocol would score but the dataset lacks the
            model's 2D input for (``stream``, ``subject``, ``action``, ``camera``, ``frames``,
            ``reason``; `ssrstf.evaluation.protocol.with_left_out`): not scored.
    """

    protocol: str
    p1_mm: float
    p2_mm: float
    per_action: dict[str, dict[str, float]]
    frames: int
    streams: int
    clip_len: int
    every: int = 1
    skipped: tuple[str, ...] = field(default_factory=tuple)
    gt_2d: bool = False
    data_origin: str = ""
    overlap: int = 0
    caveats: tuple[str, ...] = field(default_factory=tuple)
    per_joint: dict[str, dict[str, float]] = field(default_factory=dict)
    left_out: tuple[dict[str, object], ...] = field(default_factory=tuple)

    def title(self) -> str:
        """Protocol name and clip length, then the caveats."""
        title = f"H36M {self.protocol} protocol (T={self.clip_len})"
        return f"{title}: {'; '.join(self.caveats)}" if self.caveats else title

    def metrics(self) -> dict[str, float]:
        """The headline figures, for training logs."""
        return {"p1_mm": self.p1_mm, "p2_mm": self.p2_mm}

    def table(self) -> Table:
        """Per action P1, P2 (mm) and frames, then the average (`ssrstf.evaluation.tables`)."""
        rows = [(a, v["p1_mm"], v["p2_mm"], v["frames"]) for a, v in self.per_action.items()]
        skipped = f"skipped streams: {len(self.skipped)} (protocol skip list)"
        return Table(
            label=self.label,
            columns=(
                Column("action", "action", 14),
                Column("P1 (mm)", "p1_mm", 10),
                Column("P2 (mm)", "p2_mm", 10),
                Column("frames", "frames", 10, decimals=0),
            ),
            rows=(*rows, ("Average", self.p1_mm, self.p2_mm, self.frames)),
            footer=skipped if self.skipped else "",
        )

    def joint_table(self) -> Table:
        """Per joint P1, P2 (mm), then the average over joints (= the headline figures)."""
        rows = [(name, v["p1_mm"], v["p2_mm"]) for name, v in self.per_joint.items()]
        return Table(
            label=f"{self.label} | per joint",
            columns=(
                Column("joint", "joint", 16),
                Column("P1 (mm)", "p1_mm", 10),
                Column("P2 (mm)", "p2_mm", 10),
            ),
            rows=(*rows, ("Average", self.p1_mm, self.p2_mm)),
        )

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON: the fields plus ``quick`` and ``label``."""
        return {
            **super().to_dict(),
            "skipped": list(self.skipped),
            "caveats": list(self.caveats),
            "left_out": [dict(r) for r in self.left_out],
        }


def write_result_tables(result: EvalResult, path: str | Path) -> list[Path]:
    """Write the per-action tables ``<path>.md`` / ``.csv`` and the per-joint tables
    ``<path>_joints.md`` / ``.csv`` (the suffix of ``path`` is replaced).

    Returns:
        The four paths written.
    """
    path = Path(path)
    joints = path.with_name(f"{path.stem}_joints{path.suffix}")  # the same suffix replaced
    return [*write_tables(result.table(), path), *write_tables(result.joint_table(), joints)]


def per_joint_means(
    p1: np.ndarray, p2: np.ndarray, groups: Sequence[str], names: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Per joint: the frame mean within each group (action), then the unweighted mean over
    groups, of P1 and P2 errors ``(N, J)``; joint name → ``{"p1_mm", "p2_mm"}``."""

    def means(errors: np.ndarray) -> list[float]:  # (N, J) → J figures, as the headline's
        return [
            float(np.mean(list(mean_per_group(column, groups).values()))) for column in errors.T
        ]

    if len(names) != p1.shape[1]:
        names = [f"joint {j}" for j in range(p1.shape[1])]
    return {
        name: {"p1_mm": a, "p2_mm": b}
        for name, a, b in zip(names, means(p1), means(p2), strict=True)
    }
