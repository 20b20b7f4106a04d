"""SMPL backend of `BodyModel`, for users who have the SMPL model files.

SMPL's model files are licence-gated (registration at smpl.is.tue.mpg.de) and are never
shipped or downloaded here. The forward pass is written from the published model (Loper et
al., "SMPL: A Skinned Multi-Person Linear Model", SIGGRAPH Asia 2015) rather than taken from
the ``smplx`` package, whose code is itself under a non-commercial licence and whose SMPL
loader unpickles files without restriction:

1. ``v_shaped = v_template + shapedirs · β`` and the rest joints ``J = J_regressor · v_shaped``;
2. ``v_posed = v_shaped + posedirs · vec(R_1..23 − I)`` (pose-corrective blend shapes);
3. the kinematic chain ``G_k = G_parent(k) · [R_k | J_k − J_parent(k)]``, ``G_0 = [R_0 | J_0]``;
4. linear blend skinning ``v = Σ_k w_k · G_k · [I | −J_k] · v_posed``.

File layout (the published one): ``v_template`` (V, 3), ``shapedirs`` (V, 3, S),
``posedirs`` (V, 3, 9·(K−1)), ``J_regressor`` (K, V) dense or scipy-sparse, ``weights`` (V, K),
``kintree_table`` (2, K) (row 0: parents, the root's any out-of-range value), ``f`` (F, 3).
Read from ``.npz`` (``allow_pickle=False``) or, with an explicit opt-in (``allow_pickle=True``,
the CLI's ``--allow-pickle``, or inside `smpl_pickle_allowed`), from SMPL's ``.pkl`` through a
restricted unpickler that builds numpy arrays and scipy sparse matrices only and refuses anything
else (e.g. chumpy objects in the original 1.0 files, or code); a sparse matrix is checked (its
shape, at most `MAX_SPARSE_ENTRIES` entries, and its indices) before it is made dense. A
``.pkl`` path can come from a downloaded mesh checkpoint's config (``mesh.body_model_path``),
hence the opt-in even with the restricted unpickler. An optional ``J_regressor_h36m.npy``
(17, V) next to the model gives the Human3.6M joints from the vertices; without it they are
SMPL's own joints (`SMPL_TO_H36M`), which the mesh head's learnable offsets adjust.
"""

from __future__ import annotations

import contextlib
import io
import pickle
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ssrstf.files import file_sha256
from ssrstf.mesh.body import (
    BodyModel,
    BodyOutput,
    IKSetup,
    JointLimit,
    SkinnedMesh,
    content_sha256,
    ik_links,
)
from ssrstf.skeleton import H36M_17

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
"""SMPL's 24 joints in its kinematic-tree order."""

SMPL_TO_H36M: dict[str, str] = {
    "pelvis": "pelvis", "right_hip": "right_hip", "right_knee": "right_knee",
    "right_ankle": "right_ankle", "left_hip": "left_hip", "left_knee": "left_knee",
    "left_ankle": "left_ankle", "spine": "spine2", "thorax": "neck", "neck": "head",
    "head": "head", "left_shoulder": "left_shoulder", "left_elbow": "left_elbow",
    "left_wrist": "left_wrist", "right_shoulder": "right_shoulder",
    "right_elbow": "right_elbow", "right_wrist": "right_wrist",
}  # fmt: skip
"""H36M-17 joint → the SMPL joint it is taken from when no H36M regressor file is given (the
neck/nose point and the head top both start at SMPL's head joint; the learnable offsets of the
mesh head move them apart)."""

_IK_SEGMENTS = (
    ("spine1", "pelvis", "spine"), ("spine3", "spine", "thorax"), ("neck", "thorax", "head"),
    ("left_collar", "thorax", "left_shoulder"), ("left_shoulder", "left_shoulder", "left_elbow"),
    ("left_elbow", "left_elbow", "left_wrist"),
    ("right_collar", "thorax", "right_shoulder"),
    ("right_shoulder", "right_shoulder", "right_elbow"),
    ("right_elbow", "right_elbow", "right_wrist"),
    ("left_hip", "left_hip", "left_knee"), ("left_knee", "left_knee", "left_ankle"),
    ("right_hip", "right_hip", "right_knee"), ("right_knee", "right_knee", "right_ankle"),
)  # fmt: skip
"""Bones aimed by swing IK (ssrstf.mesh.ik): (SMPL joint, H36M segment start, end)."""

