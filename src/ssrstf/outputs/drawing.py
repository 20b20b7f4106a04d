"""Drawing one output frame of a rendering: the input with its 2D skeleton | the 3D pose.

`PoseRenderer` draws the frames `ssrstf.outputs.render` encodes (the layout, the colours and
the measured speed are described there); `render_frame` draws one frame without encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ssrstf.extras import require
from ssrstf.outputs.colours import side_colours
from ssrstf.skeleton import H36M_17, Skeleton

OUTLINE_COLOUR = (20, 20, 20)
"""RGB of the outline drawn under 2D bones, for contrast on any frame."""


CANVAS_COLOUR = (64, 64, 64)
"""RGB of the left panel when there is no input frame (keypoint-file input)."""


INVALID_COLOUR = (255, 0, 0)
"""RGB of the border marking frames without a detected person."""


PATH_COLOUR = (0, 170, 100)
"""RGB of the part of the root's path walked so far (the rest is drawn grey)."""


ELEVATION = 15.0
"""Elevation of the 3D viewpoint, degrees above the ground plane."""


AZIMUTH = -70.0
"""Azimuth of the 3D viewpoint (matplotlib's convention; -90 is the camera's own view)."""


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _to_plot_axes(poses_mm: np.ndarray) -> np.ndarray:
    """Camera axes (x right, y down, z forward) → plot axes (x right, depth, up)."""
    return np.stack([poses_mm[..., 0], poses_mm[..., 2], -poses_mm[..., 1]], axis=-1)


