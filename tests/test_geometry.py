"""Camera geometry and normalisations (`ssrstf.geometry`)."""

from __future__ import annotations

import numpy as np
import pytest

from ssrstf.geometry import (
    camera_to_world,
    denormalize_image_poses,
    denormalize_screen_coordinates,
    image_space_poses,
    normalize_image_poses,
    normalize_screen_coordinates,
    project_to_image,
    to_root_relative,
    world_to_camera,
)


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_screen_normalisation_golden_values() -> None:
    w, h = 1000, 1002
    xy = np.array([[0.0, 0.0], [500.0, 501.0], [1000.0, 1002.0]])
    out = normalize_screen_coordinates(xy, w, h)
    np.testing.assert_allclose(out, [[-1.0, -h / w], [0.0, 0.0], [1.0, h / w]])


def test_screen_normalisation_round_trip_with_per_frame_sizes(rng: np.random.Generator) -> None:
    xy = rng.uniform(0, 1000, size=(5, 17, 2))
    w = np.array([1000, 1000, 2048, 1920, 640])[:, None]
    h = np.array([1002, 1000, 2048, 1080, 480])[:, None]
    out = denormalize_screen_coordinates(normalize_screen_coordinates(xy, w, h), w, h)
    np.testing.assert_allclose(out, xy)


def test_image_pose_normalisation_scales_depth_by_two_over_width(rng: np.random.Generator) -> None:
    poses = rng.uniform(-500, 1000, size=(4, 17, 3))
    w, h = np.array([1000, 1000, 2048, 640]), np.array([1002, 1000, 2048, 480])
    out = normalize_image_poses(poses, w, h)
    np.testing.assert_allclose(out[..., 2], poses[..., 2] * 2 / w[:, None])
    np.testing.assert_allclose(
        out[..., :2], normalize_screen_coordinates(poses[..., :2], w[:, None], h[:, None])
    )
    np.testing.assert_allclose(denormalize_image_poses(out, w, h), poses)


def test_world_camera_round_trip_and_centre_maps_to_origin(rng: np.random.Generator) -> None:
    rotation, center = _rotation(rng), rng.normal(size=3) * 1000
    points = rng.normal(size=(10, 17, 3)) * 1000
    cam = world_to_camera(points, rotation, center)
    np.testing.assert_allclose(camera_to_world(cam, rotation, center), points, atol=1e-9)
    np.testing.assert_allclose(world_to_camera(center, rotation, center), 0.0, atol=1e-12)
    # Rigid: distances are kept.
    np.testing.assert_allclose(
        np.linalg.norm(cam[:, 1] - cam[:, 0], axis=-1),
        np.linalg.norm(points[:, 1] - points[:, 0], axis=-1),
    )


def test_point_on_the_optical_axis_projects_to_the_principal_point() -> None:
    c = np.array([512.5, 515.4])
    out = project_to_image(
        np.array([0.0, 0.0, 4321.0]), [1145.0, 1143.8], c, [-0.2, 0.24, -0.003], [-0.001, 0.002]
    )
    np.testing.assert_allclose(out, c)


def test_distortion_model_matches_the_written_out_formula() -> None:
    point = np.array([300.0, -150.0, 3000.0])
    f, c = np.array([1100.0, 1150.0]), np.array([500.0, 490.0])
    k, p = np.array([-0.2, 0.25, -0.003]), np.array([-0.0014, -0.00098])
    x, y = point[0] / point[2], point[1] / point[2]
    r2 = x * x + y * y
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p[0] * y + p[1] * x  # Martinez et al.'s ordering of p
    expected = [
        f[0] * (x * (radial + tan) + p[1] * r2) + c[0],
        f[1] * (y * (radial + tan) + p[0] * r2) + c[1],
    ]
    np.testing.assert_allclose(project_to_image(point, f, c, k, p), expected, rtol=1e-12)
    # Without distortion it is the pinhole model.
    np.testing.assert_allclose(project_to_image(point, f, c), f * point[:2] / point[2] + c)


def test_image_space_pose_of_a_fronto_parallel_pose_is_exact(rng: np.random.Generator) -> None:
    # All joints at the root's depth: λ · (u, v) differences equal the metric differences.
    f = np.array([1000.0, 1000.0])
    points = np.concatenate([rng.normal(size=(3, 17, 2)) * 300, np.full((3, 17, 1), 5000.0)], -1)
    pixels = project_to_image(points, f, [500.0, 500.0])
    image, scale = image_space_poses(points, pixels, f)
    np.testing.assert_allclose(scale, 5.0)
    np.testing.assert_allclose(
        to_root_relative(image * scale[:, None, None]), to_root_relative(points)
    )


def test_image_space_depth_is_root_relative_in_pixels(rng: np.random.Generator) -> None:
    f = np.array([1100.0, 1140.0])
    points = rng.normal(size=(6, 17, 3)) * 200 + [0, 0, 4000]
    image, scale = image_space_poses(points, np.zeros((6, 17, 2)), f)
    np.testing.assert_allclose(scale, points[:, 0, 2] / f.mean())
    np.testing.assert_allclose(image[..., 2] * scale[:, None], points[..., 2] - points[:, :1, 2])
    assert np.all(image[:, 0, 2] == 0)


@pytest.mark.parametrize("root", [0, 3])
def test_root_relative_zeroes_the_root(rng: np.random.Generator, root: int) -> None:
    poses = rng.normal(size=(2, 5, 17, 3))
    out = to_root_relative(poses, root)
    assert np.all(out[..., root, :] == 0)
    np.testing.assert_allclose(out[..., 1, :] - out[..., 2, :], poses[..., 1, :] - poses[..., 2, :])