MODEL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
H36M_REGRESSOR_FILE = "J_regressor_h36m.npy"

# What SMPL's .pkl files may contain: numpy arrays and scalars, scipy sparse matrices and the
# plain containers pickle builds them from. Anything else is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"), ("__builtin__", "object"), ("builtins", "object"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
    # Protocol 5 arrays: frombuffer(bytes, dtype).reshape(shape); object dtypes are refused.
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}  # fmt: skip
_SPARSE_CLASSES = {"csc_matrix", "csr_matrix", "coo_matrix"}
MAX_SPARSE_ENTRIES = 50_000_000
"""The largest dense size (rows × columns) of a sparse matrix in a model file (SMPL's
J_regressor: 24 × 6,890; SMPL-X's: 55 × 10,475)."""

_PICKLE_ALLOWED: ContextVar[bool] = ContextVar("ssrstf_smpl_pickle_allowed", default=False)


@contextlib.contextmanager
def smpl_pickle_allowed(allowed: bool = True) -> Iterator[None]:
    """Within the block, SMPL ``.pkl`` files may be read where no ``allow_pickle`` is given
    (how the CLI's ``--allow-pickle`` reaches a mesh model loaded deep inside the pipeline)."""
    token = _PICKLE_ALLOWED.set(allowed)
    try:
        yield
    finally:
        _PICKLE_ALLOWED.reset(token)


class _ModelUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and scipy sparse matrices only (see `_ALLOWED_GLOBALS`)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module.startswith("scipy.sparse") and name in _SPARSE_CLASSES:
            import scipy.sparse

            return getattr(scipy.sparse, name)
        if module.startswith("chumpy"):
            raise ValueError(
                "the file holds chumpy objects (an SMPL 1.0 .pkl); use the chumpy-free SMPL "
                "1.1 files or save the arrays as .npz (numpy.savez) first"
            )
        raise ValueError(f"the file refers to {module}.{name}, which a model file never needs")


def _dense(key: str, value: Any) -> np.ndarray:
    """A numeric array of a model file's value; a scipy sparse matrix is checked (shape,
    size, indices) before it is made dense."""
    if hasattr(value, "toarray"):  # scipy sparse (the unpickler builds no other such class)
        import scipy.sparse

        try:
            rows, cols = (int(n) for n in value.shape)
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"{key} is a sparse matrix without a valid shape") from None
        if rows < 0 or cols < 0 or rows * cols > MAX_SPARSE_ENTRIES:
            raise ValueError(
                f"{key} is a sparse matrix of shape ({rows}, {cols}), too large for a model file"
            )
        try:  # rebuilt through the constructors, which check the indices against the shape
            if isinstance(value, scipy.sparse.coo_matrix):
                parts = (value.data, (value.row, value.col))
                value = scipy.sparse.coo_matrix(parts, shape=(rows, cols))
            else:
                parts = (value.data, value.indices, value.indptr)
                value = type(value)(parts, shape=(rows, cols))
                value.check_format(full_check=True)
        except (AttributeError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"{key} is not a valid sparse matrix ({exc})") from None
        value = value.toarray()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{key} is not a numeric array (dtype {array.dtype})")
    return array


