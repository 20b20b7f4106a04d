"""How far a 2D source lies from the ground-truth 2D, per joint, on the Human3.6M test set; beside
a model's per-joint figures, how much of its 3D gap between the two inputs that explains.

Usage::

    python benchmarks/detection_error.py --data data/h36m.npz [--source sh] \
        [--results runs/long24h-27f_global-only/full/baseline]

On the VideoPose3D protocol's test streams (its subjects and skip list) that hold the source,
each frame's 2D offset ``source − ground truth`` (pixels) is taken root-relative (the root's own
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
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ssrstf.data.h36m import Streams, load_streams
from ssrstf.evaluation.metrics import mean_per_group
from ssrstf.evaluation.protocol import VIDEOPOSE3D, report_group
from ssrstf.files import read_json
from ssrstf.skeleton import SKELETONS


def detection_errors(streams: Streams, source: str) -> dict[str, dict[str, float]]:
    """Joint name → ``{"bias_px", "residual_px", "error_px"}`` of ``source`` against ``gt`` 2D on
    the VideoPose3D protocol's test streams (see the module's docstring).

    Raises:
        ValueError: If no test stream holds both 2D sources.
    """
    skeleton = SKELETONS[streams.joint_layout]
    offsets, groups = [], []
    for i in range(streams.num_streams):
        stream = SimpleNamespace(
            subject=str(streams.subject[i]), action=str(streams.action[i]),
            sequence_id=str(streams.sequence_id[i]), action_label=str(streams.action_label[i]),
        )  # fmt: skip
        if stream.subject not in VIDEOPOSE3D.test_subjects or VIDEOPOSE3D.is_skipped(stream):
            continue
        if not (streams.has_2d[source][i] and streams.has_2d["gt"][i]):
            continue
        frames = streams.frames(i)
        offset = streams.poses_2d[source][frames, :, :2] - streams.poses_2d["gt"][frames, :, :2]
        offsets.append(offset - offset[:, skeleton.root, None])
        groups += [report_group(stream)] * len(offset)  # as the protocol's per-action figures
    if not offsets:
        raise ValueError(f"no test stream holds both the {source!r} and the ground-truth 2D")
    offset = np.concatenate(offsets).astype(np.float64)
    bias = offset.mean(axis=0)

    def headline(values: np.ndarray) -> float:  # per action, then over actions
        return float(np.mean(list(mean_per_group(values, groups).values())))

    error = np.linalg.norm(offset, axis=-1)
    residual = np.linalg.norm(offset - bias, axis=-1)
    return {
        name: {
            "bias_px": float(np.linalg.norm(bias[j])),
            "residual_px": headline(residual[:, j]),
            "error_px": headline(error[:, j]),
        }
        for j, name in enumerate(skeleton.joint_names)
    }


def with_gap(
    errors: dict[str, dict[str, float]], results: Path, source: str, root: str
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The rows with the model's P1 per joint on GT and on ``source`` 2D and their difference
    (``gap_mm``), and the correlation of the gap with each 2D figure and with the GT-input P1,
    over the joints other than ``root``.

    Raises:
        ValueError: If a result file lacks per-joint figures for a joint of ``errors``.
    """
    p1 = {}
    for name in ("gt", source):
        path = results / f"videopose3d_{name}.json"
        record = read_json(path, "result file")
        per_joint = record.get("per_joint") if isinstance(record, dict) else None
        per_joint = per_joint if isinstance(per_joint, dict) else {}
        missing = [joint for joint in errors if joint not in per_joint]
        if missing:
            raise ValueError(f"{path}: no per-joint P1 for {', '.join(missing)}")
        p1[name] = {joint: per_joint[joint]["p1_mm"] for joint in errors}
    rows = {
        joint: {
            **row,
            "p1_gt_mm": p1["gt"][joint],
            f"p1_{source}_mm": p1[source][joint],
            "gap_mm": p1[source][joint] - p1["gt"][joint],
        }
        for joint, row in errors.items()
    }
    joints = [joint for joint in rows if joint != root]  # the root's P1 is 0 on both inputs
    gap = [rows[j]["gap_mm"] for j in joints]
    correlation = {
        key: float(np.corrcoef([rows[j][key] for j in joints], gap)[0, 1])
        for key in ("bias_px", "residual_px", "error_px", "p1_gt_mm")
    }
    return rows, correlation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared Human3.6M .npz")
    parser.add_argument("--source", default="sh", help="the 2D source against the ground truth")
    parser.add_argument("--results", type=Path, help="a model's per-joint figures (see above)")
    args = parser.parse_args(argv)
    try:
        streams = load_streams(
            args.data, subjects=VIDEOPOSE3D.test_subjects,
            arrays=("poses_2d_gt", f"poses_2d_{args.source}"),
        )  # fmt: skip
        if args.source == "gt" or not {"gt", args.source} <= set(streams.poses_2d):
            raise ValueError(
                f"--source {args.source!r}: {args.data} needs it and the ground-truth 2D (gt) "
                f"as 2D sources (it has: {', '.join(streams.sources) or 'none'})"
            )
        rows = detection_errors(streams, args.source)
        correlation: dict[str, float] = {}
        if args.results:
            skeleton = SKELETONS[streams.joint_layout]
            root = skeleton.joint_names[skeleton.root]
            rows, correlation = with_gap(rows, args.results, args.source, root)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = list(next(iter(rows.values())))
    print("| joint | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for joint, row in rows.items():
        print(f"| {joint} | " + " | ".join(f"{row[k]:.1f}" for k in keys) + " |")
    for key, value in correlation.items():
        print(f"correlation over the non-root joints, gap_mm against {key}: {value:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
