"""How far a 2D source lies from the ground-truth 2D, per joint, on the Human3.6M test set; beside
a model's per-joint figures, how much of its 3D gap between the two inputs that explains.

Usage::

    python benchmarks/detection_error.py --data data/h36m.npz [--source sh] \
        [--results runs/long24h-27f_global-only/full/baseline]

On the VideoPose3D protocol's test streams (its subjects and skip list) that hold the source,
each frame's 2D offset ``source − ground truth`` (pixels) is taken root-relative (the pelvis's own
offset subtracted, as the lifter's output is) and split per joint into

* **bias**: the length of the joint's mean offset over all those frames — a systematic shift
  (another joint definition, e.g. Stacked-Hourglass's spine) that a model trained on the source
  can learn to undo;
* **residual**: the mean distance to that mean offset — the frame-to-frame noise it cannot;
* **error**: the mean distance, both parts together,

the last two averaged as the protocol's headline (per action, then over actions). ``--results
DIR`` (a folder with ``videopose3d_gt.json`` and ``videopose3d_<source>.json``, as
``benchmarks/release_candidate.py`` writes) adds the model's P1 per joint on both inputs, their
difference (the gap), and the correlation over the non-root joints between the gap and each 2D
figure and the GT-input P1 (how hard the joint is for the lifter anyway). Reads the prepared file
only; a few seconds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ssrstf.data.h36m import Streams, load_streams
from ssrstf.evaluation.metrics import mean_per_group
from ssrstf.evaluation.protocol import VIDEOPOSE3D, action_group
from ssrstf.skeleton import SKELETONS


def detection_errors(streams: Streams, source: str) -> dict[str, dict[str, float]]:
    """Joint name → ``{"bias_px", "residual_px", "error_px"}`` of ``source`` against ``gt`` 2D on
    the VideoPose3D protocol's test streams (see the module's docstring).

    Raises:
        ValueError: If no test stream holds both 2D sources.
    """
    offsets, groups = [], []
    for i in range(streams.num_streams):
        stream = SimpleNamespace(
            subject=str(streams.subject[i]), action=str(streams.action[i]),
            sequence_id=str(streams.sequence_id[i]) if streams.sequence_id is not None else "",
        )  # fmt: skip
        if stream.subject not in VIDEOPOSE3D.test_subjects or VIDEOPOSE3D.is_skipped(stream):
            continue
        if not (streams.has_2d[source][i] and streams.has_2d["gt"][i]):
            continue
        frames = streams.frames(i)
        offset = streams.poses_2d[source][frames, :, :2] - streams.poses_2d["gt"][frames, :, :2]
        offsets.append(offset - offset[:, :1])
        groups += [action_group(stream.action)] * len(offset)
    if not offsets:
        raise ValueError(f"no test stream holds both the {source!r} and the ground-truth 2D")
    offset = np.concatenate(offsets).astype(np.float64)
    bias = offset.mean(axis=0)

    def headline(values: np.ndarray) -> float:  # per action, then over actions
        return float(np.mean(list(mean_per_group(values, groups).values())))

    error = np.linalg.norm(offset, axis=-1)
    residual = np.linalg.norm(offset - bias, axis=-1)
    names = SKELETONS[streams.joint_layout].joint_names
    return {
        name: {
            "bias_px": float(np.linalg.norm(bias[j])),
            "residual_px": headline(residual[:, j]),
            "error_px": headline(error[:, j]),
        }
        for j, name in enumerate(names)
    }


def with_gap(
    errors: dict[str, dict[str, float]], results: Path, source: str
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The rows with the model's P1 per joint on GT and on ``source`` 2D and their difference
    (``gap_mm``), and the correlation of the gap with each 2D figure and with the GT-input P1,
    over the non-root joints."""
    p1 = {}
    for name in ("gt", source):
        record = json.loads((results / f"videopose3d_{name}.json").read_text())
        p1[name] = {joint: v["p1_mm"] for joint, v in record["per_joint"].items()}
    rows = {
        joint: {
            **row,
            "p1_gt_mm": p1["gt"][joint],
            f"p1_{source}_mm": p1[source][joint],
            "gap_mm": p1[source][joint] - p1["gt"][joint],
        }
        for joint, row in errors.items()
    }
    joints = list(rows)[1:]  # the root's P1 is 0 on both inputs
    gap = [rows[j]["gap_mm"] for j in joints]
    correlation = {
        key: float(np.corrcoef([rows[j][key] for j in joints], gap)[0, 1])
        for key in ("bias_px", "residual_px", "error_px", "p1_gt_mm")
    }
    return rows, correlation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared Human3.6M .npz")
    parser.add_argument("--source", default="sh", help="the 2D source against the ground truth")
    parser.add_argument("--results", type=Path, help="a model's per-joint figures (see above)")
    args = parser.parse_args()
    streams = load_streams(args.data)
    if args.source not in streams.poses_2d or args.source == "gt":
        raise SystemExit(
            f"--source {args.source!r}: not a 2D source of {args.data} besides gt "
            f"(it has: {', '.join(streams.sources)})"
        )
    rows = detection_errors(streams, args.source)
    correlation = {}
    if args.results:
        rows, correlation = with_gap(rows, args.results, args.source)
    keys = list(next(iter(rows.values())))
    print("| joint | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for joint, row in rows.items():
        print(f"| {joint} | " + " | ".join(f"{row[k]:.1f}" for k in keys) + " |")
    for key, value in correlation.items():
        print(f"correlation over the non-root joints, gap_mm against {key}: {value:+.2f}")


if __name__ == "__main__":
    main()