def read_smpl_file(path: str | Path, *, allow_pickle: bool | None = None) -> dict[str, np.ndarray]:
    """The arrays of an SMPL model file (``.npz`` or ``.pkl``), checked for the layout.

    Args:
        path: The file.
        allow_pickle: Read a ``.pkl`` (restricted unpickler, module docstring); None: only
            inside `smpl_pickle_allowed`. ``.npz`` files need nothing.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is a ``.pkl`` without the opt-in (the message names ``--allow-pickle``),
            unreadable, refers to code or chumpy, or lacks a key or has a wrong shape (the
            message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SMPL model file not found: {path}")
    if allow_pickle is None:
        allow_pickle = _PICKLE_ALLOWED.get()
    if path.suffix == ".pkl" and not allow_pickle:
        raise ValueError(
            f"{path}: SMPL .pkl files are pickles; pass --allow-pickle (allow_pickle=True) to "
            "read it with the restricted unpickler (numpy arrays and sparse matrices only), or "
            "save its arrays as .npz, which needs no flag"
        )
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                raw = {k: data[k] for k in data.files}
        elif path.suffix == ".pkl":
            raw = _ModelUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
        else:
            raise ValueError("an SMPL model file is .npz or .pkl")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable SMPL model file ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: not an SMPL model file (no mapping of arrays)")
    missing = [k for k in MODEL_KEYS if k not in raw]
    if missing:
        raise ValueError(f"{path}: not an SMPL model file (missing {', '.join(missing)})")
    try:
        arrays = {k: _dense(k, raw[k]) for k in MODEL_KEYS}
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    _check_layout(arrays, path)
    return arrays


def _check_layout(a: dict[str, np.ndarray], path: Path) -> None:
    v = a["v_template"].shape[0]
    k = a["weights"].shape[1] if a["weights"].ndim == 2 else -1
    expected = {
        "v_template": (v, 3),
        "shapedirs": (v, 3, a["shapedirs"].shape[-1]),
        "posedirs": (v, 3, 9 * (k - 1)),
        "J_regressor": (k, v),
        "weights": (v, k),
        "kintree_table": (2, k),
        "f": (a["f"].shape[0], 3),
    }
    for key, shape in expected.items():
        if a[key].shape != shape:
            raise ValueError(f"{path}: {key} has shape {a[key].shape}, expected {shape}")


def resolve_smpl_path(path: str | Path, gender: str = "neutral") -> Path:
    """An SMPL model file: ``path`` itself, or ``SMPL_<GENDER>.npz`` / ``.pkl`` in a folder.

    Raises:
        FileNotFoundError: Naming the files looked for.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"--body-model-path {path}: no such file or folder")
    names = [f"SMPL_{gender.upper()}.npz", f"SMPL_{gender.upper()}.pkl"]
    for name in names:
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(f"{path}: holds no SMPL model file ({' or '.join(names)})")


