"""Floor, foot contacts and the world frame: a known floor plane recovered from a synthetic walk
seen by a tilted camera, the body-up prior for a person standing still, and round trips."""

from __future__ import annotations

import numpy as np
import pytest

from ssrstf.scene.world import (
    ANKLE_HEIGHT_MM,
    CONTACT_HEIGHT_MM,
    PRIOR_MM,
    Floor,
    _fit_normal,
    estimate_floor,
    ground,
    point_speed,
    world_frame,
)
from ssrstf.skeleton import H36M_17

FPS = 50.0
STEP_FRAMES = 25  # each foot: 25 frames planted, then 25 frames swinging


def _rotation(axis: str, degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    out = np.eye(3)
    out[i, i], out[j, j], out[i, j], out[j, i] = c, c, -s, s
    return out


def _walker(frames: int = 200, speed_mm_s: float = 1000.0, still: bool = False):
    """A toy walk in a Y-up world (floor y = 0) along +x: the pelvis moves at constant speed,
    each ankle alternates between planted at `ANKLE_HEIGHT_MM` and a raised swing.

    Returns (F, 17, 3) world poses and (F, 2) true contacts (right, left).
    """
    t = np.arange(frames) / FPS
    weave = 0.0 if still else 300.0  # a gently curved path
    pelvis = np.stack([speed_mm_s * t, 950 + 0 * t, weave * np.sin(0.5 * t)], axis=-1)
    poses = np.zeros((frames, 17, 3))
    offsets = {  # rest offsets from the pelvis, world axes (x forward, y up, z left)
        "right_hip": (0, -20, -120), "right_knee": (0, -450, -120),
        "left_hip": (0, -20, 120), "left_knee": (0, -450, 120),
        "spine": (0, 230, 0), "thorax": (0, 480, 0), "neck": (30, 590, 0), "head": (0, 700, 0),
        "left_shoulder": (0, 470, 160), "left_elbow": (0, 200, 190), "left_wrist": (0, -50, 200),
        "right_shoulder": (0, 470, -160), "right_elbow": (0, 200, -190),
        "right_wrist": (0, -50, -200),
    }  # fmt: skip
    for name, offset in offsets.items():
        poses[:, H36M_17.index(name)] = pelvis + offset
    poses[:, 0] = pelvis
    contacts = np.zeros((frames, 2), dtype=bool)
    stride = 2 * STEP_FRAMES
    for column, (name, phase) in enumerate((("right_ankle", 0), ("left_ankle", STEP_FRAMES))):
        side = -120.0 if name.startswith("right") else 120.0
        ankle = np.zeros((frames, 3))
        for f in range(frames):
            cycle, within = divmod(f + phase, stride)
            if still or within < STEP_FRAMES:  # planted where the stance began
                start = f - within if not still else 0
                ahead = 0.0 if still else 250.0  # a step lands ahead of the pelvis
                planted = pelvis[max(start, 0)]  # where the pelvis was when the step began
                ankle[f] = [planted[0] + ahead, ANKLE_HEIGHT_MM, planted[2] + side]
                contacts[f, column] = True
            else:  # swing: forward by one stride, lifted by up to 150 mm
                s = (within - STEP_FRAMES) / STEP_FRAMES
                begin = pelvis[max(f - within, 0), 0] + 250.0
                end = begin + speed_mm_s * stride / FPS
                ankle[f] = [
                    begin + s * (end - begin),
                    ANKLE_HEIGHT_MM + 150 * np.sin(np.pi * s),
                    pelvis[f, 2] + side,
                ]
        poses[:, H36M_17.index(name)] = ankle
    return poses, contacts


def _camera(world: np.ndarray, tilt: float = 18.0, roll: float = 6.0, yaw: float = 30.0):
    """World points seen by a camera 2.5 m high, pitched down by ``tilt`` and rolled.

    Returns camera-space points (x right, y down, z forward) and the true floor (normal in
    camera axes, height ``normal · p`` of the floor).
    """
    # World (x forward, y up, z left) to a level camera (y down) turned by ``yaw``; then tilted.
    level = np.array([[-1.0, 0, 0], [0, -1.0, 0], [0, 0, 1.0]]) @ _rotation("y", yaw)
    rotation = _rotation("z", roll) @ _rotation("x", -tilt) @ level
    centre = np.array([1500.0, 2500.0, -5000.0])
    cam = (world - centre) @ rotation.T
    normal = rotation @ np.array([0.0, 1.0, 0.0])
    return cam, normal, -centre[1]  # normal · R (p − C) = (p − C)_y = −C_y on the floor


def test_known_floor_plane_is_recovered_from_a_walk() -> None:
    world, true_contacts = _walker()
    cam, normal, height = _camera(world)
    floor = estimate_floor(cam, FPS)
    angle = np.degrees(np.arccos(np.clip(floor.normal @ normal, -1, 1)))
    assert angle < 0.5
    # The first frames of a swing are still low and slow, so contacts sit a little high.
    assert floor.height == pytest.approx(height, abs=25.0)
    agreement = (floor.contacts == true_contacts).mean()
    assert agreement > 0.8  # frames within the speed window of a stance's ends may differ
    assert (floor.contacts & ~true_contacts).sum() <= 0.05 * true_contacts.sum()


def test_world_frame_is_upright_on_the_floor_and_faces_the_camera() -> None:
    world, true_contacts = _walker()
    cam, normal, _ = _camera(world)
    floor, frame = ground(cam, FPS)
    rotation = frame.rotation
    assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.linalg.det(
        rotation
    ) == pytest.approx(1)
    assert frame.up @ normal == pytest.approx(1.0, abs=1e-5)
    placed = frame.to_world(cam)
    feet = [H36M_17.index("right_ankle"), H36M_17.index("left_ankle")]
    assert np.allclose(placed[:, feet][true_contacts][:, 1], ANKLE_HEIGHT_MM, atol=1.0)
    assert np.allclose(placed[0, 0, [0, 2]], 0.0, atol=1e-6)  # starts above the origin
    assert placed[0, 0, 1] == pytest.approx(950.0, abs=1.0)  # pelvis height over the floor
    # −Z is the camera's viewing direction made horizontal: +z of the camera maps to −Z, 0 X.
    forward = frame.directions_to_world(np.array([0.0, 0.0, 1.0]))
    assert forward[0] == pytest.approx(0.0, abs=1e-9) and forward[2] < 0
    assert np.allclose(frame.to_camera(placed), cam)  # round trip
    homogeneous = np.concatenate([cam[0], np.ones((17, 1))], axis=1) @ frame.matrix.T
    assert np.allclose(homogeneous[:, :3], placed[0])


def test_level_camera_gives_the_bvh_axes() -> None:
    floor = Floor(normal=np.array([0.0, -1.0, 0.0]), height=-1600.0, contacts=np.zeros((1, 2)))
    frame = world_frame(floor, np.array([100.0, 700.0, 4000.0]))
    assert np.allclose(frame.rotation, np.diag([1.0, -1.0, -1.0]))
    assert np.allclose(frame.origin, [100.0, 1600.0, 4000.0])  # under the root, on the floor


def test_standing_still_on_a_tilted_camera() -> None:
    """Two planted feet and an upright body: the floor from the feet and the body-up prior."""
    world, _ = _walker(frames=60, speed_mm_s=0.0, still=True)
    cam, normal, height = _camera(world, tilt=25.0, roll=-8.0)
    floor = estimate_floor(cam, FPS)
    assert floor.contacts.all()
    assert np.degrees(np.arccos(np.clip(floor.normal @ normal, -1, 1))) < 0.5
    assert floor.height == pytest.approx(height, abs=5.0)


@pytest.mark.parametrize("axis", ["across", "along"])
def test_two_contact_spots_fix_only_the_tilt_across_them(axis: str) -> None:
    """Contacts in two spots (feet apart along x, floor normal y): a prior tilted towards x is
    pulled back by the exact minimiser of s²(n·x)² + μ(1 − (n·u₀)²); a prior tilted along the
    line through the spots (towards z) is kept as it is."""
    spread = 120.0
    points = np.array([[-spread, 0.0, 0.0], [spread, 0.0, 0.0]]).repeat(20, axis=0)
    tilt = np.radians(6.0)
    if axis == "across":
        prior = np.array([np.sin(tilt), np.cos(tilt), 0.0])
    else:
        prior = np.array([0.0, np.cos(tilt), np.sin(tilt)])
    normal = _fit_normal(points, prior)
    if axis == "along":
        assert np.allclose(normal, prior)
        return
    mu = PRIOR_MM**2
    angles = np.linspace(0.0, tilt, 200001)  # the tilt that minimises the cost, by brute force
    cost = spread**2 * np.sin(angles) ** 2 + mu * np.sin(angles - tilt) ** 2
    expected = angles[np.argmin(cost)]
    assert np.arctan2(normal[0], normal[1]) == pytest.approx(expected, abs=1e-4)
    assert 0 < expected < tilt and normal[2] == pytest.approx(0.0, abs=1e-12)


def test_contacts_need_low_and_slow() -> None:
    world, _ = _walker()
    cam, _, _ = _camera(world)
    floor = estimate_floor(cam, FPS)
    feet = cam[:, [H36M_17.index("right_ankle"), H36M_17.index("left_ankle")]]
    heights = floor.heights(feet) - ANKLE_HEIGHT_MM
    speeds = point_speed(feet, FPS)
    assert (heights[floor.contacts] <= CONTACT_HEIGHT_MM + 1).all()
    assert speeds[floor.contacts].max() < 300.0
    assert (speeds[~floor.contacts] >= 300.0).any() and (heights[~floor.contacts] > 100).any()


def test_point_speed_of_a_constant_velocity() -> None:
    points = np.arange(10)[:, None, None] * np.array([3.0, 4.0, 0.0])  # 5 mm per frame
    assert np.allclose(point_speed(points, 50.0), 250.0)
    assert np.allclose(point_speed(points[:1], 50.0), 0.0)


def test_bad_poses_are_named() -> None:
    with pytest.raises(ValueError, match=r"poses must be \(F, 17, 3\)"):
        estimate_floor(np.zeros((5, 16, 3)))
    poses = np.zeros((5, 17, 3))
    poses[2, 3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        estimate_floor(poses)
