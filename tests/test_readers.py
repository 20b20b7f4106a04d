"""2D keypoint readers: every format, auto-detection, bad input, conversion and gap filling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ssrstf.keypoints.keypoints2d import (
    KeypointFormatError,
    Keypoints2D,
    check_image_size,
    resolve_skeleton,
)
from ssrstf.keypoints.prepare import fill_missing, to_h36m
from ssrstf.keypoints.readers import read_detections, read_keypoints
from ssrstf.skeleton import (
    BLAZEPOSE_33,
    COCO_17,
    COCO_TO_H36M,
    H36M_17,
    HALPE_26,
    OPENPOSE_BODY_25,
    OPENPOSE_BODY_25_TO_H36M,
    Skeleton,
    convert_keypoints,
)


def _person(skeleton: Skeleton, seed: int, conf: float = 0.9) -> np.ndarray:
    """(J, 3) keypoints inside a 640x480 image with confidence ``conf``."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform([50, 40], [590, 440], size=(skeleton.num_joints, 2))
    return np.concatenate([xy, np.full((skeleton.num_joints, 1), conf)], axis=1)


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def _result(image_id: object, person: np.ndarray, score: float) -> dict:
    return {"image_id": image_id, "category_id": 1, "keypoints": person.ravel().tolist(),
            "score": score}  # fmt: skip


# ------------------------------------------------------------------------------------- formats


def test_coco_results_best_person_per_image_sorted_ids(tmp_path: Path) -> None:
    a, b, c, weak = (_person(COCO_17, s) for s in range(4))
    results = [_result(10, a, 0.9), _result(2, b, 0.8), _result(2, weak, 0.3),
               _result(1, c, 0.7)]  # fmt: skip
    kp = read_keypoints(_write_json(tmp_path / "res.json", results), "coco")
    assert kp.skeleton is COCO_17 and kp.keypoints.shape == (3, 17, 3)
    assert kp.frame_ids == ("1", "2", "10")
    np.testing.assert_allclose(kp.keypoints, np.stack([c, b, a]))
    assert kp.valid.all() and kp.image_size is None and kp.fps is None
    assert kp.source.startswith("coco json from")


def test_halpe_results_natural_file_name_order(tmp_path: Path) -> None:
    people = [_person(HALPE_26, s) for s in range(3)]
    results = [_result("10.jpg", people[0], 2.0), _result("2.jpg", people[1], 2.5),
               _result("9.jpg", people[2], 1.0)]  # fmt: skip
    results.append({**_result("9.jpg", _person(HALPE_26, 9), 3.0), "box": [0, 0, 1, 1]})
    kp = read_keypoints(_write_json(tmp_path / "alphapose-results.json", results))
    assert kp.skeleton is HALPE_26 and kp.frame_ids == ("2.jpg", "9.jpg", "10.jpg")
    np.testing.assert_allclose(kp.keypoints[[0, 2]], np.stack([people[1], people[0]]))
    np.testing.assert_allclose(kp.keypoints[1], _person(HALPE_26, 9))  # higher score wins
    assert "halpe json (auto-detected: results list with 78-value keypoints)" in kp.source