class SMPLBody(BodyModel):
    """SMPL (or any model in SMPL's file layout) as a `BodyModel`, float32.

    Its `identity`: the file's name and SHA-256 (what it was read from) and the SHA-256 of the
    float32 arrays it uses, ``J_regressor_h36m.npy`` included (what a checkpoint is compared on).

    Pose: one rotation per SMPL joint (24: the root's global orientation, then each joint's
    rotation relative to its parent, in SMPL's rest axes: y up, the body facing +z). Shape: the
    file's β coefficients (10 for the published files); the neutral shape is β = 0.

    Args:
        path: A model file or a folder holding ``SMPL_<GENDER>.npz``/``.pkl`` (and optionally
            ``J_regressor_h36m.npy``).
        gender: ``neutral``, ``male`` or ``female`` (which file a folder gives).
        allow_pickle: Read a ``.pkl`` model file (`read_smpl_file`).
    """

    def __init__(
        self, path: str | Path, *, gender: str = "neutral", allow_pickle: bool | None = None
    ) -> None:
        super().__init__()
        file = resolve_smpl_path(path, gender)
        a = read_smpl_file(file, allow_pickle=allow_pickle)
        self.source = str(file)
        parents = a["kintree_table"][0].astype(np.int64)
        k = len(parents)
        parents[0] = -1
        if np.any(parents[1:] < 0) or np.any(parents[1:] >= np.arange(1, k)):
            raise ValueError(f"{file}: kintree_table parents must precede their children")
        self.parents = tuple(int(p) for p in parents)
        f32 = torch.float32
        self.register_buffer("v_template", torch.tensor(a["v_template"], dtype=f32))
        self.register_buffer("shapedirs", torch.tensor(a["shapedirs"], dtype=f32))
        posedirs = a["posedirs"].reshape(-1, a["posedirs"].shape[-1])  # (3V, 9(K-1))
        self.register_buffer("posedirs", torch.tensor(posedirs, dtype=f32))
        self.register_buffer("j_regressor", torch.tensor(a["J_regressor"], dtype=f32))
        self.register_buffer("weights", torch.tensor(a["weights"], dtype=f32))
        self.register_buffer("faces", torch.tensor(a["f"].astype(np.int64)))
        names = SMPL_JOINT_NAMES if k == len(SMPL_JOINT_NAMES) else tuple(f"j{i}" for i in range(k))
        self.pose_bone_names = names
        self.shape_names = tuple(f"beta{i}" for i in range(a["shapedirs"].shape[-1]))
        regressor = file.parent / H36M_REGRESSOR_FILE
        self.h36m_regressor: Tensor | None
        self.register_buffer("h36m_regressor", None)  # a buffer (moved by .to) once set
        if regressor.is_file():
            matrix = _read_regressor(regressor)
            if matrix.shape != (H36M_17.num_joints, len(a["v_template"])):
                raise ValueError(f"{regressor}: shape {matrix.shape}, expected (17, V)")
            self.h36m_regressor = torch.tensor(matrix, dtype=f32)
        elif names != SMPL_JOINT_NAMES:
            raise ValueError(f"{file}: {k} joints is not SMPL's 24; add {H36M_REGRESSOR_FILE}")
        else:
            index = [SMPL_JOINT_NAMES.index(SMPL_TO_H36M[n]) for n in H36M_17.joint_names]
            self.register_buffer("h36m_joints", torch.tensor(index), persistent=False)
        # The file's bytes name it; the arrays as used decide (a .pkl and its .npz copy agree).
        content = (self.v_template, self.shapedirs, self.posedirs, self.j_regressor)
        content += (self.weights, self.faces, self.parents, self.h36m_regressor)
        self._identity = {
            "kind": "smpl",
            "file": file.name,
            "sha256": file_sha256(file),
            "content_sha256": content_sha256("smpl", *content),
        }
        if self.h36m_regressor is not None:
            self._identity["h36m_regressor"] = file_sha256(regressor)

    @property
    def num_vertices(self) -> int:
        """V (6890 for SMPL)."""
        return int(self.v_template.shape[0])

    def facing_camera(self) -> Tensor:
        """SMPL's up (+y) to the camera's up (−y), its front (+z) towards the camera (−z)."""
        return torch.diag(torch.tensor([1.0, -1.0, -1.0]))

    def neutral_shape(self) -> Tensor:
        """β = 0."""
        return self.v_template.new_zeros(self.num_shape)

    def foot_vertex_ids(self) -> Tensor:
        """Vertices skinned mostly to an ankle or foot joint (SMPL's 7, 8, 10, 11)."""
        names = ("left_ankle", "right_ankle", "left_foot", "right_foot")
        known = self.pose_bone_names
        feet = torch.tensor(
            [known.index(n) for n in names if n in known], device=self.weights.device
        )
        return torch.nonzero(torch.isin(self.weights.argmax(1), feet)).flatten()

    def ik_setup(self) -> IKSetup:
        """13 aimed joints (spine, neck, collars, arms, legs) of SMPL's tree, β = 0."""
        if self.pose_bone_names != SMPL_JOINT_NAMES:
            raise ValueError(f"{self.source}: swing IK needs SMPL's 24 joints")
        with torch.no_grad():
            rest = self(self.rest_pose(), self.neutral_shape()[None], vertices=False)
        joints = rest.joints[0, 0].double().cpu().numpy()
        aimed = [SMPL_JOINT_NAMES.index(bone) for bone, _, _ in _IK_SEGMENTS]
        ancestors = []
        for bone in aimed:
            parent = self.parents[bone]
            while parent > 0 and parent not in aimed:
                parent = self.parents[parent]
            ancestors.append(aimed.index(parent) if parent in aimed else -1)
        segments = [(b, s, e) for b, (_, s, e) in zip(aimed, _IK_SEGMENTS, strict=True)]
        index = H36M_17.index
        return IKSetup(
            links=ik_links(segments, joints, ancestors),
            rest_up=tuple(joints[index("spine")] - joints[index("pelvis")]),
            rest_across=tuple(joints[index("left_hip")] - joints[index("right_hip")]),
        )

    def joint_limits(self) -> list[JointLimit | None]:
        """Knees and elbows are hinges (axes from the rest pose); other joints up to 90°."""
        rest = (self.j_regressor @ self.v_template).detach().cpu().numpy()
        limits: list[JointLimit | None] = [None]
        limits += [JointLimit(max_angle=np.pi / 2)] * (self.num_pose_bones - 1)
        if self.pose_bone_names == SMPL_JOINT_NAMES:
            front = np.array([0.0, 0.0, 1.0])  # SMPL faces +z, y up
            for joint, child, flexion in (
                ("left_knee", "left_ankle", -front), ("right_knee", "right_ankle", -front),
                ("left_elbow", "left_wrist", front), ("right_elbow", "right_wrist", front),
            ):  # fmt: skip
                j, c = SMPL_JOINT_NAMES.index(joint), SMPL_JOINT_NAMES.index(child)
                limits[j] = hinge_limit(rest[c] - rest[j], flexion, max_angle=np.deg2rad(150))
        return limits

    def forward(self, pose: Tensor, shape: Tensor, *, vertices: bool | Tensor = True) -> BodyOutput:
        """Pose SMPL (see `BodyModel.forward`); the root joint ends at the origin."""
        self.check_inputs(pose, shape)
        b, t, k = pose.shape[:3]
        v_shaped = self.v_template + torch.einsum("bs,vcs->bvc", shape, self.shapedirs)
        rest_joints = torch.einsum("kv,bvc->bkc", self.j_regressor, v_shaped)  # (B, K, 3)
        rot = pose.reshape(b * t, k, 3, 3)
        joints_rest = rest_joints[:, None].expand(b, t, k, 3).reshape(b * t, k, 3)
        glob_rot, glob_pos = _chain(rot, joints_rest, self.parents)
        # Skinning transforms A_k = G_k · [I | −J_k]; the root's rest joint moves to the origin.
        shift = glob_pos[:, :1]
        translation = glob_pos - torch.einsum("nkij,nkj->nki", glob_rot, joints_rest) - shift
        subset = isinstance(vertices, Tensor)
        need_all = vertices is True or self.h36m_regressor is not None
        posed = None
        if need_all or subset:
            ids = None if need_all else vertices
            posed = self._skin(v_shaped, rot, glob_rot, translation, b, t, ids)
        if self.h36m_regressor is not None:
            assert posed is not None
            joints = torch.einsum("jv,nvc->njc", self.h36m_regressor, posed)
            joint_rot = glob_rot[:, :1].expand(-1, H36M_17.num_joints, 3, 3)
        else:
            joints = (glob_pos - shift)[:, self.h36m_joints]
            joint_rot = glob_rot[:, self.h36m_joints]
        out_vertices = None
        if posed is not None and vertices is not False:
            out_vertices = posed[:, vertices] if subset and need_all else posed
            out_vertices = out_vertices.reshape(b, t, -1, 3)
        return BodyOutput(
            joints=joints.reshape(b, t, -1, 3),
            joint_rotations=joint_rot.reshape(b, t, -1, 3, 3),
            vertices=out_vertices,
        )

    def skinned_mesh(self, pose: Tensor, shape: Tensor) -> SkinnedMesh:
        """SMPL's joints as bones (bind: ``[I | J_k]``), its 24 weights per vertex; without the
        pose-corrective blend shapes, which linear blend skinning cannot express."""
        self.check_inputs(pose, shape)
        with torch.no_grad():
            v_shaped = self.v_template + torch.einsum("bs,vcs->bvc", shape[:1], self.shapedirs)
            joints = torch.einsum("kv,bvc->bkc", self.j_regressor, v_shaped)[0]
            t, k = pose.shape[1:3]
            glob_rot, glob_pos = _chain(pose[0], joints.expand(t, k, 3), self.parents)
        posed = np.tile(np.eye(4), (t, k, 1, 1))
        posed[..., :3, :3] = glob_rot.double().cpu().numpy()
        posed[..., :3, 3] = (glob_pos - glob_pos[:, :1]).double().cpu().numpy()
        bind = np.tile(np.eye(4), (k, 1, 1))
        bind[:, :3, 3] = joints.double().cpu().numpy()
        weights = self.weights.double().cpu().numpy()
        return SkinnedMesh(
            rest_vertices=v_shaped[0].double().cpu().numpy(),
            faces=self.faces.cpu().numpy(),
            bone_names=self.pose_bone_names,
            bone_parents=self.parents,
            bind=bind,
            posed=posed,
            skin_bones=np.broadcast_to(np.arange(k), weights.shape).copy(),
            skin_weights=weights,
            note="SMPL without its pose-corrective blend shapes",
        )

    def _skin(self, v_shaped, rot, glob_rot, translation, b, t, ids):
        """Pose-corrected, skinned vertices (B·T, V', 3) (``ids``: a subset, or None: all)."""
        eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
        feature = (rot[:, 1:] - eye).reshape(b * t, -1)  # (N, 9(K-1))
        posedirs, weights = self.posedirs, self.weights
        shaped = v_shaped[:, None].expand(b, t, -1, 3).reshape(b * t, -1, 3)
        if ids is not None:
            cols = (ids[:, None] * 3 + torch.arange(3, device=ids.device)).reshape(-1)
            posedirs, weights, shaped = posedirs[cols], weights[ids], shaped[:, ids]
        v_posed = shaped + (feature @ posedirs.T).reshape(b * t, -1, 3)
        blend_rot = torch.einsum("vk,nkij->nvij", weights, glob_rot)
        blend_trans = torch.einsum("vk,nki->nvi", weights, translation)
        return torch.einsum("nvij,nvj->nvi", blend_rot, v_posed) + blend_trans


