"""A recovered body mesh's files: ``mesh.npz`` and ``mesh.glb`` (and ``render.mp4`` with it).

Outputs (`write_mesh_outputs`) of a `ssrstf.lifting.meshes.MeshSequence`:

* ``mesh.npz``: ``vertices`` (F, V, 3) float32 mm and ``joints`` (F, 17, 3) mm, both
  root-relative (the mesh's pelvis joint at 0) in the axes of ``poses_3d`` (camera: x right,
  y down, z forward); ``faces`` (F_tri, 3) int32; the body parameters ``pose`` (F, P, 3, 3),
  ``pose_bone_names``, ``shape``, ``shape_names``, ``scale``, ``shape_fitted`` (whether shape
  and scale were fitted to ``poses_3d``, ``--mesh-shape fit``); ``body_model``, ``fps``. About
  165 kB per frame for anny (13,718 vertices); ``mesh.glb`` holds the same animation compactly;
* ``mesh.glb``: the mesh skinned to the body model's skeleton and animated
  (`ssrstf.outputs.mesh_gltf.write_mesh_glb`);
* with ``render``: ``render.mp4`` with the shaded mesh beside the skeleton
  (`ssrstf.outputs.mesh_render`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssrstf.files import atomic_write
from ssrstf.lifting.meshes import MeshSequence
from ssrstf.outputs.folder import (
    OUTPUT_FILES,
    check_output_extras,
    check_output_folder,
    refuse_existing,
    render_poses,
)
from ssrstf.outputs.mesh_gltf import write_mesh_glb
from ssrstf.scene.result import InferenceResult

MESH_FILES = {"mesh_npz": "mesh.npz", "mesh_glb": "mesh.glb"}
"""The files `write_mesh_outputs` adds to an output folder."""


def write_mesh_npz(path: str | Path, mesh: MeshSequence, fps: float | None, *,
                   overwrite: bool = False) -> Path:  # fmt: skip
    """Write ``mesh.npz`` (see the module docstring)."""
    arrays = {
        "vertices": mesh.vertices.astype(np.float32),
        "joints": mesh.joints.astype(np.float32),
        "faces": mesh.faces.astype(np.int32),
        "pose": mesh.pose.astype(np.float32),
        "pose_bone_names": np.array(mesh.pose_bone_names),
        "shape": mesh.shape.astype(np.float64),
        "shape_names": np.array(mesh.shape_names),
        "scale": np.float64(mesh.scale),
        "shape_fitted": np.bool_(mesh.shape_fitted),
        "body_model": np.array(mesh.body_model),
        "fps": np.float64(fps or 0.0),
        "axes": np.array("camera: x right, y down, z forward; mm; pelvis at the origin"),
    }

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.savez(handle, **arrays)

    return atomic_write(path, write, overwrite=overwrite)


def mesh_output_paths(out_dir: str | Path, *, render: bool) -> dict[str, Path]:
    """The files `write_mesh_outputs` writes (``render``: also ``render.mp4``)."""
    paths = {k: Path(out_dir) / v for k, v in MESH_FILES.items()}
    if render:
        paths["render"] = Path(out_dir) / OUTPUT_FILES["render"]
    return paths


def check_mesh_outputs(out_dir: str | Path, *, render: bool, overwrite: bool) -> dict[str, Path]:
    """The mesh output paths, after refusing (before any work) to replace existing files or to
    write into a file."""
    check_output_folder(out_dir)
    return refuse_existing(mesh_output_paths(out_dir, render=render), overwrite=overwrite)


def write_mesh_outputs(
    result: InferenceResult,
    mesh: MeshSequence,
    out_dir: str | Path,
    *,
    render: bool = False,
    frames_from: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Path]:
    """Write ``mesh.npz``, ``mesh.glb`` and, with ``render``, ``render.mp4`` with the mesh.

    Args:
        result: The `ssrstf.scene.result.InferenceResult` the mesh belongs to.
        mesh: Its mesh (`MeshRecoverer.recover` of the same keypoints).
        out_dir: The output folder (created when missing).
        render: Render input | skeleton | mesh (extra ``viz``); the caller must not have
            written ``render.mp4`` without the mesh already.
        frames_from: The input video for the rendering's left panel.
        overwrite: Replace existing files.
        progress: Show the rendering's progress bar.
    """
    paths = check_mesh_outputs(out_dir, render=render, overwrite=overwrite)
    check_output_extras(render=render)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    fps = result.keypoints.fps
    write_mesh_npz(paths["mesh_npz"], mesh, fps, overwrite=overwrite)
    write_mesh_glb(paths["mesh_glb"], mesh, fps or 30.0, overwrite=overwrite)
    if render:
        from ssrstf.outputs.mesh_render import render_mesh_video

        shown, path = render_poses(result)
        kp = result.keypoints
        render_mesh_video(
            paths["render"], shown, kp.keypoints, mesh.vertices, mesh.faces, fps=fps or 30.0,
            image_size=kp.image_size, frames=frames_from, valid=kp.valid, path=path,
            overwrite=overwrite, progress=progress,
        )  # fmt: skip
    return paths
