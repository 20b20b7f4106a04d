"""The trajectory, floor, world frame, rigid skeleton and motion figures in the pipeline and its
output files: npz/JSON contents, BVH root translation in the world and camera frames (read back
by the independent BVH reader), the rendering's path, and the CLI options."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from stand_in_lifters import TruthLifter

from ssrstf.cli import main
from ssrstf.geometry import to_root_relative
from ssrstf.keypoints.sample import FOCAL_PX, make_sample
from ssrstf.outputs.bvh import CAMERA_TO_BVH, read_bvh
from ssrstf.outputs.folder import write_outputs
from ssrstf.pipeline.run import lift_keypoints
from ssrstf.scene.rigid import bone_length_variation, make_rigid, mean_acceleration
from ssrstf.scene.trajectory import DEFAULT_FOV_DEG
from ssrstf.skeleton import H36M_17

NAMES = H36M_17.joint_names
HAS_VIZ = all(importlib.util.find_spec(m) for m in ("matplotlib", "imageio_ffmpeg", "PIL"))


@pytest.fixture(scope="module")
def sample():
    return make_sample(seconds=2.0)


@pytest.fixture(scope="module")
def result(sample):
    lifter = TruthLifter(to_root_relative(sample.poses_3d))
    return lift_keypoints(sample.keypoints, lifter, focal_length=FOCAL_PX)


def test_pipeline_recovers_the_sample_path_with_its_camera(result, sample) -> None:
    """With the true relative poses and the true camera, the root path is the true one."""
    error = np.linalg.norm(result.trajectory - sample.poses_3d[:, 0], axis=-1)
    # mm, at 4.5 m: what remains is the smoothness prior flattening the sample's vertical bob
    # (15 mm at 2 Hz); without the prior the path is exact.
    assert error.max() < 8.0 and error.mean() < 4.0
    assert result.intrinsics.fx == FOCAL_PX and result.intrinsics.cx == 500.0
    absolute = result.poses_3d + result.trajectory[:, None]
    assert np.abs(absolute - sample.poses_3d).max() < 8.0
    # The sample's camera is level: the floor's normal is the camera's up (−y), within the
    # fore-and-aft tilt the sample's sliding feet allow.
    assert np.degrees(np.arccos(-result.floor.normal[1])) < 5.0
    assert result.foot_contacts.shape == (len(sample.poses_3d), 2)
    world = result.poses_world()
    assert np.allclose(world[0, 0, [0, 2]], 0.0, atol=1e-6)  # starts above the origin
    feet = world[:, [3, 6]][result.foot_contacts][:, 1]
    assert 0 < np.median(feet) < 150  # ankles on contacts stand just above the floor (Y = 0)
    assert result.statistics.bone_length_cv.max() < 1e-9  # the truth is rigid


def test_default_camera_is_the_documented_field_of_view(sample) -> None:
    lifter = TruthLifter(to_root_relative(sample.poses_3d))
    default = lift_keypoints(sample.keypoints, lifter)
    focal = 500.0 / np.tan(np.radians(DEFAULT_FOV_DEG) / 2)
    assert default.intrinsics.fx == pytest.approx(focal)
    # A shorter focal length than the truth puts the person nearer, by about the same factor.
    ratio = np.median(default.trajectory[:, 2] / sample.poses_3d[:, 0, 2])
    assert ratio == pytest.approx(focal / FOCAL_PX, rel=0.02)
    with pytest.raises(ValueError, match="not both"):
        lift_keypoints(sample.keypoints, lifter, focal_length=900.0, fov=50.0)


def test_outputs_hold_trajectory_contacts_world_and_figures(result, tmp_path: Path) -> None:
    paths = write_outputs(result, tmp_path)
    frames = result.num_frames
    with np.load(paths["npz"], allow_pickle=False) as data:
        assert np.allclose(data["trajectory"], result.trajectory)
        assert data["foot_contact"].shape == (frames, 2) and data["foot_contact"].dtype == bool
        assert list(data["foot_contact_joints"]) == ["right_ankle", "left_ankle"]
        assert np.allclose(data["world_from_camera"], result.world.matrix)
        assert np.allclose(data["poses_world"], result.poses_world())
        assert np.allclose(data["intrinsics"], [FOCAL_PX, FOCAL_PX, 500.0, 500.0])
        cv = bone_length_variation(result.poses_3d)
        np.testing.assert_allclose(data["bone_length_cv"], cv, rtol=1e-6)
        accel = mean_acceleration(result.poses_3d)
        assert float(data["mean_acceleration_mm"]) == pytest.approx(accel, rel=1e-6)
        assert not data["rigid"]
    document = json.loads(paths["json"].read_text())
    assert document["frames"][7]["trajectory"] == result.trajectory[7].round(3).tolist()
    assert document["frames"][7]["foot_contact"] == result.foot_contacts[7].tolist()
    assert document["trajectory"]["units"] == "mm"
    assert document["trajectory"]["intrinsics"]["fx"] == FOCAL_PX
    assert np.allclose(document["world"]["world_from_camera"], result.world.matrix, atol=1e-6)
    assert document["statistics"]["median_bone_length_cv"] == pytest.approx(np.median(cv), 1e-3)


def test_bvh_moves_the_root_along_the_trajectory_in_the_world_frame(result, tmp_path) -> None:
    paths = write_outputs(result, tmp_path / "world")
    world = result.poses_world()
    read = read_bvh(paths["bvh"], joints=NAMES)  # (x, y, z) = (X, −Y, −Z) of the file's frame
    positions = read.positions_mm @ CAMERA_TO_BVH
    assert np.abs(positions - world).max() < 0.01  # the truth is rigid: exact up to rounding
    assert np.abs(positions[:, 0] - world[:, 0]).max() < 0.01  # root translation
    camera = write_outputs(result, tmp_path / "camera", frame="camera")
    read = read_bvh(camera["bvh"], joints=NAMES).positions_mm
    assert np.abs(read - (result.poses_3d + result.trajectory[:, None])).max() < 0.01
    with pytest.raises(ValueError, match="frame must be"):
        write_outputs(result, tmp_path / "bad", frame="up")


def test_animation_files_get_a_rigid_skeleton(sample, tmp_path: Path) -> None:
    lifter = TruthLifter(to_root_relative(sample.poses_3d), stretch=0.08)
    stretched = lift_keypoints(sample.keypoints, lifter, focal_length=FOCAL_PX)
    assert np.median(stretched.statistics.bone_length_cv) > 0.02
    paths = write_outputs(stretched, tmp_path / "default")
    positions = read_bvh(paths["bvh"], joints=NAMES).positions_mm @ CAMERA_TO_BVH
    expected = stretched.world.to_world(
        make_rigid(stretched.poses_3d) + stretched.trajectory[:, None]
    )
    assert np.abs(positions - expected).max() < 0.01
    assert bone_length_variation(positions).max() < 1e-6
    with np.load(paths["npz"]) as data:  # npz keeps the poses as lifted
        assert np.allclose(data["poses_3d"], stretched.poses_3d)
    rigid = lift_keypoints(sample.keypoints, lifter, focal_length=FOCAL_PX, rigid=True)
    assert rigid.rigid and rigid.statistics.bone_length_cv.max() < 1e-9


def test_cli_camera_frame_and_rigid_options(tmp_path: Path, capsys) -> None:
    keypoints = tmp_path / "keypoints.npy"
    np.save(keypoints, make_sample(seconds=1.0).keypoints.keypoints)
    base = ["infer", str(keypoints), "--skeleton", "h36m", "--image-size", "1000x1000"]
    base += ["--fps", "50", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "a"), "--fov", "50", "--rigid"]) == 0
    printed = capsys.readouterr().out
    assert "root path: starts" in printed and "floor: from the foot contacts" in printed
    assert "bone length variation: median 0.0%" in printed and "(poses rigid)" in printed
    with np.load(tmp_path / "a" / "poses_3d.npz") as data:
        assert data["rigid"] and data["intrinsics"][0] == pytest.approx(500 / np.tan(np.pi / 7.2))
    assert main([*base, "--out", str(tmp_path / "b"), "--frame", "camera", "--no-rigid"]) == 0
    assert "set --focal-length or --fov" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*base, "--out", str(tmp_path / "c"), "--fov", "50", "--focal-length", "900"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("module", "asked"),
    [
        ("matplotlib.figure", {"render": True}),
        ("imageio_ffmpeg", {"render": True}),
        ("PIL.Image", {"viewer_video": True, "frames_from": "walk.mp4"}),
    ],
)
def test_a_missing_extra_is_refused_before_any_file(
    module: str, asked: dict, result, tmp_path: Path, monkeypatch
) -> None:
    """Not a folder of files and then the error: nothing is written."""
    import sys

    from ssrstf.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, module, None)  # as if its extra were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'ssrstf\[(viz|video)\]'"):
        write_outputs(result, tmp_path / "out", **asked)
    assert not (tmp_path / "out").exists()


def test_a_mesh_rendering_without_its_extra_writes_nothing(
    result, tmp_path: Path, monkeypatch
) -> None:
    """The skeleton's files are written before the mesh's: the rendering's packages are checked
    before the first."""
    import sys

    from ssrstf.extras import MissingExtraError
    from ssrstf.pipeline.options import InferOptions
    from ssrstf.pipeline.run import PipelineRun

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    run = PipelineRun(InferOptions(render=True), result=result, mesh=object())  # type: ignore[arg-type]
    with pytest.raises(MissingExtraError, match=r"ssrstf\[viz\]"):
        run.write(tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not HAS_VIZ, reason="rendering needs the viz extra (matplotlib, Pillow)")
def test_render_draws_the_path(result) -> None:
    from ssrstf.outputs.drawing import PATH_COLOUR, PoseRenderer

    world = result.poses_world() @ CAMERA_TO_BVH
    path = result.world.to_world(result.trajectory) @ CAMERA_TO_BVH
    path = path + np.linspace(0, 1, len(path))[:, None] * [1500.0, 0.0, 0.0]  # a visible walk
    renderer = PoseRenderer(world, image_size=(1000, 1000), path=path, height=240)
    kp = result.keypoints.keypoints
    late = renderer.draw(world[-1], kp[-1], path_index=len(path) - 1)
    early = renderer.draw(world[0], kp[0], path_index=0)
    green = [
        np.all(np.abs(img.astype(int) - PATH_COLOUR) < 30, axis=-1).sum() for img in (early, late)
    ]
    assert green[0] == 0 and green[1] > 50  # the walked part appears as the clip goes on
    with pytest.raises(ValueError, match="path must be"):
        PoseRenderer(world, image_size=(1000, 1000), path=path[:, :2])