def _read_regressor(path: Path) -> np.ndarray:
    """A ``J_regressor_h36m.npy`` matrix (numeric, no pickles); errors name the file."""
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy regressor ({exc})") from None
    if not isinstance(matrix, np.ndarray) or matrix.dtype.kind not in "biuf":
        raise ValueError(f"{path}: not a numeric .npy regressor")
    return matrix


def _chain(rot: Tensor, joints: Tensor, parents: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Global rotations (N, K, 3, 3) and joint positions (N, K, 3) of SMPL's kinematic tree."""
    glob_rot, glob_pos = [rot[:, 0]], [joints[:, 0]]
    for k in range(1, rot.shape[1]):
        p = parents[k]
        glob_rot.append(glob_rot[p] @ rot[:, k])
        offset = joints[:, k] - joints[:, p]
        glob_pos.append(glob_pos[p] + torch.einsum("nij,nj->ni", glob_rot[p], offset))
    return torch.stack(glob_rot, 1), torch.stack(glob_pos, 1)


def hinge_limit(
    bone: np.ndarray, flexion: np.ndarray, *, max_angle: float, max_off_axis: float = 0.35
) -> JointLimit:
    """A hinge whose positive rotation turns ``bone`` (rest direction) towards ``flexion``.

    The axis is ``bone × flexion`` normalised (right-hand rule); extension past straight is
    allowed up to 10°.
    """
    axis = np.cross(bone, flexion)
    axis = axis / np.linalg.norm(axis)
    return JointLimit(
        max_angle=float(max_angle),
        hinge_axis=(float(axis[0]), float(axis[1]), float(axis[2])),
        max_extension=float(np.deg2rad(10)),
        max_off_axis=float(max_off_axis),
    )