class PoseRenderer:
    """Draws output frames for one sequence; create once, call `draw` per frame.

    Args:
        poses_3d: (F, J, 3) millimetres, camera axes, usually root-relative; all frames, used
            for the fixed axis limits and the ground height.
        image_size: (width, height) of the input frames (the pixel frame of the 2D keypoints).
        skeleton: Joint order of ``poses_3d``.
        skeleton_2d: Joint order of the 2D keypoints (default: ``skeleton``).
        height: Output height in pixels (rounded to even).
        title: Title of the 3D panel.
        min_confidence: 2D joints below it are drawn as hollow rings with thin bones.
        path: (F, 3) the root's positions in the axes of ``poses_3d`` (which then hold the
            absolute poses), drawn on the ground (`draw`'s ``path_index``); None: no path.
    """

    def __init__(
        self,
        poses_3d: np.ndarray,
        *,
        image_size: tuple[int, int],
        skeleton: Skeleton = H36M_17,
        skeleton_2d: Skeleton | None = None,
        height: int = 480,
        title: str | None = None,
        min_confidence: float = 0.3,
        path: np.ndarray | None = None,
    ) -> None:
        self._pil = require("PIL.Image", "viz")
        self._draw_module = require("PIL.ImageDraw", "viz")
        poses_3d = np.asarray(poses_3d, dtype=np.float64)
        if poses_3d.ndim != 3 or poses_3d.shape[1:] != (skeleton.num_joints, 3):
            raise ValueError(
                f"poses_3d must be (F, {skeleton.num_joints}, 3), got {poses_3d.shape}"
            )
        width_in, height_in = image_size
        if not (width_in > 0 and height_in > 0):
            raise ValueError(f"image size must be positive, got {width_in}x{height_in}")
        self.skeleton = skeleton
        self.skeleton_2d = skeleton_2d or skeleton
        self.height = _even(height)
        self.image_size = (int(width_in), int(height_in))
        self.panel_width = _even(width_in * self.height / height_in)
        self.scale = np.array([self.panel_width / width_in, self.height / height_in])
        self.min_confidence = min_confidence
        self.colours_3d = side_colours(skeleton)
        self.colours_2d = side_colours(self.skeleton_2d)
        self._canvas = self._pil.new("RGB", (self.panel_width, self.height), CANVAS_COLOUR)
        self._background, self._project, self._view = _background_3d(
            _to_plot_axes(poses_3d), self.height, title
        )
        self._path: np.ndarray | None = None
        if path is not None:
            path = np.asarray(path, dtype=np.float64)
            if path.ndim != 2 or path.shape[1] != 3 or not np.isfinite(path).all():
                raise ValueError(f"path must be finite (F, 3), got {path.shape}")
            on_ground = _to_plot_axes(path)
            plotted = _to_plot_axes(poses_3d)
            on_ground[:, 2] = np.nanmin(plotted[np.isfinite(plotted).all(-1)][:, 2])
            self._path = self._project(on_ground)  # (F, 2) pixels of the path on the ground

    @property
    def panel_size(self) -> tuple[int, int]:
        """(width, height) of the left panel: input frames of this size are not resized."""
        return self.panel_width, self.height

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the output frames, both even."""
        return self.panel_width + self.height, self.height

    def draw(
        self,
        pose_3d: np.ndarray,
        keypoints_2d: np.ndarray,
        *,
        frame: np.ndarray | None = None,
        valid: bool = True,
        label: str | None = None,
        path_index: int | None = None,
    ) -> np.ndarray:
        """One output frame, RGB uint8 (height, width, 3).

        Args:
            pose_3d: (J, 3) millimetres, camera axes.
            keypoints_2d: (J2, 2|3) pixels of the input frame (and confidence; 1 when absent).
            frame: The input frame (H, W, 3) RGB uint8, scaled to the panel; None: blank canvas.
            valid: False marks the frame as having no detected person.
            label: Text at the bottom left of the 2D panel, e.g. the frame number.
            path_index: The frame of the renderer's ``path`` reached (drawn thick up to it).
        """
        return self.draw_people(
            [pose_3d], [keypoints_2d], frame=frame, valid=valid, label=label,
            path_index=path_index,
        )  # fmt: skip

    def draw_people(
        self,
        poses_3d: Sequence[np.ndarray],
        keypoints_2d: Sequence[np.ndarray],
        *,
        frame: np.ndarray | None = None,
        valid: bool = True,
        label: str | None = None,
        names: Sequence[str] = (),
        path_index: int | None = None,
    ) -> np.ndarray:
        """One output frame with any number of people (as `draw`, one pose per person).

        Args:
            poses_3d: Per person, (J, 3) millimetres, camera axes.
            keypoints_2d: Per person, (J2, 2|3) pixels of the input frame.
            frame: The input frame, or None for the blank canvas.
            valid: False marks the frame as having no detected person.
            label: Text at the bottom left of the 2D panel.
            names: Per person, a name written above their 2D skeleton (or nothing).
            path_index: As in `draw`.
        """
        if frame is None:
            left = self._canvas.copy()
        else:
            left = self._pil.fromarray(np.ascontiguousarray(frame[..., :3]))
            if left.size != self.panel_size:  # 4-8 ms for a 720p frame; ffmpeg can scale
                left = left.resize(self.panel_size, self._pil.Resampling.BILINEAR)
        right = self._background.copy()
        if self._path is not None:
            self._draw_path(right, path_index)
        for k, (pose, keypoints) in enumerate(zip(poses_3d, keypoints_2d, strict=True)):
            keypoints = np.asarray(keypoints, dtype=np.float64)
            self._draw_2d(left, keypoints, valid)
            if k < len(names):
                self._draw_name(left, keypoints, names[k])
            self._draw_3d(right, np.asarray(pose, dtype=np.float64), valid)
        self._draw_marks(left, valid, label)
        out = self._pil.new("RGB", self.size)
        out.paste(left, (0, 0))
        out.paste(right, (self.panel_width, 0))
        return np.asarray(out)

    def _draw_name(self, image: Any, keypoints: np.ndarray, name: str) -> None:
        xy = keypoints[:, :2] * self.scale
        shown = np.isfinite(xy).all(axis=1) & (np.abs(xy).sum(axis=1) > 0)
        if shown.any():
            top = xy[shown][np.argmin(xy[shown, 1])]
            draw = self._draw_module.Draw(image)
            draw.text((top[0] - 3 * len(name), top[1] - 22), name, fill=(255, 255, 255),
                      stroke_width=1, stroke_fill=OUTLINE_COLOUR)  # fmt: skip

    def _draw_marks(self, image: Any, valid: bool, label: str | None) -> None:
        """The red border of frames without a person, and the label."""
        draw = self._draw_module.Draw(image)
        if not valid:
            border = max(3, self.height // 120)
            w, h = image.size
            draw.rectangle((0, 0, w - 1, h - 1), outline=INVALID_COLOUR, width=border)
            draw.text((2 * border, 2 * border), "no person detected", fill=INVALID_COLOUR)
        if label:
            draw.text((6, self.height - 16), label, fill=(255, 255, 255), stroke_width=1,
                      stroke_fill=OUTLINE_COLOUR)  # fmt: skip

    def _draw_2d(self, image: Any, keypoints: np.ndarray, valid: bool) -> None:
        skeleton = self.skeleton_2d
        if keypoints.ndim != 2 or keypoints.shape[0] != skeleton.num_joints:
            raise ValueError(
                f"keypoints_2d must be ({skeleton.num_joints}, 2|3), got {keypoints.shape}"
            )
        xy = keypoints[:, :2] * self.scale
        conf = keypoints[:, 2] if keypoints.shape[1] > 2 else np.ones(len(keypoints))
        sure = (conf >= self.min_confidence) & np.isfinite(xy).all(axis=1) & valid
        shown = np.isfinite(xy).all(axis=1) & (np.abs(xy).sum(axis=1) > 0)
        draw = self._draw_module.Draw(image)
        width = max(2, self.height // 160)
        for parent, child in skeleton.bones:
            if not (shown[parent] and shown[child]):
                continue
            line = [tuple(xy[parent]), tuple(xy[child])]
            if sure[parent] and sure[child]:
                draw.line(line, fill=OUTLINE_COLOUR, width=width + 2)
                draw.line(line, fill=self.colours_2d[child], width=width)
            else:
                draw.line(line, fill=self.colours_2d[child], width=1)
        radius = width + 1
        for joint in np.flatnonzero(shown):
            x, y = xy[joint]
            box = (x - radius, y - radius, x + radius, y + radius)
            if sure[joint]:
                draw.ellipse(box, fill=self.colours_2d[joint], outline=OUTLINE_COLOUR)
            else:
                draw.ellipse(box, fill=None, outline=self.colours_2d[joint], width=1)

    def _draw_path(self, image: Any, index: int | None) -> None:
        """The whole path thin and grey, the part up to ``index`` thick in `PATH_COLOUR`."""
        assert self._path is not None
        draw = self._draw_module.Draw(image)
        points = [tuple(p) for p in self._path if np.isfinite(p).all()]
        if len(points) > 1:
            draw.line(points, fill=(150, 150, 150), width=1)
        if index is not None and index > 0:
            walked = [tuple(p) for p in self._path[: index + 1] if np.isfinite(p).all()]
            if len(walked) > 1:
                draw.line(walked, fill=PATH_COLOUR, width=max(2, self.height // 160))

    def _draw_3d(self, image: Any, pose_mm: np.ndarray, valid: bool) -> None:
        if pose_mm.shape != (self.skeleton.num_joints, 3):
            raise ValueError(
                f"pose_3d must be ({self.skeleton.num_joints}, 3), got {pose_mm.shape}"
            )
        points = _to_plot_axes(pose_mm)
        pixels = self._project(points)
        depth = points @ self._view  # larger: nearer the viewer
        finite = np.isfinite(pixels).all(axis=1)
        draw = self._draw_module.Draw(image)
        width = max(2, self.height // 120) if valid else 1
        bones = sorted(self.skeleton.bones, key=lambda b: depth[b[0]] + depth[b[1]])
        for parent, child in bones:  # far bones first (painter's algorithm)
            if finite[parent] and finite[child]:
                line = [tuple(pixels[parent]), tuple(pixels[child])]
                draw.line(line, fill=self.colours_3d[child], width=width)
        radius = width
        for joint in np.argsort(depth):
            if finite[joint]:
                x, y = pixels[joint]
                box = (x - radius, y - radius, x + radius, y + radius)
                draw.ellipse(box, fill=self.colours_3d[joint])


def _background_3d(points: np.ndarray, size: int, title: str | None) -> tuple[Any, Any, np.ndarray]:
    """Static 3D panel and the projection of plot-axes points to its pixels.

    Returns the background (PIL image, size × size), a function (N, 3) plot-axes points →
    (N, 2) pixel x, y, and the unit vector towards the viewer (for depth sorting).
    """
    figure_module = require("matplotlib.figure", "viz")
    agg = require("matplotlib.backends.backend_agg", "viz")
    pil = require("PIL.Image", "viz")
    finite = points[np.isfinite(points).all(axis=-1)]
    if finite.size == 0:
        finite = np.zeros((1, 3))
    low, high = finite.min(axis=0), finite.max(axis=0)
    centre = (low + high) / 2
    half = max(float((high - low).max()) / 2 * 1.05, 100.0)
    ground = float(low[2])
    dpi = 100
    fig = figure_module.Figure(figsize=(size / dpi, size / dpi), dpi=dpi)
    canvas = agg.FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.94 if title else 1.0), projection="3d")
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(ground, ground + 2 * half)  # the box floor is the ground
    ax.set_box_aspect((1.0, 1.0, 1.0), zoom=1.1)
    ax.grid(False)
    ax.view_init(elev=ELEVATION, azim=AZIMUTH)
    ax.set_xlabel("x (mm)", fontsize=7, labelpad=-6)
    ax.set_ylabel("depth z (mm)", fontsize=7, labelpad=-6)
    ax.set_zlabel("up (−y, mm)", fontsize=7, labelpad=-6)
    ax.tick_params(labelsize=5, pad=0)
    grid = np.linspace(-half, half, 9)
    for value in grid:  # ground hint: a grid at the lowest joint of the sequence
        ax.plot(centre[0] + value + 0 * grid, centre[1] + grid, ground, color="0.6", lw=0.6)
        ax.plot(centre[0] + grid, centre[1] + value + 0 * grid, ground, color="0.6", lw=0.6)
    if title:
        fig.suptitle(title, fontsize=9, y=0.99)
    canvas.draw()
    background = pil.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    matrix = ax.get_proj()
    transform = ax.transData.frozen()
    height_px = canvas.get_width_height()[1]

    def project(xyz: np.ndarray) -> np.ndarray:
        homogeneous = np.concatenate([xyz, np.ones((len(xyz), 1))], axis=1) @ matrix.T
        with np.errstate(divide="ignore", invalid="ignore"):
            plane = homogeneous[:, :2] / homogeneous[:, 3:4]
        display = transform.transform(plane)
        return np.stack([display[:, 0], height_px - display[:, 1]], axis=1)

    elev, azim = np.radians(ELEVATION), np.radians(AZIMUTH)
    view = np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])
    return background, project, view


def render_frame(
    poses_3d: np.ndarray,
    keypoints_2d: np.ndarray,
    index: int = 0,
    *,
    image_size: tuple[int, int],
    frame: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    skeleton: Skeleton = H36M_17,
    skeleton_2d: Skeleton | None = None,
    height: int = 480,
    title: str | None = None,
) -> np.ndarray:
    """One output frame of `render_video` (RGB uint8), without encoding; for checks and previews.

    Args are those of `render_video`; ``index`` selects the frame of ``poses_3d``,
    ``keypoints_2d`` and ``valid`` to draw, and ``frame`` is that frame's image (or None).
    """
    renderer = PoseRenderer(
        poses_3d, image_size=image_size, skeleton=skeleton, skeleton_2d=skeleton_2d,
        height=height, title=title,
    )  # fmt: skip
    is_valid = True if valid is None else bool(np.asarray(valid)[index])
    return renderer.draw(
        np.asarray(poses_3d)[index], np.asarray(keypoints_2d)[index], frame=frame, valid=is_valid
    )
