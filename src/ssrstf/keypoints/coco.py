"""COCO keypoint-results JSON (``coco``) and AlphaPose's Halpe-26 results (``halpe``).

A list of ``{image_id, category_id, keypoints[51 | 78], score}``. Frames are the **distinct
image_ids present**, sorted (numbers numerically, file names naturally: ``"2.jpg"`` before
``"10.jpg"``); COCO results only list images with detections, so images without one cannot be
told apart from images that do not exist. Several people may share an image_id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ssrstf.keypoints.keypoints2d import KeypointFormatError, Keypoints2D
from ssrstf.keypoints.parsing import check_score, natural_key, person_array
from ssrstf.skeleton import COCO_17, HALPE_26

RESULTS_SKELETONS = {"coco": COCO_17, "halpe": HALPE_26}


def _image_key(image_id: object) -> str:
    """An image id as a frame key: a whole-number float is its integer (``1.0`` is frame ``1``)."""
    if isinstance(image_id, float) and image_id.is_integer():
        return str(int(image_id))
    return str(image_id)


def results_by_image(
    path: Path, data: Any, fmt: str
) -> tuple[tuple[str, ...], tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """COCO / AlphaPose results list grouped by image_id: (ids, people, scores), ids sorted."""
    skeleton = RESULTS_SKELETONS[fmt]
    if not isinstance(data, list):
        raise KeypointFormatError(f"{path}: not a {fmt} results list (top level is not a list)")
    if not data:
        raise KeypointFormatError(f"{path}: empty results list, no frames")
    by_image: dict[str, list[tuple[float, np.ndarray]]] = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "image_id" not in entry or "keypoints" not in entry:
            raise KeypointFormatError(
                f"{path}: entry {i} is not a {fmt} result with image_id and keypoints"
            )
        person = person_array(path, entry["keypoints"], skeleton, f"entry {i}")
        score = entry.get("score")
        score = (
            float(person[:, 2].mean()) if score is None else check_score(path, score, f"entry {i}")
        )
        by_image.setdefault(_image_key(entry["image_id"]), []).append((score, person))
    ids = tuple(sorted(by_image, key=natural_key))
    people = tuple(np.stack([p for _, p in by_image[k]]) for k in ids)
    scores = tuple(np.array([c for c, _ in by_image[k]]) for k in ids)
    return ids, people, scores


def read_results(path: Path, data: Any, fmt: str) -> Keypoints2D:
    """COCO / AlphaPose results list: the best-scored person per image_id."""
    ids, people, scores = results_by_image(path, data, fmt)
    keypoints = np.stack([p[np.argmax(c)] for p, c in zip(people, scores, strict=True)])
    return Keypoints2D.from_detections(
        keypoints, RESULTS_SKELETONS[fmt], source=f"{fmt} json", frame_ids=ids
    )
