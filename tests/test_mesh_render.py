"""The mesh panel of ``ssrstf infer --mesh --render``: `MeshShader` (culling, shading, framing,
either winding) and `render_mesh_video` (input | skeleton | mesh in one ``render.mp4``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL", reason="rendering needs Pillow (extra viz)")

from ssrstf.outputs.mesh_render import (  # noqa: E402
    AMBIENT,
    BACKGROUND_COLOUR,
    LIGHT,
    MESH_COLOUR,
    MeshShader,
    render_mesh_video,
)

CUBE_VERTICES = np.array(
    [[x, y, z] for x in (-100.0, 100.0) for y in (-100.0, 100.0) for z in (-100.0, 100.0)]
)
CUBE_FACES = np.array([
    [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # x = -100, x = +100
    [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # y = -100, y = +100
    [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # z = -100 (towards the camera), z = +100
])  # fmt: skip


def _shade(normal: np.ndarray) -> tuple[int, ...]:
    light = np.asarray(LIGHT) / np.linalg.norm(LIGHT)
    value = AMBIENT + (1 - AMBIENT) * max(float(normal @ light), 0.0)
    return tuple((np.asarray(MESH_COLOUR) * value).astype(int).tolist())


def _cube(frames: int = 1, z: float = 3000.0) -> np.ndarray:
    return np.repeat((CUBE_VERTICES + [0.0, 0.0, z])[None], frames, axis=0)


@pytest.mark.parametrize("winding", [1, -1])
def test_a_cube_shows_its_front_face_lit_as_computed(winding: int) -> None:
    faces = CUBE_FACES if winding == 1 else CUBE_FACES[:, ::-1]
    shader = MeshShader(_cube(), faces, size=100)
    image = shader.draw(_cube()[0])
    assert image.shape == (100, 100, 3) and image.dtype == np.uint8
    # Orthographic and framed to 90 % of the panel: the front face covers the middle 90 pixels.
    front = _shade(np.array([0.0, 0.0, -1.0]))
    assert tuple(image[50, 50]) == front
    assert (image[10:90, 10:90] == front).all()
    assert tuple(image[2, 2]) == BACKGROUND_COLOUR and tuple(image[97, 50]) == BACKGROUND_COLOUR


def test_faces_turned_away_are_culled_and_near_faces_drawn_last() -> None:
    faces = np.array([[0, 1, 2]])
    towards = np.array([[-100.0, -100.0, 3000.0], [0.0, 100.0, 3000.0], [100.0, -100.0, 3000.0]])
    shader = MeshShader(towards[None], faces, size=64)
    assert (shader.draw(towards) == _shade(np.array([0.0, 0.0, -1.0]))).all(-1).sum() > 500
    # The same triangle seen from behind (mirrored in x: the winding flips): nothing is drawn.
    assert (shader.draw(towards * [-1.0, 1.0, 1.0]) == BACKGROUND_COLOUR).all()
    # A small cube turned 30° about x in front of a large one: at the middle of the panel its
    # front face (normal (0, sin 30°, -cos 30°), lit otherwise) hides the large cube's.
    angle = np.radians(30)
    turn = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    near = CUBE_VERTICES @ turn.T + [0.0, 0.0, 3000.0]
    far = 3 * CUBE_VERTICES + [0.0, 0.0, 5000.0]
    scene = np.concatenate([far, near])
    image = MeshShader(scene[None], np.concatenate([CUBE_FACES, CUBE_FACES + 8]), size=120).draw(
        scene
    )
    turned = _shade(np.array([0.0, np.sin(angle), -np.cos(angle)]))
    assert turned != _shade(np.array([0.0, 0.0, -1.0]))
    assert tuple(image[60, 60]) == turned  # the near cube's front face
    assert tuple(image[60, 12]) == _shade(np.array([0.0, 0.0, -1.0]))  # the far cube around it


def test_shader_refuses_a_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"vertices must be \(F, V, 3\), got \(8, 3\)"):
        MeshShader(CUBE_VERTICES, CUBE_FACES)


def test_render_mesh_video_writes_three_panels_and_never_overwrites(tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="encoding needs imageio-ffmpeg (extra viz)")
    from ssrstf.keypoints.video import iter_frames, probe_video

    rng = np.random.default_rng(0)
    frames = 5
    poses = rng.normal(0, 300, size=(frames, 17, 3)) + [0, 0, 4000.0]
    keypoints = np.concatenate(
        [rng.uniform(100, 500, size=(frames, 17, 2)), np.ones((frames, 17, 1))], axis=-1
    )
    vertices = _cube(frames) + np.arange(frames)[:, None, None] * [20.0, 0.0, 0.0]
    out = tmp_path / "render.mp4"
    written = render_mesh_video(
        out, poses, keypoints, vertices, CUBE_FACES, fps=10.0, image_size=(640, 480),
        progress=False, height=240,
    )  # fmt: skip
    assert written == out
    info = probe_video(out)
    assert info.num_frames == frames and info.height == 240
    last = list(iter_frames(out))[-1]
    panel = last[:, -240:]  # the mesh panel on the right, 240 × 240
    assert info.width > 3 * 200 and panel.shape == (240, 240, 3)
    lit = np.abs(panel.astype(int) - _shade(np.array([0.0, 0.0, -1.0]))).max(-1) < 12
    # The last frame's cube: 154 px wide (framing 280 mm over all frames), 31 px right of centre.
    assert lit[70:170, 100:200].mean() > 0.95
    with pytest.raises(FileExistsError, match="already exists; pass --overwrite"):
        render_mesh_video(
            out, poses, keypoints, vertices, CUBE_FACES, fps=10.0, image_size=(640, 480),
            progress=False,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"as many meshes and 2D frames as 3D frames \(5\)"):
        render_mesh_video(
            tmp_path / "other.mp4", poses, keypoints, vertices[:4], CUBE_FACES, fps=10.0,
            image_size=(640, 480), progress=False,
        )  # fmt: skip
