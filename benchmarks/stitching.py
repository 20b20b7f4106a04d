"""Accuracy and smoothness of windowed lifting against the overlap and flip settings.

Usage::

    python benchmarks/stitching.py [--checkpoint default] [--seconds 20] [--json OUT]

Lifts the built-in procedural sample (whose 3D truth is known) with every overlap in
``--overlaps`` with and without flip test-time augmentation and prints MPJPE, P-MPJPE and the
acceleration error against the truth: the evidence behind `Lifter`'s default overlap
(docs/design.md, "Inference"). The sample's proportions and camera differ from Human3.6M's, so the
absolute errors are a smoke test, not a benchmark; the differences between settings are what it
measures.
"""

from __future__ import annotations

import argparse
import json

from ssrstf.evaluation.metrics import acceleration_error, mpjpe, p_mpjpe
from ssrstf.geometry import to_root_relative
from ssrstf.keypoints.prepare import prepare_keypoints
from ssrstf.keypoints.sample import make_sample
from ssrstf.lifting.lifter import Lifter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--overlaps", type=int, nargs="+", default=[0, 4, 9, 13, 18, 26])
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    sample = make_sample(seconds=args.seconds)
    keypoints, _ = prepare_keypoints(sample.keypoints)
    truth = to_root_relative(sample.poses_3d)
    rows = []
    print("flip  overlap  MPJPE mm  P-MPJPE mm  accel. error mm/frame^2")
    for flip in (True, False):
        for overlap in args.overlaps:
            lifter = Lifter(args.checkpoint, overlap=overlap, flip=flip)
            poses = lifter.lift(keypoints.keypoints, keypoints.image_size)
            row = {
                "flip": flip,
                "overlap": overlap,
                "mpjpe_mm": float(mpjpe(poses, truth).mean()),
                "p_mpjpe_mm": float(p_mpjpe(poses, truth).mean()),
                "acceleration_error_mm": float(acceleration_error(poses, truth).mean()),
            }
            rows.append(row)
            print(
                f"{'on ' if flip else 'off'}   {overlap:7d}  {row['mpjpe_mm']:8.2f}  "
                f"{row['p_mpjpe_mm']:10.2f}  {row['acceleration_error_mm']:8.2f}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
