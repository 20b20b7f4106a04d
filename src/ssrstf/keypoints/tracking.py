"""Several people in a keypoint file: link per-frame detections into one track per person.

Keypoint files from multi-person detectors (COCO results, AlphaPose/Halpe JSON, OpenPose) list
every person of a frame without saying who is who. `track_people` assigns identities frame by
frame, greedily in time and optimally within a frame:

0. a person listed twice in a frame (two detections whose keypoints match, OKS ≥
   `DUPLICATE_OKS`, as top-down detectors give for overlapping boxes) is kept once, with the
   better score;
1. every live track predicts where its joints are now, from its last observation moved on by its
   velocity (per joint, pixels per frame, exponentially smoothed over observations), so two
   people who cross are told apart by where they are heading, not only by where they are;
2. each (track, detection) pair gets a similarity in [0, 1]: the mean of the overlap (IoU) of the
   predicted and the detected keypoint boxes and the object keypoint similarity (OKS, COCO's
   keypoint overlap, over joints confident in both, with the box area as the scale);
3. the Hungarian algorithm (`scipy.optimize.linear_sum_assignment`) picks the assignment of
   largest total similarity; pairs below ``min_similarity`` are not matched;
4. an unmatched detection starts a new track; a track unmatched for more than ``max_gap``
   frames ends.

A track covers the frames from its first to its last detection; frames in between where the
person was not found are invalid (all joints confidence 0), to be filled by interpolation like
any missed detection (`ssrstf.keypoints.prepare.fill_missing`). Tracks observed in fewer than
``min_frames`` frames (spurious detections) are dropped. MediaPipe video input is single-person by
construction (the detector tracks one person) and never comes here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ssrstf.keypoints.keypoints2d import Detections, Keypoints2D

MIN_TRACK_FRAMES = 10
"""Default ``min_frames``: tracks seen in fewer frames are dropped (capped at the file length)."""
MAX_GAP = 15
"""Default ``max_gap``: frames a track may go unseen before it ends."""
DUPLICATE_OKS = 0.9
"""Two detections of one frame this similar (OKS) are one person listed twice: the lower-scored
is dropped before tracking (top-down detectors list a person once per overlapping box)."""
MIN_SIMILARITY = 0.2
"""Default ``min_similarity`` of a (track, detection) match."""
OKS_SIGMA = 0.1
"""Keypoint spread of the OKS term, as a fraction of the box size (COCO's are 0.025-0.107)."""
VELOCITY_SMOOTHING = 0.5
"""Weight of the newest velocity estimate in the exponential average."""


@dataclass(frozen=True)
class Track:
    """One person's keypoints over the frames in which they appear.

    Attributes:
        keypoints: `Keypoints2D` over frames ``start_frame .. start_frame + F - 1`` of the file;
            frames without a detection are invalid with confidence-0 joints.
        start_frame: Index in the file of the first frame.
        detection_indices: (F,) index of the detection used in each frame within
            `Detections.people`, -1 where the person was not detected.
    """

    keypoints: Keypoints2D
    start_frame: int
    detection_indices: np.ndarray

    @property
    def num_observed(self) -> int:
        """Frames in which the person was detected."""
        return int((self.detection_indices >= 0).sum())


def keypoint_box(keypoints: np.ndarray) -> np.ndarray:
    """(..., 4) boxes x0, y0, x1, y1 around the confident joints of (..., J, 3) keypoints.

    NaN where no joint is confident.
    """
    confident = keypoints[..., 2] > 0
    xy = np.where(confident[..., None], keypoints[..., :2], np.nan)
    with warnings.catch_warnings():  # an all-NaN slice means "no confident joint"
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.concatenate([np.nanmin(xy, axis=-2), np.nanmax(xy, axis=-2)], axis=-1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) intersection over union of boxes (A, 4) and (B, 4); 0 where either is undefined."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0.0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (area_a[:, None] + area_b[None, :] - inter)
    return np.nan_to_num(iou, nan=0.0, posinf=0.0, neginf=0.0)


def keypoint_similarity(predicted: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """(A, B) object keypoint similarity of keypoints (A, J, 3) and (B, J, 3).

    ``exp(−d² / (2 s² σ²))`` averaged over the joints confident in both, with ``s²`` the area of
    the detected box (at least 1 px²) and σ = `OKS_SIGMA`; 0 when no joint is shared.
    """
    both = (predicted[:, None, :, 2] > 0) & (detected[None, :, :, 2] > 0)
    d2 = np.sum((predicted[:, None, :, :2] - detected[None, :, :, :2]) ** 2, axis=-1)
    box = keypoint_box(detected)
    area = np.nan_to_num(np.prod(box[:, 2:] - box[:, :2], axis=-1), nan=1.0)
    scale = np.maximum(area, 1.0)[None, :, None]
    oks = np.exp(-d2 / (2 * scale * OKS_SIGMA**2))
    shared = both.sum(-1)
    return np.where(shared > 0, (oks * both).sum(-1) / np.maximum(shared, 1), 0.0)


def _distinct_people(people: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices of the detections (K, J, 3) of one frame that are kept: those with a confident
    joint, best score first, without one whose keypoints match a better-scored detection's
    (OKS ≥ `DUPLICATE_OKS`), in their order in the file."""
    candidates = np.flatnonzero((people[:, :, 2] > 0).any(-1)) if len(people) else np.zeros(0, int)
    if len(candidates) < 2:
        return candidates
    order = candidates[np.argsort(-np.nan_to_num(scores[candidates], nan=-np.inf), kind="stable")]
    similar = keypoint_similarity(people[order], people[order]) >= DUPLICATE_OKS
    kept: list[int] = []
    for rank in range(len(order)):
        if not any(similar[rank, other] or similar[other, rank] for other in kept):
            kept.append(rank)
    return np.sort(order[kept])


def _assign(similarity: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """Hungarian assignment maximising the total similarity; pairs below the threshold dropped."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-similarity)
    return [(r, c) for r, c in zip(rows, cols, strict=True) if similarity[r, c] >= min_similarity]


@dataclass
class _LiveTrack:
    frames: list[int]
    indices: list[int]
    last: np.ndarray  # (J, 3) last detection
    velocity: np.ndarray  # (J, 2) px per frame

    def predict(self, frame: int) -> np.ndarray:
        out = self.last.copy()
        out[:, :2] += self.velocity * (frame - self.frames[-1])
        return out

    def update(self, frame: int, index: int, keypoints: np.ndarray) -> None:
        gap = frame - self.frames[-1]
        both = (keypoints[:, 2] > 0) & (self.last[:, 2] > 0)
        step = (keypoints[:, :2] - self.last[:, :2]) / gap
        weight = 1.0 if len(self.frames) == 1 else VELOCITY_SMOOTHING
        self.velocity[both] = weight * step[both] + (1 - weight) * self.velocity[both]
        missing = ~(keypoints[:, 2] > 0)
        if both.any():  # a joint the detection lacks moves on with the body, not with its own
            # last velocity: over a long occlusion that would carry it away from the person
            self.velocity[missing] = self.velocity[both].mean(0)
        last = keypoints.copy()
        last[missing] = self.predict(frame)[missing]
        self.last = last
        self.frames.append(frame)
        self.indices.append(index)


def _track_keypoints(det: Detections, live: _LiveTrack, name: str) -> Track:
    start, end = live.frames[0], live.frames[-1]
    joints = det.skeleton.num_joints
    keypoints = np.zeros((end - start + 1, joints, 3))
    indices = np.full(end - start + 1, -1, dtype=np.int64)
    for frame, index in zip(live.frames, live.indices, strict=True):
        keypoints[frame - start] = det.people[frame][index]
        indices[frame - start] = index
    kp = Keypoints2D.from_detections(
        keypoints, det.skeleton, source=f"{det.source}, {name} (frames {start}-{end})",
        image_size=det.image_size, fps=det.fps,
        frame_ids=det.frame_ids[start : end + 1] if det.frame_ids else (),
    )  # fmt: skip
    return Track(kp, start, indices)


def track_people(
    detections: Detections,
    *,
    min_frames: int = MIN_TRACK_FRAMES,
    max_gap: int = MAX_GAP,
    min_similarity: float = MIN_SIMILARITY,
) -> tuple[list[Track], int]:
    """Link the detections of every frame into one `Track` per person (see the module docstring).

    Args:
        detections: Every person of every frame (`ssrstf.keypoints.readers.read_detections`).
        min_frames: Tracks detected in fewer frames are dropped; capped at the number of frames,
            so a short file keeps its people.
        max_gap: Frames a track may go undetected and still be continued.
        min_similarity: Least similarity of a match, in [0, 1].

    Returns:
        The kept tracks, ordered by first frame and then by mean x of their first detection,
        and the number of tracks dropped as too short.

    Raises:
        ValueError: Bad parameters, or no track is long enough.
    """
    if min_frames < 1 or max_gap < 0 or not 0.0 <= min_similarity <= 1.0:
        raise ValueError(
            f"need min_frames ≥ 1, max_gap ≥ 0 and 0 ≤ min_similarity ≤ 1, got {min_frames}, "
            f"{max_gap}, {min_similarity}"
        )
    joints = detections.skeleton.num_joints
    live: list[_LiveTrack] = []
    ended: list[_LiveTrack] = []
    for frame, people in enumerate(detections.people):
        still = [t for t in live if frame - t.frames[-1] <= max_gap + 1]
        ended.extend(t for t in live if frame - t.frames[-1] > max_gap + 1)
        live = still
        original = _distinct_people(people, detections.scores[frame])
        people = people[original]
        matched: dict[int, int] = {}
        if live and len(people):
            predicted = np.stack([t.predict(frame) for t in live])
            box_pred, box_det = keypoint_box(predicted), keypoint_box(people)
            similarity = 0.5 * box_iou(box_pred, box_det) + 0.5 * keypoint_similarity(
                predicted, people
            )
            matched = {d: t for t, d in _assign(similarity, min_similarity)}
        for d in range(len(people)):
            index = int(original[d])  # index within the file's frame
            if d in matched:
                live[matched[d]].update(frame, index, people[d])
            else:
                live.append(_LiveTrack([frame], [index], people[d].copy(), np.zeros((joints, 2))))
    ended.extend(live)
    needed = min(min_frames, detections.num_frames)
    kept = [t for t in ended if len(t.frames) >= needed]
    if not kept:
        raise ValueError(
            f"{detections.source}: no person is tracked in {needed} or more frames "
            f"({len(ended)} track(s), the longest {max((len(t.frames) for t in ended), default=0)}"
            " frames); lower --min-track-frames"
        )

    def order(track: _LiveTrack) -> tuple[int, float]:
        first = detections.people[track.frames[0]][track.indices[0]]
        confident = first[first[:, 2] > 0]
        return track.frames[0], float(confident[:, 0].mean())

    kept.sort(key=order)
    tracks = [_track_keypoints(detections, t, f"person {k}") for k, t in enumerate(kept)]
    return tracks, len(ended) - len(kept)
