"""Building, saving and loading mesh-recovery models (`MeshRecovery`).

Checkpoints of a mesh run (``ssrstf train`` with ``mesh.use_mesh_head: true``) are ordinary
training checkpoints (`ssrstf.checkpoint`) whose state holds ``backbone.*`` and ``head.*``.
`export_mesh_weights` writes the shippable form: safetensors with the config in its metadata
and, when the backbone was frozen, only the head's tensors plus the SHA-256 of the backbone
checkpoint they were trained on (checked on load, so a head never runs on another backbone).
Every mesh checkpoint, training or exported, also records the body model it was trained with
(`BODY_RECORD`, `BodyModel.identity`), compared with the body model it is loaded with
(`check_body_record`). The package ships one head-only file,
``checkpoints/mesh_default.safetensors`` (anny; trained on Human3.6M: research use only, like
the default lifter), with its record (anny 0.6.2).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from ssrstf.checkpoint import (
    check_device,
    load_checkpoint,
    load_model,
    load_weights,
    model_differences,
    read_safetensors,
    resolve_checkpoint,
    resolve_packaged,
    stored_config,
)
from ssrstf.config import ExperimentConfig, MeshConfig, to_dict
from ssrstf.files import atomic_write, file_sha256
from ssrstf.mesh.body import BodyModel
from ssrstf.mesh.head import MeshHead, MeshRecovery
from ssrstf.mesh.smpl_body import H36M_REGRESSOR_FILE
from ssrstf.models import create_model

DEFAULT_MESH_CHECKPOINT = (
    Path(__file__).resolve().parents[1] / "checkpoints" / "mesh_default.safetensors"
)
"""The mesh head shipped with the package (on the default lifter; trained on Human3.6M)."""
MESH_FORMAT = "ssrstf-mesh"
BODY_RECORD = "body_model"
"""The checkpoint entry holding the training body model's `BodyModel.identity`: a JSON string in
an exported file's safetensors metadata, a mapping in a training checkpoint (``.pt``)."""

logger = logging.getLogger(__name__)
_NOTED: set[str] = set()  # the notes already logged (each once per process)


_BODIES: dict[str, BodyModel] = {}


def build_body_model(
    name: str = "anny", path: str | Path = "", *, allow_pickle: bool | None = None
) -> BodyModel:
    """The body model ``name`` (``anny`` or ``smpl``, the latter from ``path``; a ``.pkl``
    SMPL file needs ``allow_pickle``, see `ssrstf.mesh.smpl_body.read_smpl_file`).

    anny is built once per process and shared (it holds data, no weights): every mesh model
    of the process starts from the same instance; moving a model (``.to``) gives it its own
    copy on the new device and dtype (`BodyModel.moved`), the shared one stays on the CPU.

    Raises:
        ValueError: Unknown name, or ``smpl`` without a path.
        ImportError: `ssrstf.mesh.extra.MissingMeshError` when anny is not installed.
    """
    if name == "anny":
        from ssrstf.mesh.anny_body import AnnyBody

        if "anny" not in _BODIES:
            _BODIES["anny"] = AnnyBody()
        return _BODIES["anny"]
    if name == "smpl":
        if not path:
            raise ValueError("the SMPL body model needs --body-model-path (SMPL_NEUTRAL.npz/.pkl)")
        from ssrstf.mesh.smpl_body import SMPLBody

        return SMPLBody(path, allow_pickle=allow_pickle)
    raise ValueError(f"unknown body model {name!r}; valid: anny, smpl")


def build_head(mesh: MeshConfig, body: BodyModel, rep_dim: int) -> MeshHead:
    """A new `MeshHead` for ``body`` (near the rest pose and the average shape)."""
    return MeshHead(
        num_pose_bones=body.num_pose_bones,
        num_shape=body.num_shape,
        rest_root=body.facing_camera(),
        neutral_shape=body.neutral_shape().cpu(),
        rep_dim=rep_dim,
        joint_dim=mesh.joint_dim,
        hidden_dim=mesh.hidden_dim,
        dropout=mesh.dropout,
        shape_activation="sigmoid" if mesh.body_model == "anny" else "identity",
    )


