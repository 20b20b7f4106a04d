"""Camera geometry and coordinate normalisations (a leaf module: numpy only).

Conventions (written once here, used everywhere):

* **World → camera.** ``X_cam = R · (X_world − C)`` with ``R`` the world-to-camera rotation and
  ``C`` the camera centre in world coordinates (the layout of ``h36m_cameras.json``; mmpose's
  ``cameras.pkl`` stores ``Rᵀ`` and the same ``C``). Camera axes: x right, y down, z forward.
* **Projection** is the Human3.6M camera model of Martinez et al. (``cameras.h5``) and
  VideoPose3D ``project_to_2d``: pinhole plus 3 radial (k) and 2 tangential (p) distortion
  coefficients, in the Martinez order of ``p`` (VideoPose3D stores the two swapped).
* **Screen normalisation** (VideoPose3D ``normalize_screen_coordinates``): ``x / w * 2 − 1``,
  ``y / w * 2 − h / w``. Both axes are divided by the width, so the aspect ratio is kept and
  ``[0, w]`` maps to ``[−1, 1]``. In MotionBERT's 2.5D image space the depth channel is scaled by
  the same ``2 / w`` without an offset.
* **2.5D image space** (MotionBERT / LCN): a pose ``(u, v, d)`` in pixels, where ``(u, v)`` is the
  image projection and ``d`` the depth in pixel units. ``λ`` (mm per pixel, the ``2.5d_factor``)
  maps it back to millimetres. See `image_space_poses` for how λ is derived from a camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""The four Human3.6M cameras, in the order VideoPose3D lists them (its 2D npz files store one
array per camera in this order)."""

H36M_CAMERA_RESOLUTIONS: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}
"""(width, height) in pixels of each Human3.6M camera. Used only for sources that carry no camera
metadata (MotionBERT's pickle, whose reader hard-codes the same table); ``h36m_cameras.json``
carries ``res_w``/``res_h`` itself."""


@dataclass(frozen=True)
class Camera:
    """A calibrated camera (Human3.6M model).

    Attributes:
        rotation: World-to-camera rotation ``R``, (3, 3).
        center: Camera centre in world coordinates, (3,), in the unit of the world points.
        focal: Focal lengths (fx, fy) in pixels, (2,).
        principal_point: (cx, cy) in pixels, (2,).
        radial: Radial distortion (k1, k2, k3), (3,).
        tangential: Tangential distortion (p1, p2) in Martinez's order, (2,).
        width: Image width in pixels.
        height: Image height in pixels.
    """

    rotation: np.ndarray
    center: np.ndarray
    focal: np.ndarray
    principal_point: np.ndarray
    radial: np.ndarray
    tangential: np.ndarray
    width: int
    height: int

    @property
    def intrinsics(self) -> np.ndarray:
        """(9,) float64 vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` (pixels)."""
        return np.concatenate(
            [self.focal, self.principal_point, self.radial, self.tangential]
        ).astype(np.float64)


