"""Several people in keypoint files: reading every detection, tracking people whose paths cross."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ssrstf.keypoints.keypoints2d import Detections
from ssrstf.keypoints.readers import read_detections, read_keypoints
from ssrstf.keypoints.tracking import box_iou, keypoint_similarity, track_people
from ssrstf.skeleton import COCO_17, HALPE_26

# A COCO-17 person facing the camera, pixels relative to the hip centre (their left at +x).
_FIGURE = np.array([
    [0, -160], [6, -168], [-6, -168], [12, -164], [-12, -164],  # nose, eyes, ears
    [40, -120], [-40, -120], [50, -70], [-50, -70], [55, -25], [-55, -25],  # arms
    [20, 0], [-20, 0], [22, 60], [-22, 60], [24, 120], [-24, 120],  # legs
], dtype=np.float64)  # fmt: skip
SIZE = (1280, 720)


def _walker(frames: int, start_x: float, speed: float, scale: float, phase: float) -> np.ndarray:
    """(F, 17, 3) COCO keypoints of a person walking sideways, swinging arms and legs."""
    t = np.arange(frames)
    swing = np.sin(2 * np.pi * t / 16 + phase)
    pose = np.repeat(_FIGURE[None], frames, 0) * scale
    pose[:, [9, 15], 0] += 18 * scale * swing[:, None]  # left wrist and ankle
    pose[:, [10, 16], 0] -= 18 * scale * swing[:, None]  # right wrist and ankle
    pose[..., 0] += (start_x + speed * t)[:, None]
    pose[..., 1] += 450.0
    return np.concatenate([pose, np.full((frames, 17, 1), 0.9)], -1)


def _two_crossing(frames: int = 40, identical: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Person A walks left to right, B right to left; they meet at frame frames/2.

    ``identical``: the same figure in the same phase, so at the crossing only the direction
    of motion tells them apart.
    """
    a = _walker(frames, 340.0, 15.0, 1.0, 0.0)
    b = _walker(
        frames, 340.0 + 15.0 * frames, -15.0, 1.0 if identical else 0.85,
        0.0 if identical else np.pi / 3,
    )  # fmt: skip
    return a, b


def _coco_file(path: Path, people: list[np.ndarray], missing: dict[int, set[int]] | None = None):
    """COCO results with every person of each frame, listed in a shuffled order."""
    rng = np.random.default_rng(0)
    missing = missing or {}
    results = []
    for frame in range(len(people[0])):
        order = rng.permutation(len(people))
        for k in order:
            if frame in missing.get(int(k), set()):
                continue
            results.append({
                "image_id": f"frame_{frame}.jpg", "category_id": 1,
                "keypoints": people[k][frame].ravel().tolist(), "score": 0.9 - 0.1 * int(k),
            })  # fmt: skip
    rng.shuffle(results)  # entries of one image need not be adjacent
    path.write_text(json.dumps(results))
    return path


def _identity_kept(track, truth: np.ndarray) -> bool:
    seen = track.detection_indices >= 0
    frames = track.start_frame + np.flatnonzero(seen)
    return np.allclose(track.keypoints.keypoints[seen], truth[frames])


@pytest.mark.parametrize("identical", [False, True])
def test_two_people_whose_tracks_cross_keep_their_identities(tmp_path: Path, identical) -> None:
    a, b = _two_crossing(identical=identical)
    assert np.abs(a[20, :, :2] - b[20, :, :2]).mean() < 25  # they really meet
    path = _coco_file(tmp_path / "two.json", [a, b])
    detections = read_detections(path, image_size=SIZE)
    assert detections.num_frames == 40 and detections.max_people == 2
    assert detections.frame_ids[:3] == ("frame_0.jpg", "frame_1.jpg", "frame_2.jpg")
    tracks, dropped = track_people(detections)
    assert len(tracks) == 2 and dropped == 0
    first, second = tracks  # ordered by first frame, then from left to right
    assert first.start_frame == second.start_frame == 0
    assert first.keypoints.num_frames == second.keypoints.num_frames == 40
    assert _identity_kept(first, a) and _identity_kept(second, b)
    assert first.keypoints.skeleton is COCO_17
    # Identical figures in the same phase are at exactly the same keypoints where they meet:
    # one detection there (a person listed twice), so one of them misses that frame.
    missed = (~first.keypoints.valid).sum() + (~second.keypoints.valid).sum()
    assert missed == (1 if identical else 0)


