"""Rendering of a recovered mesh: a shaded panel beside `ssrstf.outputs.render`'s frames.

`MeshShader` draws one frame of a mesh sequence seen from the camera (orthographic, the
camera's x to the right and y down, so the panel lines up with the input image's view of the
person), flat-shaded with one light from above-left of the camera: triangles facing away are
culled, the others drawn far to near with Pillow (the painter's algorithm). Scale and centre are
fixed for the whole sequence. About 0.2 s per frame for anny's 27,420 triangles on this
project's CPU, the cost of ~17,000 Pillow polygon calls (docs/results.md).

`render_mesh_video` writes ``render.mp4`` as `ssrstf.outputs.render.render_video` does, with
the mesh panel appended on the right: input | 3D skeleton | mesh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ssrstf.extras import require
from ssrstf.outputs.drawing import PoseRenderer
from ssrstf.outputs.render import _encode
from ssrstf.skeleton import H36M_17

MESH_COLOUR = (205, 158, 133)
"""RGB of the mesh at full light."""
BACKGROUND_COLOUR = (40, 40, 40)
"""RGB behind the mesh."""
LIGHT = (-0.3, -0.5, -1.0)
"""Direction towards the light, camera axes (above-left of the camera)."""
AMBIENT = 0.25
"""Light a triangle gets facing away from the light."""


class MeshShader:
    """Draws the frames of one mesh sequence (see the module docstring).

    Args:
        vertices_mm: (F, V, 3) mm, camera axes (all frames: they fix the framing).
        faces: (F_tri, 3) triangles.
        size: Panel width and height in pixels.
    """

    def __init__(self, vertices_mm: np.ndarray, faces: np.ndarray, *, size: int = 480) -> None:
        self._pil = require("PIL.Image", "viz")
        self._draw = require("PIL.ImageDraw", "viz")
        vertices_mm = np.asarray(vertices_mm, dtype=np.float64)
        if vertices_mm.ndim != 3 or vertices_mm.shape[2] != 3 or not len(vertices_mm):
            raise ValueError(f"vertices must be (F, V, 3), got {vertices_mm.shape}")
        self.faces = np.asarray(faces, dtype=np.int64)
        self.size = int(size)
        step = max(1, len(vertices_mm) // 50)  # the framing from up to ~50 frames
        sample = vertices_mm[::step, :, :2].reshape(-1, 2)
        low, high = sample.min(0), sample.max(0)
        self._centre = (low + high) / 2
        self._pixels_per_mm = 0.9 * self.size / max(float((high - low).max()), 1.0)
        # Outward normals: the winding that makes faces point away from the body's centre.
        first = vertices_mm[0]
        normals = self._normals(first)
        centroids = first[self.faces].mean(1)
        outward = np.sum(normals * (centroids - first.mean(0)), axis=1).mean()
        self._winding = 1.0 if outward >= 0 else -1.0
        light = np.asarray(LIGHT, dtype=np.float64)
        self._light = light / np.linalg.norm(light)

    def _normals(self, vertices: np.ndarray) -> np.ndarray:
        a, b, c = (vertices[self.faces[:, i]] for i in range(3))
        n = np.cross(b - a, c - a)
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def draw(self, vertices_mm: np.ndarray) -> np.ndarray:
        """One panel, RGB uint8 (size, size, 3), of vertices (V, 3) mm."""
        vertices = np.asarray(vertices_mm, dtype=np.float64)
        normals = self._winding * self._normals(vertices)
        visible = normals[:, 2] < 0  # facing the camera, which looks along +z
        faces = self.faces[visible]
        depth = vertices[faces, 2].sum(1)
        order = np.argsort(-depth)  # far first
        faces, normals = faces[order], normals[visible][order]
        light = AMBIENT + (1 - AMBIENT) * np.clip(normals @ self._light, 0.0, 1.0)
        colours = (np.asarray(MESH_COLOUR) * light[:, None]).astype(np.int64)
        pixels = (vertices[:, :2] - self._centre) * self._pixels_per_mm + self.size / 2
        image = self._pil.new("RGB", (self.size, self.size), BACKGROUND_COLOUR)
        canvas = self._draw.Draw(image)
        for triangle, colour in zip(pixels[faces].tolist(), colours.tolist(), strict=True):
            canvas.polygon([tuple(p) for p in triangle], fill=tuple(colour))
        return np.asarray(image)


class _MeshFrames:
    """`PoseRenderer`'s frames with a mesh panel on the right (the interface `_encode` needs)."""

    def __init__(self, renderer: PoseRenderer, shader: MeshShader) -> None:
        self.renderer, self.shader = renderer, shader

    @property
    def panel_size(self) -> tuple[int, int]:
        return self.renderer.panel_size

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.renderer.size
        return width + self.shader.size, height


def render_mesh_video(
    out_path: str | Path,
    poses_3d: np.ndarray,
    keypoints_2d: np.ndarray,
    vertices_mm: np.ndarray,
    faces: np.ndarray,
    *,
    fps: float,
    image_size: tuple[int, int],
    frames: Any = None,
    valid: np.ndarray | None = None,
    path: np.ndarray | None = None,
    overwrite: bool = False,
    progress: bool = True,
    height: int = 480,
) -> Path:
    """Write ``render.mp4``: input | 3D skeleton | shaded mesh (extra ``viz``).

    Arguments as `ssrstf.outputs.render.render_video`, plus the mesh: ``vertices_mm``
    (F, V, 3) mm in camera axes and its ``faces``.
    """
    out_path = Path(out_path)
    if out_path.exists() and not overwrite:
        raise FileExistsError(f"{out_path} already exists; pass --overwrite (overwrite=True)")
    poses_3d = np.asarray(poses_3d, dtype=np.float64)
    count = len(poses_3d)
    if len(vertices_mm) != count or len(keypoints_2d) != count:
        raise ValueError(
            f"need as many meshes and 2D frames as 3D frames ({count}), "
            f"got {len(vertices_mm)} and {len(keypoints_2d)}"
        )
    valid = np.ones(count, bool) if valid is None else np.asarray(valid, dtype=bool)
    renderer = PoseRenderer(
        poses_3d, image_size=image_size, skeleton=H36M_17, height=height, path=path
    )
    shader = MeshShader(vertices_mm, faces, size=renderer.height)
    composed = _MeshFrames(renderer, shader)

    def draw(index: int, image: np.ndarray | None) -> np.ndarray:
        left = renderer.draw(
            poses_3d[index], keypoints_2d[index], frame=image, valid=bool(valid[index]),
            label=f"frame {index + 1}/{count}", path_index=index,
        )  # fmt: skip
        return np.concatenate([left, shader.draw(vertices_mm[index])], axis=1)

    return _encode(
        out_path, composed, count, fps, frames, draw, overwrite=overwrite, progress=progress
    )