def world_to_camera(points: np.ndarray, rotation: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Transform world points into the camera frame: ``R · (X − C)``.

    Args:
        points: World points, (..., 3).
        rotation: World-to-camera rotation, (3, 3).
        center: Camera centre in world coordinates, (3,), same unit as ``points``.

    Returns:
        Camera-frame points, (..., 3), float64, same unit.
    """
    x = np.asarray(points, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    return x @ np.asarray(rotation, dtype=np.float64).T


def camera_to_world(points: np.ndarray, rotation: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Inverse of `world_to_camera`: ``Rᵀ · X + C``.

    Args:
        points: Camera-frame points, (..., 3).
        rotation: World-to-camera rotation, (3, 3).
        center: Camera centre in world coordinates, (3,).

    Returns:
        World points, (..., 3), float64.
    """
    x = np.asarray(points, dtype=np.float64) @ np.asarray(rotation, dtype=np.float64)
    return x + np.asarray(center, dtype=np.float64)


def axis_angle_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """The (3, 3) rotation by ``angle`` radians about the unit vector ``axis`` (Rodrigues)."""
    x, y, z = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    cross = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * cross @ cross


def project_to_image(
    points: np.ndarray,
    focal: np.ndarray,
    principal_point: np.ndarray,
    radial: np.ndarray | None = None,
    tangential: np.ndarray | None = None,
) -> np.ndarray:
    """Project camera-frame points to pixels with the Human3.6M distortion model.

    With normalised coordinates ``(x, y) = (X / Z, Y / Z)`` and ``r² = x² + y²``:
    ``radial = 1 + k1 r² + k2 r⁴ + k3 r⁶``, ``tan = p1 y + p2 x`` and
    ``(x', y') = (x, y) · (radial + tan) + (p2, p1) · r²``; pixels are ``f · (x', y') + c``.
    This is Martinez et al.'s ``project_point_radial`` (and VideoPose3D's ``project_to_2d`` with
    its swapped ``p``). Without distortion coefficients it is the pinhole projection.

    Args:
        points: Camera-frame points with Z > 0, (..., 3).
        focal: (fx, fy) in pixels.
        principal_point: (cx, cy) in pixels.
        radial: (k1, k2, k3); zeros when None.
        tangential: (p1, p2) in Martinez's order; zeros when None.

    Returns:
        Pixel coordinates, (..., 2), float64.
    """
    p = np.asarray(points, dtype=np.float64)
    xy = p[..., :2] / p[..., 2:3]
    k = np.zeros(3) if radial is None else np.asarray(radial, dtype=np.float64)
    t = np.zeros(2) if tangential is None else np.asarray(tangential, dtype=np.float64)
    r2 = np.sum(xy**2, axis=-1, keepdims=True)
    radial_term = 1.0 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tangential_term = t[0] * xy[..., 1:2] + t[1] * xy[..., 0:1]
    distorted = xy * (radial_term + tangential_term) + t[::-1] * r2
    return np.asarray(focal, dtype=np.float64) * distorted + np.asarray(
        principal_point, dtype=np.float64
    )


def project_camera(points_world: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """World points → (camera-frame points, distorted pixel coordinates).

    Args:
        points_world: (..., 3), in the unit of ``camera.center``.
        camera: The camera.

    Returns:
        ``(points_cam (..., 3), pixels (..., 2))``, both float64.
    """
    cam = world_to_camera(points_world, camera.rotation, camera.center)
    pix = project_to_image(
        cam, camera.focal, camera.principal_point, camera.radial, camera.tangential
    )
    return cam, pix


def normalize_screen_coordinates(xy: np.ndarray, width, height) -> np.ndarray:
    """Pixels → normalised screen coordinates: ``x / w * 2 − 1``, ``y / w * 2 − h / w``.

    Args:
        xy: Pixel coordinates, (..., 2).
        width: Image width(s), a scalar or an array broadcasting against ``xy[..., 0]``.
        height: Image height(s), same shape as ``width``.

    Returns:
        Normalised coordinates, (..., 2), float (``[0, w]`` → ``[−1, 1]``).
    """
    w = np.asarray(width, dtype=np.float64)[..., None]
    h = np.asarray(height, dtype=np.float64)[..., None]
    offset = np.concatenate(np.broadcast_arrays(np.ones_like(w), h / w), axis=-1)
    return np.asarray(xy) / w * 2.0 - offset


def denormalize_screen_coordinates(xy: np.ndarray, width, height) -> np.ndarray:
    """Inverse of `normalize_screen_coordinates`: ``(x' + 1) w / 2``, ``(y' + h / w) w / 2``.

    Args:
        xy: Normalised coordinates, (..., 2).
        width: Image width(s), broadcasting against ``xy[..., 0]``.
        height: Image height(s).

    Returns:
        Pixel coordinates, (..., 2).
    """
    w = np.asarray(width, dtype=np.float64)[..., None]
    h = np.asarray(height, dtype=np.float64)[..., None]
    offset = np.concatenate(np.broadcast_arrays(np.ones_like(w), h / w), axis=-1)
    return (np.asarray(xy) + offset) * w / 2.0


def normalize_image_poses(poses: np.ndarray, width, height) -> np.ndarray:
    """2.5D image-space poses (pixels) → MotionBERT's normalised units.

    x and y are screen-normalised; the depth channel is multiplied by ``2 / w`` (no offset), so
    the three channels keep one common scale (MotionBERT ``DataReaderH36M.read_3d``).

    Args:
        poses: (..., J, 3) with (u, v) in pixels and depth in pixel units.
        width: Image width(s), broadcasting against ``poses[..., 0, 0]``.
        height: Image height(s).

    Returns:
        (..., J, 3) normalised poses.
    """
    w = np.asarray(width, dtype=np.float64)[..., None]
    h = np.asarray(height, dtype=np.float64)[..., None]
    poses = np.asarray(poses)
    xy = normalize_screen_coordinates(poses[..., :2], w, h)
    z = poses[..., 2:3] * (2.0 / w[..., None])
    return np.concatenate([xy, z], axis=-1)


def denormalize_image_poses(poses: np.ndarray, width, height) -> np.ndarray:
    """Inverse of `normalize_image_poses` (MotionBERT ``DataReaderH36M.denormalize``).

    Args:
        poses: (..., J, 3) normalised poses.
        width: Image width(s), broadcasting against ``poses[..., 0, 0]``.
        height: Image height(s).

    Returns:
        (..., J, 3) poses in pixel units.
    """
    w = np.asarray(width, dtype=np.float64)[..., None]
    h = np.asarray(height, dtype=np.float64)[..., None]
    poses = np.asarray(poses)
    xy = denormalize_screen_coordinates(poses[..., :2], w, h)
    z = poses[..., 2:3] * (w[..., None] / 2.0)
    return np.concatenate([xy, z], axis=-1)


def to_root_relative(poses: np.ndarray, root: int = 0) -> np.ndarray:
    """Subtract the root joint from every joint, per frame (the root becomes 0).

    Args:
        poses: (..., J, C) numpy array or torch tensor.
        root: Index of the root joint (``Skeleton.root``).

    Returns:
        Root-relative poses, same shape and type.
    """
    return poses - poses[..., root : root + 1, :]


def image_space_poses(
    points_cam: np.ndarray, pixels: np.ndarray, focal: np.ndarray, root: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame poses → 2.5D image-space poses and their scale λ (mm per pixel).

    λ is the weak-perspective scale at the root joint, ``λ = Z_root / f̄`` with
    ``f̄ = (fx + fy) / 2``: at the root's depth one pixel spans λ millimetres. The image-space pose
    is ``(u, v, (Z − Z_root) / λ)``: the (distorted) projection in pixels and the depth relative to
    the root, in the same pixel units. ``λ · pose`` is therefore a metric pose consistent with the
    image (MotionBERT's ``joints_2.5d_image``, up to a translation). LCN / MotionBERT do not
    publish the code that produced their ``2.5d_factor``; this is the documented derivation used
    for data we prepare ourselves.

    Args:
        points_cam: Camera-frame poses, (..., J, 3), in mm.
        pixels: Their projections, (..., J, 2), in pixels.
        focal: (fx, fy) in pixels.
        root: Index of the root joint.

    Returns:
        ``(poses_image (..., J, 3) float64, scale (...,) float64 mm/px)``.
    """
    points_cam = np.asarray(points_cam, dtype=np.float64)
    depth = points_cam[..., 2]
    scale = depth[..., root] / float(np.mean(focal))
    rel_depth = (depth - depth[..., root : root + 1]) / scale[..., None]
    return np.concatenate([np.asarray(pixels, np.float64), rel_depth[..., None]], axis=-1), scale


def check_rigid_transform(matrix: np.ndarray, name: str = "world_from_camera") -> np.ndarray:
    """``matrix`` as a float (4, 4) rigid transform: finite, a proper rotation (det +1, no
    mirroring), bottom row ``[0, 0, 0, 1]``.

    Raises:
        ValueError: Naming ``name`` and what is wrong.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise ValueError(f"{name} must be a finite 4x4 matrix, got shape {matrix.shape}")
    rotation = matrix[:3, :3]
    orthogonal = np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
    proper = orthogonal and np.linalg.det(rotation) > 0
    if not proper or not np.array_equal(matrix[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError(
            f"{name} must be a rigid transform: a proper rotation (no mirroring) and a "
            "translation, bottom row [0, 0, 0, 1]"
        )
    return matrix


def check_fps(fps: float | None, *, optional: bool = False) -> float | None:
    """A frame rate: finite and positive (None allowed with ``optional``).

    Raises:
        ValueError: For 0, a negative, NaN or infinite rate, or None unless ``optional``.
    """
    if fps is None and optional:
        return None
    try:
        value = float(fps)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"fps must be a positive number, got {fps!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"fps must be positive and finite, got {fps}")
    return value