def test_a_person_listed_twice_in_a_frame_is_one_person(tmp_path: Path) -> None:
    """Top-down detectors list a person once per overlapping box: the near-copy (2 px off,
    lower score) is dropped, so one track with every frame, made of the better detections."""
    walker = _walker(60, 300.0, 6.0, 1.0, 0.0)
    rng = np.random.default_rng(3)
    results = []
    for frame in range(60):
        copies = [(walker[frame], 0.9)]
        if frame % 3 == 0:
            noisy = walker[frame].copy()
            noisy[:, :2] += rng.normal(0, 2.0, (17, 2))
            copies.insert(0, (noisy, 0.6))  # listed first, scored lower
        for keypoints, score in copies:
            results.append({"image_id": frame, "category_id": 1,
                            "keypoints": keypoints.ravel().tolist(), "score": score})  # fmt: skip
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(results))
    tracks, dropped = track_people(read_detections(path, image_size=SIZE))
    assert len(tracks) == 1 and dropped == 0
    assert tracks[0].keypoints.valid.all() and _identity_kept(tracks[0], walker)
    assert (tracks[0].detection_indices[::3] == 1).all()  # the better-scored, second entry


def test_occlusion_at_the_crossing_and_a_late_arrival(tmp_path: Path) -> None:
    a, b = _two_crossing()
    c = _walker(40, 200.0, 0.0, 0.7, 0.0)  # a third person, standing, from frame 25 on
    hidden = {1: set(range(18, 23)), 2: set(range(25))}  # B is hidden behind A at the crossing
    path = _coco_file(tmp_path / "three.json", [a, b, c], missing=hidden)
    tracks, dropped = track_people(read_detections(path, image_size=SIZE), min_frames=10)
    assert len(tracks) == 3 and dropped == 0
    first, second, late = tracks
    assert _identity_kept(first, a) and _identity_kept(second, b) and _identity_kept(late, c)
    np.testing.assert_array_equal(np.flatnonzero(~second.keypoints.valid), np.arange(18, 23))
    assert (second.keypoints.keypoints[18:23, :, 2] == 0).all()  # nothing invented
    assert late.start_frame == 25 and late.keypoints.num_frames == 15


def test_short_tracks_are_dropped_and_long_gaps_split(tmp_path: Path) -> None:
    a, _ = _two_crossing()
    ghost = _walker(40, 1100.0, 0.0, 0.5, 0.0)
    path = _coco_file(tmp_path / "ghost.json", [a, ghost], missing={1: set(range(3, 40))})
    tracks, dropped = track_people(read_detections(path, image_size=SIZE), min_frames=10)
    assert len(tracks) == 1 and dropped == 1 and _identity_kept(tracks[0], a)
    gap = _coco_file(tmp_path / "gap.json", [a, ghost], missing={0: set(range(10, 30))})
    tracks, _ = track_people(read_detections(gap, image_size=SIZE), min_frames=5, max_gap=15)
    spans = [(t.start_frame, t.keypoints.num_frames) for t in tracks]
    assert spans == [(0, 10), (0, 40), (30, 10)]  # A's two pieces, and the ghost
    assert _identity_kept(tracks[0], a) and _identity_kept(tracks[2], a)
    few = _coco_file(tmp_path / "few.json", [a, ghost], missing={0: set(range(10, 40)), 1: {5}})
    few_detections = read_detections(few, image_size=SIZE)
    with pytest.raises(ValueError, match="no person is tracked in 40 or more frames .*longest 39"):
        track_people(few_detections, min_frames=45)  # capped at the 40 frames: still too many
    with pytest.raises(ValueError, match="min_frames"):
        track_people(few_detections, min_frames=0)


def test_short_files_keep_their_people(tmp_path: Path) -> None:
    a, b = _two_crossing(frames=3)
    tracks, dropped = track_people(read_detections(_coco_file(tmp_path / "s.json", [a, b])))
    assert len(tracks) == 2 and dropped == 0  # min_frames is capped at the file's 3 frames