def resolve_backbone_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` with its ``model`` section taken from ``mesh.backbone``'s checkpoint (if any)."""
    if not cfg.mesh.backbone:
        return cfg
    _, backbone_cfg = load_model(cfg.mesh.backbone)
    return replace(cfg, model=backbone_cfg.model)


def create_mesh_model(
    cfg: ExperimentConfig,
    *,
    body: BodyModel | None = None,
    load_backbone: bool = True,
    allow_pickle: bool | None = None,
) -> MeshRecovery:
    """The `MeshRecovery` of a mesh config: its backbone (from ``mesh.backbone`` when
    ``load_backbone``, else freshly initialised), a new head and the body model
    (``allow_pickle``: see `build_body_model`)."""
    mesh = cfg.mesh
    body = (
        body
        if body is not None
        else build_body_model(mesh.body_model, mesh.body_model_path, allow_pickle=allow_pickle)
    )
    if mesh.backbone and load_backbone:
        backbone, backbone_cfg = load_model(mesh.backbone)
        if backbone_cfg.model != cfg.model:
            raise ValueError(
                f"mesh.backbone {mesh.backbone}: its model differs from the config's model "
                f"section ({model_differences(backbone_cfg.model, cfg.model)}; "
                "resolve_backbone_config copies it)"
            )
    else:
        backbone = create_model(cfg.model)
    head = build_head(mesh, body, cfg.model.rep_dim)
    return MeshRecovery(
        backbone, head, body, freeze_backbone=mesh.freeze_backbone, use_joint_ik=mesh.use_joint_ik
    )


def export_mesh_weights(
    path: str | Path, model: MeshRecovery, cfg: ExperimentConfig, *, overwrite: bool = False,
    **info: str,
) -> Path:  # fmt: skip
    """Write a mesh model as safetensors (head only when its backbone is frozen: then with the
    SHA-256 of the backbone file, after checking that the file holds the model's backbone), with
    the record of its body model (`trained_body`).

    Raises:
        ValueError: The backbone file (``mesh.backbone``, e.g. ``default``) no longer holds the
            backbone the head was trained on (other tensors, names or shapes).
    """
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": MESH_FORMAT, "config": json.dumps(to_dict(cfg))}
    if cfg.mesh.freeze_backbone and cfg.mesh.backbone:
        backbone_file = resolve_checkpoint(cfg.mesh.backbone)
        on_file = load_model(backbone_file)[0].state_dict()
        names = {k.removeprefix("backbone.") for k in state if k.startswith("backbone.")}
        if on_file.keys() != names or any(  # another model, or other weights
            not torch.equal(state[f"backbone.{k}"], v) for k, v in on_file.items()
        ):
            raise ValueError(
                f"{backbone_file} is not the backbone this head was trained on (it changed since); "
                "retrain the head on it, or export it with its backbone (freeze_backbone: false)"
            )
        state = {k: v for k, v in state.items() if k.startswith("head.")}
        metadata["backbone_sha256"] = file_sha256(backbone_file)
    metadata[BODY_RECORD] = json.dumps(trained_body(model))
    metadata.update({k: str(v) for k, v in info.items()})
    return atomic_write(
        path, lambda tmp: save_file(state, str(tmp), metadata=metadata), overwrite=overwrite
    )


def resolve_mesh_checkpoint(spec: str | Path) -> Path:
    """``"default"`` → the packaged mesh head; anything else is a path."""
    return resolve_packaged(spec, DEFAULT_MESH_CHECKPOINT, "mesh head")


def _read(path: Path) -> tuple[ExperimentConfig, dict[str, torch.Tensor], dict[str, Any]]:
    if path.suffix != ".safetensors":
        ckpt = load_checkpoint(path)
        metadata = {k: ckpt[k] for k in (BODY_RECORD,) if k in ckpt}
        return stored_config(ckpt.get("config"), source=path), ckpt["model"], metadata
    return read_safetensors(path, fmt=MESH_FORMAT, what="mesh model")


def trained_body(model: MeshRecovery) -> dict[str, str]:
    """The record of the body model ``model`` was trained with, what its checkpoints store:
    that of the checkpoint it was loaded from (`MeshRecovery.trained_body`), else its own
    body's `BodyModel.identity` (a new model, or one from a file that records none)."""
    return dict(model.trained_body or model.body.identity())


def recorded_body(stored: Any, *, source: str | Path) -> dict[str, str] | None:
    """The body-model record a checkpoint stores under `BODY_RECORD` (a JSON string or a
    mapping; None: it has none).

    Raises:
        ValueError: Naming ``source`` when it is not a mapping of strings with ``kind`` and
            ``content_sha256``.
    """
    if stored is None:
        return None
    record = stored
    if isinstance(stored, str):
        try:
            record = json.loads(stored)
        except ValueError:
            record = None
    if (
        not isinstance(record, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in record.items())
        or not {"kind", "content_sha256"} <= record.keys()
    ):
        raise ValueError(
            f"{source}: its {BODY_RECORD!r} record is not a body-model identity "
            "(a JSON mapping of strings with kind and content_sha256)"
        )
    return record


def describe_body(record: dict[str, str]) -> str:
    """A body-model record in a few words: ``smpl SMPL_FEMALE.npz (file sha256 1a2b3c4d5e6f,
    content 9f8e7d6c5b4a)``, ``anny 0.6.2 (content 9f8e7d6c5b4a)``."""
    names = [record["kind"], record.get("file") or record.get("version", "")]
    if "h36m_regressor" in record:
        names.append(f"+ {H36M_REGRESSOR_FILE}")
    digests = [f"file sha256 {record['sha256'][:12]}"] if "sha256" in record else []
    digests.append(f"content {record['content_sha256'][:12]}")
    return f"{' '.join(n for n in names if n)} ({', '.join(digests)})"


def check_body_record(
    record: dict[str, str] | None,
    body: BodyModel,
    *,
    source: str | Path,
    allow_mismatch: bool = False,
    hint: str | None = None,
) -> None:
    """Check that ``body`` is the body model a mesh checkpoint (``source``) was trained with
    (``hint``: what the error tells the user to do, instead of the loading options).

    A mesh head predicts the parameters of one body model: the same numbers on another (SMPL of
    another gender or release, another anny rig) are another pose and another body, and nothing
    downstream can tell; the meshes are just wrong. A mismatch is therefore an error by default:
    it is what a user who passed the wrong ``--body-model-path`` (or whose file changed) needs to
    hear, before any output is written. ``allow_mismatch`` (``allow_body_mismatch=True`` of
    `load_mesh_model`) is the explicit override for deliberate re-targeting (e.g. a head trained
    on the neutral SMPL shown on a gendered one), as ``allow_pickle`` is for ``.pkl`` files; it
    logs a warning instead.

    Compared: ``kind`` and ``content_sha256`` (the data the body computes with). A file's name
    and SHA-256 are recorded but not compared: an SMPL ``.pkl`` saved as ``.npz`` (which
    docs/mesh.md advises) has other bytes and the same arrays. anny of another version with the
    same mesh, rig and joints loads with a warning (its shapes may differ slightly). A
    checkpoint without a record (written before ssrstf kept one) loads unchecked, with an info
    message once per file.

    Raises:
        ValueError: One line naming ``source``, the recorded body and ``body``, unless
            ``allow_mismatch``.
    """
    given = body.identity()
    if record is None:
        note = f"{source} records no body model (an older file): using {describe_body(given)}"
        _note_once(logging.INFO, note)
        return
    if record["kind"] == given["kind"] and record["content_sha256"] == given["content_sha256"]:
        if any(record.get(k, "") != given.get(k, "") for k in ("version", "variant")):
            _note_once(
                logging.WARNING,
                f"{source} was trained with {describe_body(record)} {record.get('variant', '')}, "
                f"this is {describe_body(given)} {given.get('variant', '')}: the same mesh and "
                "rig, its shapes may differ slightly",
            )
        return
    message = (
        f"{source}: this mesh head was trained on the body model {describe_body(record)}, "
        f"not on the given {describe_body(given)}"
    )
    if not allow_mismatch:
        if hint is None:
            given_by = " (--body-model-path)" if record["kind"] == "smpl" else ""
            hint = (
                f"pass the body model it was trained on{given_by}, or "
                "allow_body_mismatch=True to use this one anyway"
            )
        raise ValueError(f"{message}; {hint}")
    _note_once(logging.WARNING, f"{message} (allow_body_mismatch)")


def _note_once(level: int, message: str) -> None:
    """Log ``message`` at ``level`` the first time this process sees it."""
    if message not in _NOTED:
        _NOTED.add(message)
        logger.log(level, "%s", message)


def load_mesh_model(
    spec: str | Path = "default",
    *,
    device: str | torch.device = "cpu",
    body: BodyModel | None = None,
    body_model_path: str | Path | None = None,
    allow_pickle: bool | None = None,
    allow_body_mismatch: bool = False,
) -> tuple[MeshRecovery, ExperimentConfig]:
    """A trained `MeshRecovery` (evaluation mode) and its config.

    Args:
        spec: ``"default"`` (packaged), a mesh run's ``.pt`` or an exported ``.safetensors``.
        device: Where to put it (checked with `ssrstf.checkpoint.check_device` first).
        body: A body model to use (e.g. one shared anny instance); default: build the one the
            config names.
        body_model_path: SMPL files to use instead of the config's ``mesh.body_model_path``.
        allow_pickle: Read an SMPL ``.pkl`` file (the given one or the config's, which a
            downloaded checkpoint chooses); None: only inside
            `ssrstf.mesh.smpl_body.smpl_pickle_allowed`. ``.npz`` files need nothing.
        allow_body_mismatch: Use the body model even if it is not the one the checkpoint
            records (a warning instead of the error; `check_body_record`).

    Raises:
        FileNotFoundError: Missing file (the checkpoint, or the backbone a head-only file
            names).
        ValueError: An unusable device, not a mesh checkpoint, unreadable, a head-only file
            whose backbone checkpoint has changed, a body model other than the recorded one
            (without ``allow_body_mismatch``), or weights that do not fit the config.
    """
    device = check_device(device)
    path = resolve_mesh_checkpoint(spec)
    cfg, state, metadata = _read(path)
    if not cfg.mesh.use_mesh_head:
        raise ValueError(f"{path}: a lifter checkpoint, not a mesh model (mesh.use_mesh_head)")
    if body_model_path:
        cfg = replace(cfg, mesh=replace(cfg.mesh, body_model_path=str(body_model_path)))
    head_only = "backbone_sha256" in metadata
    if head_only:
        backbone_file = resolve_checkpoint(cfg.mesh.backbone)
        if not backbone_file.is_file():
            raise FileNotFoundError(
                f"{path}: the backbone this head was trained on is missing: {backbone_file} "
                "(mesh.backbone)"
            )
        if file_sha256(backbone_file) != metadata["backbone_sha256"]:
            raise ValueError(
                f"{path}: this head was trained on another backbone than {backbone_file} "
                "(its SHA-256 differs); retrain or export it with its backbone"
            )
    record = recorded_body(metadata.get(BODY_RECORD), source=path)
    mesh = cfg.mesh
    body = (
        body
        if body is not None
        else build_body_model(mesh.body_model, mesh.body_model_path, allow_pickle=allow_pickle)
    )
    check_body_record(record, body, source=path, allow_mismatch=allow_body_mismatch)
    model = create_mesh_model(cfg, body=body, load_backbone=head_only)
    model.trained_body = record
    target: nn.Module = model.head if head_only else model
    if head_only:
        state = {k.removeprefix("head."): v for k, v in state.items()}
    load_weights(target, state, source=str(path))
    return model.to(device).eval(), cfg