def _openpose_folder(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    folder = tmp_path / "openpose"
    folder.mkdir()
    good, strong, weak = (
        _person(OPENPOSE_BODY_25, s, c) for s, c in [(0, 0.8), (1, 0.9), (2, 0.2)]
    )
    good[20] = 0.0  # an undetected small toe
    frames = {
        "clip_000000000010_keypoints.json": [strong, weak],
        "clip_000000000002_keypoints.json": [],
        "clip_000000000001_keypoints.json": [good],
    }
    for name, people in frames.items():
        _write_json(
            folder / name,
            {
                "version": 1.3,
                "people": [
                    {"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist()} for p in people
                ],
            },
        )
    return folder, good, strong


def test_openpose_folder_with_empty_frame_and_two_people(tmp_path: Path) -> None:
    folder, good, strong = _openpose_folder(tmp_path)
    kp = read_keypoints(folder)
    assert kp.skeleton is OPENPOSE_BODY_25 and kp.keypoints.shape == (3, 25, 3)
    assert kp.frame_ids[0] == "clip_000000000001_keypoints.json"
    assert kp.valid.tolist() == [True, False, True]
    np.testing.assert_allclose(kp.keypoints[0], good)
    np.testing.assert_array_equal(kp.keypoints[1], 0.0)
    np.testing.assert_allclose(kp.keypoints[2], strong)  # highest mean confidence
    assert "openpose folder (auto-detected: a folder)" in kp.source
    single = read_keypoints(folder / "clip_000000000001_keypoints.json")
    assert single.num_frames == 1 and "OpenPose frame file" in single.source


def test_blazepose_json_normalized_with_missing_frame(tmp_path: Path) -> None:
    person = _person(BLAZEPOSE_33, 0)
    normalized = person.copy()
    normalized[:, :2] /= [640, 480]
    data = {"format": "blazepose33", "image_size": [640, 480], "fps": 25,
            "coordinates": "normalized", "frames": [normalized.tolist(), None]}  # fmt: skip
    kp = read_keypoints(_write_json(tmp_path / "video.json", data))
    assert kp.skeleton is BLAZEPOSE_33 and kp.image_size == (640, 480) and kp.fps == 25.0
    np.testing.assert_allclose(kp.keypoints[0], person)
    assert kp.valid.tolist() == [True, False]
    assert "blazepose json (auto-detected: a JSON object with frames)" in kp.source


def test_blazepose_normalized_coordinates_scale_with_the_given_image_size(
    tmp_path: Path,
) -> None:
    """``--image-size`` wins over the file's size, also when normalized coordinates are scaled."""
    person = _person(BLAZEPOSE_33, 0)
    normalized = person.copy()
    normalized[:, :2] /= [640, 480]
    frames = [normalized.tolist(), None]
    sizeless = _write_json(tmp_path / "n.json", {"frames": frames, "coordinates": "normalized"})
    kp = read_keypoints(sizeless, image_size=(640, 480))  # failed: "need an image_size"
    assert kp.image_size == (640, 480) and kp.valid.tolist() == [True, False]
    np.testing.assert_allclose(kp.keypoints[0], person)
    detections = read_detections(sizeless, image_size=(640, 480))
    assert detections.image_size == (640, 480)
    np.testing.assert_allclose(detections.people[0][0], person)
    data = {"frames": frames, "coordinates": "normalized", "image_size": [100, 100]}
    small = _write_json(tmp_path / "s.json", data)
    kp = read_keypoints(small, image_size=(640, 480))
    assert kp.image_size == (640, 480)
    np.testing.assert_allclose(kp.keypoints[0], person)  # not 100 px wide
    kp = read_keypoints(small)  # without the override: the file's size
    assert kp.image_size == (100, 100)
    np.testing.assert_allclose(kp.keypoints[0, :, :2], normalized[:, :2] * 100)
    pixels = _write_json(tmp_path / "p.json", {"frames": [person.tolist()], "image_size": [1, 1]})
    kp = read_keypoints(pixels, image_size=(640, 480))  # pixel coordinates are not scaled
    assert kp.image_size == (640, 480)
    np.testing.assert_allclose(kp.keypoints[0], person)
    with pytest.raises(KeypointFormatError, match=r"n\.json: image size must be positive"):
        read_keypoints(sizeless, image_size=(0, 480))


def test_blazepose_bare_list_of_xy_and_npy(tmp_path: Path) -> None:
    xy = _person(BLAZEPOSE_33, 1)[:, :2]
    kp = read_keypoints(_write_json(tmp_path / "b.json", [xy.tolist()]), fmt="blazepose")
    np.testing.assert_allclose(kp.keypoints[0, :, 2], 1.0)
    np.save(tmp_path / "b.npy", _person(BLAZEPOSE_33, 1)[None])
    kp = read_keypoints(tmp_path / "b.npy", fmt="blazepose")
    assert kp.skeleton is BLAZEPOSE_33 and kp.num_frames == 1


@pytest.mark.parametrize(("joints", "expected"), [(26, HALPE_26), (25, OPENPOSE_BODY_25),
                                                  (33, BLAZEPOSE_33)])  # fmt: skip
def test_npy_skeleton_inferred_from_unambiguous_joint_count(
    tmp_path: Path, joints: int, expected: Skeleton
) -> None:
    np.save(tmp_path / "kp.npy", np.stack([_person(expected, 0), _person(expected, 1)]))
    kp = read_keypoints(tmp_path / "kp.npy")
    assert kp.skeleton is expected and kp.keypoints.shape == (2, joints, 3)
    assert f"npy ({expected.name}) (auto-detected: .npy file)" in kp.source


def test_npy_17_joints_needs_the_skeleton(tmp_path: Path) -> None:
    np.save(tmp_path / "kp.npy", _person(COCO_17, 0)[None])
    message = r"kp\.npy: 17 joints could be any of h36m17, .*coco17; pass --skeleton"
    with pytest.raises(KeypointFormatError, match=message):
        read_keypoints(tmp_path / "kp.npy")
    assert read_keypoints(tmp_path / "kp.npy", skeleton_name="coco").skeleton is COCO_17
    assert read_keypoints(tmp_path / "kp.npy", skeleton_name="h36m17").skeleton is H36M_17


def test_npy_two_channels_and_nan_with_zero_confidence(tmp_path: Path) -> None:
    xy = _person(COCO_17, 0)[None, :, :2]
    np.save(tmp_path / "xy.npy", xy)
    kp = read_keypoints(tmp_path / "xy.npy", skeleton_name="coco")
    np.testing.assert_allclose(kp.keypoints[..., 2], 1.0)
    array = _person(COCO_17, 0)[None]
    array[0, 3] = [np.nan, np.nan, 0.0]
    np.save(tmp_path / "nan.npy", array)
    kp = read_keypoints(tmp_path / "nan.npy", skeleton_name="coco")
    np.testing.assert_array_equal(kp.keypoints[0, 3], 0.0)
    assert np.isfinite(kp.keypoints).all()


def test_npz_carries_its_metadata(tmp_path: Path) -> None:
    frames = np.stack([_person(COCO_17, 0), _person(COCO_17, 1)])
    np.savez(tmp_path / "kp.npz", keypoints=frames, skeleton="coco17", valid=[True, False],
             image_size=[640, 480], fps=50.0)  # fmt: skip
    kp = read_keypoints(tmp_path / "kp.npz")
    assert kp.skeleton is COCO_17 and kp.valid.tolist() == [True, False]
    assert kp.image_size == (640, 480) and kp.fps == 50.0
    override = read_keypoints(tmp_path / "kp.npz", "npz", image_size=(1280, 960), fps=30)
    assert override.image_size == (1280, 960) and override.fps == 30.0


# ---------------------------------------------------------------------------------- bad input


def _bad(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


def test_invalid_json_is_named(tmp_path: Path) -> None:
    path = _bad(tmp_path, "broken.json", "[{")
    with pytest.raises(KeypointFormatError, match=r"broken\.json: invalid JSON"):
        read_keypoints(path)
    with pytest.raises(KeypointFormatError, match=r"broken\.json: invalid JSON"):
        read_keypoints(path, "coco")


def test_json_of_another_kind(tmp_path: Path) -> None:
    path = _write_json(tmp_path / "other.json", {"hello": 1})
    with pytest.raises(KeypointFormatError, match=r"other\.json: JSON is neither .*--format"):
        read_keypoints(path)
    with pytest.raises(KeypointFormatError, match=r"other\.json: not a coco results list"):
        read_keypoints(path, "coco")
    with pytest.raises(KeypointFormatError, match="entry 0 is not a coco result"):
        read_keypoints(_write_json(tmp_path / "x.json", [{"id": 1}]), "coco")


def test_wrong_keypoint_counts(tmp_path: Path) -> None:
    halpe = _write_json(tmp_path / "h.json", [_result(1, _person(HALPE_26, 0), 1.0)])
    with pytest.raises(KeypointFormatError, match=r"h\.json: entry 0: expected 51 .*coco17.*78"):
        read_keypoints(halpe, "coco")
    odd = _write_json(tmp_path / "o.json", [{"image_id": 1, "keypoints": [0.0] * 408}])
    with pytest.raises(KeypointFormatError, match="408-value keypoints; expected 51"):
        read_keypoints(odd)
    np.save(tmp_path / "k.npy", np.zeros((2, 18, 3)))
    with pytest.raises(KeypointFormatError, match=r"k\.npy: 18 joints match no skeleton"):
        read_keypoints(tmp_path / "k.npy")
    with pytest.raises(KeypointFormatError, match="18 joints, but coco17 has 17"):
        read_keypoints(tmp_path / "k.npy", skeleton_name="coco")
    folder = tmp_path / "op"
    folder.mkdir()
    _write_json(folder / "a_keypoints.json", {"people": [{"pose_keypoints_2d": [1.0] * 54}]})
    with pytest.raises(KeypointFormatError, match=r"a_keypoints\.json: person 0 .*expected 75"):
        read_keypoints(folder)


def test_empty_inputs(tmp_path: Path) -> None:
    with pytest.raises(KeypointFormatError, match=r"e\.json: empty JSON list, no frames"):
        read_keypoints(_write_json(tmp_path / "e.json", []))
    with pytest.raises(KeypointFormatError, match="empty results list"):
        read_keypoints(tmp_path / "e.json", "halpe")
    np.save(tmp_path / "e.npy", np.zeros((0, 17, 3)))
    with pytest.raises(KeypointFormatError, match=r"e\.npy: no frames"):
        read_keypoints(tmp_path / "e.npy", skeleton_name="coco")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeypointFormatError, match="no OpenPose"):
        read_keypoints(tmp_path / "empty")
    with pytest.raises(KeypointFormatError, match=r"nothing\.json: no such file"):
        read_keypoints(tmp_path / "nothing.json")


def test_nan_coordinates_with_confidence_are_refused(tmp_path: Path) -> None:
    array = _person(COCO_17, 0)[None].repeat(2, axis=0)
    array[1, 5, 0] = np.nan
    np.save(tmp_path / "nan.npy", array)
    with pytest.raises(KeypointFormatError, match=r"nan\.npy: array: 1 keypoint\(s\) with NaN"
                                                  r".*index \(1, 5\)"):  # fmt: skip
        read_keypoints(tmp_path / "nan.npy", skeleton_name="coco")
    np.save(tmp_path / "nan2.npy", array[..., :2])
    with pytest.raises(KeypointFormatError, match=r"NaN/inf coordinates in an \(F, J, 2\)"):
        read_keypoints(tmp_path / "nan2.npy", skeleton_name="coco")


def test_unreadable_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(KeypointFormatError, match=r"x\.npy: cannot read the numpy file"):
        read_keypoints(_bad(tmp_path, "x.npy", "not numpy"), skeleton_name="coco")
    with pytest.raises(KeypointFormatError, match=r"x\.txt: cannot detect .*--format"):
        read_keypoints(_bad(tmp_path, "x.txt", "1 2 3"))
    with pytest.raises(KeypointFormatError, match="unknown format 'csv'"):
        read_keypoints(tmp_path / "x.txt", "csv")
    np.savez(tmp_path / "two.npz", a=np.zeros(1), b=np.zeros(1))
    with pytest.raises(KeypointFormatError, match=r"two\.npz: no 'keypoints' array"):
        read_keypoints(tmp_path / "two.npz")
    results = _write_json(tmp_path / "r.json", [_result(1, _person(COCO_17, 0), 1.0)])
    with pytest.raises(KeypointFormatError, match="coco keypoints are coco17, not .* halpe26"):
        read_keypoints(results, "coco", skeleton_name="halpe")
    with pytest.raises(ValueError, match="unknown skeleton 'smpl'"):
        read_keypoints(results, skeleton_name="smpl")


def _blazepose(**meta: object) -> dict:
    return {"frames": [_person(BLAZEPOSE_33, 0).tolist()], **meta}


_MALFORMED_FIELDS = {  # file name, content → what the one-line error says
    "text score": ("s.json", [_result(1, _person(COCO_17, 0), "high")],
                   r"s\.json: entry 0: score must be a finite number, got 'high'"),
    "list score": ("s.json", [_result(1, _person(COCO_17, 0), [1])], "score must be a finite"),
    "NaN score": ("s.json", [_result(1, _person(COCO_17, 0), float("nan"))],
                  "score must be a finite number, got nan"),
    "one-number image size": ("b.json", _blazepose(image_size=640),
                              r"b\.json: image size must be \[width, height\], got 640"),
    "infinite image size": ("b.json", _blazepose(image_size=[float("inf"), 480]),
                            "image size must be finite and below a million pixels"),
    "boolean image size": ("b.json", _blazepose(image_size=[True, 480]),
                           "image size must be \\[width, height\\]"),
    "nested too deeply": ("d.json", None, r"d\.json: invalid JSON \(nested too deeply\)"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(_MALFORMED_FIELDS))
def test_malformed_fields_are_one_line_errors_naming_the_file(case: str, tmp_path: Path) -> None:
    name, content, message = _MALFORMED_FIELDS[case]
    path = tmp_path / name
    if content is None:
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:
        _write_json(path, content)
    with pytest.raises(KeypointFormatError, match=message):
        read_keypoints(path)


def test_json_with_a_byte_order_mark_and_numpy_metadata_checks(tmp_path: Path) -> None:
    """Windows tools write UTF-8 with a byte-order mark; .npz metadata of the wrong kind is
    named, not a numpy traceback."""
    results = [_result(2, _person(COCO_17, 1), 0.8), _result(1, _person(COCO_17, 0), 0.9)]
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(results).encode("utf-8"))
    kp = read_keypoints(path, image_size=(640, 480))
    assert kp.num_frames == 2 and kp.frame_ids == ("1", "2")
    # Image ids 1 and 1.0 are one frame (some tools write every number as a float).
    floats = [_result(1.0, _person(COCO_17, 0), 0.5), _result(1, _person(COCO_17, 1), 0.9)]
    kp = read_keypoints(_write_json(tmp_path / "f.json", floats), image_size=(640, 480))
    assert kp.num_frames == 1 and kp.frame_ids == ("1",)
    np.testing.assert_array_equal(kp.keypoints[0], _person(COCO_17, 1))  # the better score
    keypoints = np.stack([_person(COCO_17, 0), _person(COCO_17, 1)])
    for meta, message in (
        ({"fps": np.array([25.0, 30.0])}, r"fps must be one number, got \[25\.0, 30\.0\]"),
        ({"fps": np.array("fast")}, "fps must be one number, got 'fast'"),
        ({"image_size": np.array(640)}, r"image size must be \[width, height\], got \(640,\)"),
        ({"skeleton": np.array("smpl")}, r"k\.npz: unknown skeleton 'smpl'"),
    ):
        meta = {"skeleton": np.array("coco"), **meta}
        np.savez(tmp_path / "k.npz", keypoints=keypoints, **meta)
        with pytest.raises(KeypointFormatError, match=message):
            read_keypoints(tmp_path / "k.npz")


def test_image_size_errors(tmp_path: Path) -> None:
    results = _write_json(tmp_path / "r.json", [_result(1, _person(COCO_17, 0), 1.0)])
    with pytest.raises(KeypointFormatError, match=r"r\.json: image size must be positive, got -1"):
        read_keypoints(results, image_size=(-1, 480))
    data = {"image_size": [640, 0], "frames": [_person(BLAZEPOSE_33, 0).tolist()]}
    with pytest.raises(KeypointFormatError, match=r"b\.json: image size must be positive"):
        read_keypoints(_write_json(tmp_path / "b.json", data))
    with pytest.raises(KeypointFormatError, match=r"r\.json: \d+% of the confident keypoints lie "
                                                  r"far outside a 64x48 image"):  # fmt: skip
        read_keypoints(results, image_size=(64, 48))
    assert read_keypoints(results, image_size=(640, 480)).image_size == (640, 480)
    with pytest.raises(KeypointFormatError, match="normalized coordinates need an image_size"):
        read_keypoints(_write_json(tmp_path / "n.json", {"coordinates": "normalized",
                                                         "frames": [None]}))  # fmt: skip


def test_check_image_size_tolerates_a_few_outliers() -> None:
    frames = np.stack([_person(COCO_17, s) for s in range(10)])  # 170 keypoints
    frames[0, :7, 0] = 5000.0  # 7 of the 153 confident keypoints (4.6 %) outside
    frames[1, :, 2] = 0.0  # unconfident far points do not count
    frames[1, :, 0] = -9000.0
    kp = Keypoints2D(frames, COCO_17, np.ones(10, bool), None, None, "test")
    check_image_size(kp, (640, 480))
    frames[0, 7:9, 0] = 5000.0  # 9 / 153 = 5.9 %
    with pytest.raises(ValueError, match="6% of the confident keypoints"):
        check_image_size(Keypoints2D(frames, COCO_17, np.ones(10, bool), None, None, "t"),
                         (640, 480))  # fmt: skip


def test_keypoints2d_validates_its_fields() -> None:
    with pytest.raises(ValueError, match=r"keypoints must be \(F, 17, 3\) for coco17"):
        Keypoints2D(np.zeros((2, 17, 2)), COCO_17, np.ones(2, bool), None, None, "t")
    with pytest.raises(ValueError, match=r"valid must be \(2,\)"):
        Keypoints2D(np.zeros((2, 17, 3)), COCO_17, np.ones(3, bool), None, None, "t")
    for fps in (0.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="fps must be positive and finite"):
            Keypoints2D(np.zeros((2, 17, 3)), COCO_17, np.ones(2, bool), None, fps, "t")
    assert Keypoints2D(np.zeros((2, 17, 3)), COCO_17, np.ones(2, bool), None, 25, "t").fps == 25.0
    assert resolve_skeleton("OpenPose-Body25") is OPENPOSE_BODY_25


# ------------------------------------------------------------------------ to_h36m, fill_missing


def test_to_h36m_uses_the_skeleton_mappings(tmp_path: Path) -> None:
    folder, _, _ = _openpose_folder(tmp_path)
    kp = read_keypoints(folder)
    h36m = to_h36m(kp)
    assert h36m.skeleton is H36M_17 and h36m.keypoints.shape == (3, 17, 3)
    np.testing.assert_allclose(
        h36m.keypoints, convert_keypoints(kp.keypoints, OPENPOSE_BODY_25_TO_H36M)
    )
    np.testing.assert_array_equal(h36m.valid, kp.valid)
    coco = Keypoints2D(_person(COCO_17, 0)[None], COCO_17, np.ones(1, bool), (640, 480), 30, "t")
    np.testing.assert_allclose(
        to_h36m(coco).keypoints, convert_keypoints(coco.keypoints, COCO_TO_H36M)
    )


def test_fill_missing_interpolates_linearly_with_nearest_ends() -> None:
    frames = np.zeros((6, 17, 3))
    frames[..., 0] = np.arange(6)[:, None] * 10.0  # x = 10 t for every joint
    frames[..., 1] = 100.0
    frames[..., 2] = 0.8
    frames[0, 4] = [999.0, 999.0, 0.0]  # missing at the start → nearest (frame 1)
    frames[2, 4, 2] = 0.0  # missing in the middle
    frames[3, 4, :2] = np.nan  # NaN coordinates: missing too
    frames[3, 4, 2] = np.nan
    frames[5, 7, 2] = 0.0  # missing at the end
    valid = np.array([True, True, True, True, False, True])  # frame 4: no person
    frames[4] = 0.0
    kp = fill_missing(Keypoints2D(frames, H36M_17, valid, None, None, "test"))
    out = kp.keypoints
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(kp.valid, valid)
    np.testing.assert_allclose(out[:, 4, 0], [10.0, 10.0, 20.0, 30.0, 40.0, 50.0])
    np.testing.assert_allclose(out[:, 7, 0], [0.0, 10.0, 20.0, 30.0, 30.0, 30.0])
    others = [j for j in range(17) if j != 7]
    np.testing.assert_allclose(out[4, others, 0], 40.0)  # whole invalid frame interpolated
    np.testing.assert_allclose(out[..., 1], 100.0)
    filled = np.zeros((6, 17), bool)
    filled[[0, 2, 3], 4] = filled[5, 7] = True
    filled[4] = True
    np.testing.assert_array_equal(out[..., 2] == 0, filled)
    np.testing.assert_allclose(out[~filled][:, 2], 0.8)


def test_fill_missing_errors_name_the_joint() -> None:
    frames = np.full((3, 17, 3), 0.5)
    frames[:, H36M_17.index("left_wrist"), 2] = 0.0  # a limb joint has no stand-in
    with pytest.raises(ValueError, match="src: joint\\(s\\) left_wrist never detected"):
        fill_missing(Keypoints2D(frames, H36M_17, np.ones(3, bool), None, None, "src"))
    with pytest.raises(ValueError, match="no frame with a detected person"):
        fill_missing(Keypoints2D(frames, H36M_17, np.zeros(3, bool), None, None, "src"))


def test_fill_missing_uses_the_stand_in_for_a_torso_joint_never_detected() -> None:
    # A Stacked-Hourglass-like input: the neck (9) has confidence 0 in every frame.
    rng = np.random.default_rng(0)
    frames = np.concatenate([rng.uniform(0, 500, (4, 17, 2)), np.full((4, 17, 1), 0.9)], -1)
    neck, thorax, head = (H36M_17.index(n) for n in ("neck", "thorax", "head"))
    frames[:, neck, 2] = 0.0
    out = fill_missing(Keypoints2D(frames, H36M_17, np.ones(4, bool), None, None, "sh")).keypoints
    np.testing.assert_allclose(out[:, neck, :2], (frames[:, thorax, :2] + frames[:, head, :2]) / 2)
    np.testing.assert_array_equal(out[:, neck, 2], 0.0)
    np.testing.assert_array_equal(np.delete(out, neck, 1), np.delete(frames, neck, 1))


def test_natural_order_of_frame_names() -> None:
    from ssrstf.keypoints.parsing import natural_key

    names = ["f10.json", "f2.json", "f1²", "f1.json", "v_9", "v_10"]
    assert sorted(names, key=natural_key) == [
        "f1.json", "f1²", "f2.json", "f10.json", "v_9", "v_10"
    ]  # fmt: skip
