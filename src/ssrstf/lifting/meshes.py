"""Body meshes from 2D keypoints: the mesh head on the lifter's motion representation.

`MeshRecoverer` runs a mesh model (`ssrstf.mesh.model.load_mesh_model`; ``"default"`` is the
packaged head on the packaged lifter) over a whole sequence the way `Lifter.lift` does: the
same input normalisation, windows of the model's clip length, triangular cross-fading. What is
stitched is the head's output: per frame the bone rotations (their 6D vectors, weighted and
re-orthonormalised), per sequence one body (the mean shape and scale over the windows: one
person has one shape). The body model then gives the vertices of every frame.

Its files are written by `ssrstf.outputs.mesh_files` (``mesh.npz``, ``mesh.glb``); the
pipeline (`ssrstf.pipeline.run.Pipeline`, ``ssrstf infer --mesh``, `ssrstf.lift_mesh`) runs it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ssrstf.data.clips import centred_padding, plan_windows, window_weights
from ssrstf.lifting.lifter import Lifter
from ssrstf.mesh.body import SkinnedMesh
from ssrstf.mesh.model import load_mesh_model
from ssrstf.mesh.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
from ssrstf.skeleton import H36M_17

_BODY_CHUNK = 64
"""Frames per body-model call (bounds the memory of the full-mesh skinning)."""


@dataclass
class MeshSequence:
    """A body mesh per frame (axes and units as in ``mesh.npz``, `ssrstf.outputs.mesh_files`).

    Attributes:
        vertices: (F, V, 3) float32 mm, root-relative, camera axes.
        joints: (F, 17, 3) float32 mm, the mesh's H36M-17 joints, root-relative.
        faces: (F_tri, 3) int32 triangles.
        pose: (F, P, 3, 3) float32 rotations fed to the body model.
        shape: (S,) the sequence's shape parameters; scale: its size factor.
        root: (F, 3) the body model's pelvis in its own axes (metres, before the scale).
        skinned: The skeleton and skinning of the same animation, for `write_mesh_glb`.
        pose_bone_names, shape_names, body_model: What the parameters mean.
        shape_fitted: Whether shape and scale were fitted to a lifted skeleton
            (`MeshRecoverer.recover`'s ``fit_shape``) rather than the head's.
        seconds: Time of each stage (``head``, ``fit``: the shape fit, ``body``).
    """

    vertices: np.ndarray
    joints: np.ndarray
    faces: np.ndarray
    pose: np.ndarray
    shape: np.ndarray
    scale: float
    root: np.ndarray
    skinned: SkinnedMesh
    pose_bone_names: tuple[str, ...]
    shape_names: tuple[str, ...]
    body_model: str
    shape_fitted: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        """F."""
        return len(self.vertices)


class MeshRecoverer:
    """A loaded mesh model that turns (F, 17, 2|3) pixel keypoints into a `MeshSequence`.

    Args:
        checkpoint: ``"default"`` (the packaged head), a mesh run's ``.pt`` or an exported
            ``.safetensors``.
        lifter: The `Lifter` whose input normalisation to use; its model must be the mesh
            model's backbone configuration, on consecutive frames (both checked). Default: the
            mesh model's backbone.
        device: ``"cpu"``, ``"cuda"``, ...
        overlap: Frames shared by consecutive windows (default ``T // 3``).
        batch_size: Windows per forward pass.
        body_model_path: SMPL files, for a head trained on SMPL.
        allow_pickle: Read an SMPL ``.pkl`` file (`ssrstf.mesh.model.load_mesh_model`).
        allow_body_mismatch: Use ``body_model_path`` even if it is not the body model the head
            records (a warning instead of the error; `ssrstf.mesh.model.check_body_record`).
    """

    def __init__(
        self,
        checkpoint: str | Path = "default",
        *,
        lifter: Lifter | None = None,
        device: str = "cpu",
        overlap: int | None = None,
        batch_size: int = 64,
        body_model_path: str | Path | None = None,
        allow_pickle: bool | None = None,
        allow_body_mismatch: bool = False,
    ) -> None:
        self.model, self.cfg = load_mesh_model(
            checkpoint,
            device=device,
            body_model_path=body_model_path,
            allow_pickle=allow_pickle,
            allow_body_mismatch=allow_body_mismatch,
        )
        self.device = device
        if lifter is None:
            lifter = Lifter(self.cfg.mesh.backbone or "default", device=device, flip=False)
        # The head reads the lifter's inputs through its backbone: the same network.
        if lifter.cfg.model != self.cfg.model:
            raise ValueError(
                f"the mesh head {checkpoint} was trained on another lifter than "
                f"{lifter.checkpoint} (use --checkpoint {self.cfg.mesh.backbone or 'PATH'} or a "
                "mesh head trained on this lifter)"
            )
        if lifter.frame_stride != 1:
            raise ValueError(
                f"{lifter.checkpoint}: mesh recovery runs on consecutive frames; this lifter "
                f"takes one frame in {lifter.frame_stride}"
            )
        self.lifter = lifter
        self.num_frames = self.cfg.model.num_frames
        self.overlap = self.num_frames // 3 if overlap is None else overlap
        if not 0 <= self.overlap < self.num_frames:
            raise ValueError(f"overlap must be in [0, {self.num_frames - 1}], got {self.overlap}")
        self.batch_size = batch_size

    def recover(
        self,
        keypoints: np.ndarray,
        image_size: tuple[int, int],
        *,
        skeleton_mm: np.ndarray | None = None,
        fit_shape: bool = True,
    ) -> MeshSequence:
        """The mesh of every frame of pixel keypoints (F, 17, 2|3) (all finite).

        Args:
            keypoints: (F, 17, 2|3) pixels, H36M-17 order.
            image_size: (width, height) in pixels.
            skeleton_mm: (F, 17, 3) the lifted poses the mesh should agree with (`ssrstf infer`'s
                ``poses_3d``: flip TTA, stitched windows; mm, camera axes): swing IK starts from
                them instead of from the backbone's own single pass, which brings the mesh
                closer to them (docs/results.md, "Mesh recovery"). None: the backbone's joints.
            fit_shape: With ``skeleton_mm``, replace the head's body (shape and scale) by the
                one whose joints best match ``skeleton_mm`` (`MeshRecovery.fit_shape`; the
                poses stay the head's): the mesh then has the skeleton's size and build.

        Raises:
            ValueError: Bad keypoint shapes or values, a bad image size, or a ``skeleton_mm``
                that is not (F, 17, 3) and finite.
        """
        start = time.perf_counter()
        inputs = self.lifter.model_inputs(keypoints, image_size)
        joints = None
        if skeleton_mm is not None:
            skeleton_mm = np.asarray(skeleton_mm, dtype=np.float64)
            if skeleton_mm.shape != (len(inputs), 17, 3) or not np.isfinite(skeleton_mm).all():
                raise ValueError(
                    f"skeleton_mm must be finite ({len(inputs)}, 17, 3), got {skeleton_mm.shape}"
                )
            root = H36M_17.root
            joints = ((skeleton_mm - skeleton_mm[:, root : root + 1]) / 1000.0).astype(np.float32)
        pose, shape, scale = self._parameters(inputs, joints)
        model = self.model
        shape_t = torch.as_tensor(shape, dtype=torch.float32, device=self.device)[None]
        scale_t = torch.tensor([scale], dtype=torch.float32, device=self.device)
        head_s = time.perf_counter() - start
        start = time.perf_counter()
        fitted = joints is not None and fit_shape
        if fitted:
            shape_t, scale_t = model.fit_shape(
                torch.as_tensor(pose, device=self.device)[None], shape_t, scale_t,
                torch.as_tensor(joints, device=self.device)[None],
            )  # fmt: skip
            shape, scale = shape_t[0].double().cpu().numpy(), float(scale_t[0])
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        vertices, joints, roots = [], [], []
        with torch.inference_mode():
            for first in range(0, len(pose), _BODY_CHUNK):
                chunk = torch.as_tensor(pose[first : first + _BODY_CHUNK], device=self.device)
                out = model.from_parameters(chunk[None], shape_t, scale_t, vertices=True)
                assert out.vertices is not None and out.root is not None
                vertices.append((out.vertices[0] * 1000).float().cpu().numpy())
                joints.append((out.joints[0] * 1000).float().cpu().numpy())
                roots.append(out.root[0].double().cpu().numpy())
            pose_t = torch.as_tensor(pose, device=self.device)[None]
            skinned = model.body.skinned_mesh(pose_t, shape_t)
        body = model.body
        return MeshSequence(
            vertices=np.concatenate(vertices),
            joints=np.concatenate(joints),
            faces=body.faces.cpu().numpy().astype(np.int32),
            pose=pose,
            shape=shape,
            scale=float(scale),
            root=np.concatenate(roots),
            skinned=skinned,
            pose_bone_names=tuple(body.pose_bone_names),
            shape_names=tuple(body.shape_names),
            body_model=self.cfg.mesh.body_model,
            shape_fitted=fitted,
            seconds={"head": head_s, "fit": fit_s, "body": time.perf_counter() - start},
        )

    def _parameters(
        self, inputs: np.ndarray, joints: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Per-frame rotations (F, P, 3, 3) and the sequence's shape (S,) and scale; ``joints``
        (F, 17, 3) metres, root-relative: swing IK's targets (None: the backbone's joints)."""
        num_frames, window = len(inputs), self.num_frames
        first = 0
        if num_frames < window:  # as `Lifter`: centred between its end frames; cropped below
            indices, first = centred_padding(num_frames, window)
            inputs = inputs[indices]
            joints = None if joints is None else joints[indices]
        starts = plan_windows(len(inputs), window, window - self.overlap)
        weights = torch.as_tensor(window_weights(window), dtype=torch.float64)
        p = self.model.body.num_pose_bones
        total = torch.zeros(len(inputs), p, 6, dtype=torch.float64)
        weight_sum = torch.zeros(len(inputs), dtype=torch.float64)
        shapes, scales = [], []
        with torch.inference_mode():
            for i in range(0, len(starts), self.batch_size):
                batch = starts[i : i + self.batch_size]
                clips = np.stack([inputs[s : s + window] for s in batch])
                x = torch.as_tensor(clips, device=self.device)
                targets = None
                if joints is not None:
                    targets = torch.as_tensor(
                        np.stack([joints[s : s + window] for s in batch]), device=self.device
                    )
                pose, shape, scale = self.model.parameters_of(self.model.features(x), targets)
                d6 = matrix_to_rotation_6d(pose).double().cpu()
                for k, s in enumerate(batch):
                    total[s : s + window] += weights[:, None, None] * d6[k]
                    weight_sum[s : s + window] += weights
                shapes.append(shape.double().cpu())
                scales.append(scale.double().cpu())
        kept = slice(first, first + num_frames)
        mean_6d = total[kept] / weight_sum[kept, None, None]
        pose = rotation_6d_to_matrix(mean_6d).float().numpy()
        shape = torch.cat(shapes).mean(0).numpy()
        return pose, shape, float(torch.cat(scales).mean())


def mesh_agreement_mm(mesh: MeshSequence, poses_3d: np.ndarray) -> np.ndarray:
    """Per joint and frame, the distance (mm) of the mesh joints from lifted poses (F, 17, 3)."""
    return np.linalg.norm(mesh.joints - (poses_3d - poses_3d[:, :1]), axis=-1)