def test_halpe_and_openpose_files_with_several_people(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    people = rng.uniform(100, 600, size=(2, 26, 3))
    people[..., 2] = 0.8
    entries = [
        {"image_id": "1.jpg", "keypoints": people[k].ravel().tolist(), "score": 1.0 + k}
        for k in range(2)
    ]
    (tmp_path / "halpe.json").write_text(json.dumps(entries))
    det = read_detections(tmp_path / "halpe.json", image_size=(800, 800))
    assert det.skeleton is HALPE_26 and det.max_people == 2
    np.testing.assert_allclose(det.people[0], people)
    np.testing.assert_allclose(det.scores[0], [1.0, 2.0])
    best = read_keypoints(tmp_path / "halpe.json", image_size=(800, 800))
    np.testing.assert_allclose(best.keypoints[0], people[1])  # the best-scored, as before
    folder = tmp_path / "openpose"
    folder.mkdir()
    for frame, count in enumerate((2, 0, 1)):
        body = [{"pose_keypoints_2d": np.full(75, 50.0 + k).tolist()} for k in range(count)]
        (folder / f"v_{frame:03d}_keypoints.json").write_text(json.dumps({"people": body}))
    det = read_detections(folder, image_size=(800, 800))
    assert [len(p) for p in det.people] == [2, 0, 1] and det.frame_ids[0] == "v_000_keypoints.json"


def test_single_person_formats_give_at_most_one(tmp_path: Path) -> None:
    array = np.concatenate([np.full((4, 17, 2), 100.0), np.ones((4, 17, 1))], -1)
    array[2, :, 2] = 0.0
    np.save(tmp_path / "k.npy", array)
    det = read_detections(tmp_path / "k.npy", skeleton_name="coco", image_size=(640, 480))
    assert [len(p) for p in det.people] == [1, 1, 0, 1] and det.max_people == 1
    same = Detections.from_keypoints(read_keypoints(tmp_path / "k.npy", skeleton_name="coco"))
    assert all(np.array_equal(x, y) for x, y in zip(det.people, same.people, strict=True))


def test_every_person_is_checked_against_the_image_size(tmp_path: Path) -> None:
    a, b = _two_crossing(frames=4)
    b = b.copy()
    b[..., :2] *= 10  # the second person is far outside a 1280x720 image
    path = _coco_file(tmp_path / "far.json", [a, b])
    with pytest.raises(ValueError, match="far.json: .* outside a 1280x720 image"):
        read_detections(path, image_size=SIZE)


def test_similarity_terms() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [np.nan] * 4])
    iou = box_iou(boxes, boxes)
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0])
    a, _ = _two_crossing(frames=1)
    moved = a.copy()
    moved[..., 0] += 30
    sim = keypoint_similarity(a[:1], np.concatenate([a[:1], moved[:1]]))
    assert sim[0, 0] == pytest.approx(1.0) and 0 < sim[0, 1] < 0.9
    none = a[:1].copy()
    none[..., 2] = 0
    assert keypoint_similarity(a[:1], none)[0, 0] == 0.0


def test_a_joint_missing_for_long_moves_with_the_body_not_its_last_velocity() -> None:
    """A wrist that moved once and then stays hidden for 100 frames: with its own last velocity
    it would end 1,000 px away from a person standing still; it moves with the body."""
    from ssrstf.keypoints.tracking import _LiveTrack

    pose = np.zeros((17, 3))
    pose[:, 0], pose[:, 1], pose[:, 2] = np.linspace(280, 320, 17), np.linspace(100, 400, 17), 1
    track = _LiveTrack([0], [0], pose.copy(), np.zeros((17, 2)))
    moved = pose.copy()
    moved[9, 0] += 10.0  # the left wrist moves 10 px in one frame
    track.update(1, 0, moved)
    hidden = pose.copy()
    hidden[9] = 0.0  # then the detector loses it
    for frame in range(2, 102):
        track.update(frame, 0, hidden)
    assert abs(track.last[9, 0] - moved[9, 0]) < 10.0
    assert np.abs(track.predict(110)[:, :2] - track.last[:, :2]).max() < 1e-9  # at rest
