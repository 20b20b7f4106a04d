"""Self-describing checkpoints: safe to load, atomic to write, carrying their resolved config.

The one home of checkpoint I/O, below training, evaluation and inference (which all read
checkpoints); it depends only on `ssrstf.config` and `ssrstf.models`.

Two formats:

* **Training checkpoints** (``.pt``, `save_checkpoint`): ``torch.save`` of plain data —
  ``format_version``, ``config`` (plain dict), ``model`` (state dict of the unwrapped model),
  ``optimizer``, ``scheduler``, ``scaler`` (the fp16 loss scaler's state, only when one is in
  use), ``progress``, ``world_size``; a mesh run's also ``body_model``
  (`ssrstf.mesh.model.BODY_RECORD`). Loaded with ``torch.load(weights_only=True)``, which never
  runs pickled code.
* **Weights** (``.safetensors``, `export_weights`): the model tensors plus the config (JSON) in
  the safetensors metadata — small, framework-neutral, what the package ships as ``default``.

Both are written to a temporary file in the destination folder and renamed into place, so a run
killed at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from ssrstf.config import ExperimentConfig, ModelConfig, from_dict, to_dict
from ssrstf.files import atomic_write, check_input_file
from ssrstf.models import create_model

FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "default.safetensors"
"""The model shipped with the package (trained on Human3.6M, research use)."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write a training checkpoint (see the module docstring for the keys)."""
    payload = {"format_version": FORMAT_VERSION, **state}
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint safely (``weights_only=True``).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is corrupt, not an ssrstf checkpoint, or from a newer format.
    """
    path = check_input_file(path, "checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise ValueError(
            f"{path}: not a readable ssrstf checkpoint ({type(exc).__name__})"
        ) from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt or "model" not in ckpt:
        raise ValueError(f"{path}: not an ssrstf checkpoint (no format_version/model entries)")
    if not isinstance(ckpt["format_version"], int):
        raise ValueError(f"{path}: not an ssrstf checkpoint (format_version is not a number)")
    if ckpt["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path}: checkpoint format {ckpt['format_version']} is newer than this ssrstf "
            f"({FORMAT_VERSION}); upgrade the package"
        )
    return ckpt


def export_weights(path: str | Path, model: nn.Module, cfg: ExperimentConfig, **info: Any) -> Path:
    """Atomically write model weights + config (+ ``info`` strings) as safetensors."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": "ssrstf", "config": json.dumps(to_dict(cfg))}
    metadata.update({k: str(v) for k, v in info.items()})
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def resolve_packaged(spec: str | Path, packaged: Path, what: str) -> Path:
    """``"default"`` → the packaged file ``packaged`` (named ``what`` in the error when it is
    missing); anything else is a path."""
    if str(spec) == "default":
        if not packaged.is_file():
            raise FileNotFoundError(f"the packaged {what} is missing: {packaged}")
        return packaged
    return Path(spec)


def resolve_checkpoint(spec: str | Path) -> Path:
    """``"default"`` → the packaged model; anything else is a path."""
    return resolve_packaged(spec, DEFAULT_CHECKPOINT, "default model")


DEVICE_FORMS = "cpu, cuda, cuda:N, mps"
"""The ``--device`` values `check_device` accepts, for its error messages."""


def parse_device(spec: str | torch.device, *, option: str = "--device") -> torch.device:
    """``spec`` as a `torch.device`, whether or not torch can use it here (ONNX Runtime's CUDA
    provider runs beside a CPU-only torch).

    Raises:
        ValueError: ``spec`` is not a device name.
    """
    try:
        return torch.device(spec)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{option} {spec}: not a device; valid: {DEVICE_FORMS}") from None


def check_device(spec: str | torch.device, *, option: str = "--device") -> torch.device:
    """``spec`` as a `torch.device` this torch build can run models on (``option``: the setting
    the messages name, e.g. ``train.device``).

    Raises:
        ValueError: ``spec`` is not a device name, names a device type other than cpu, cuda or
            mps, or a CUDA/MPS device this machine or torch build does not have.
    """
    device = parse_device(spec, option=option)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{option} {spec}: no CUDA device is available to this torch build; "
                "use --device cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"{option} {spec}: this machine has {count} CUDA device(s) "
                f"(cuda:0 to cuda:{count - 1})"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{option} {spec}: MPS is not available here; use --device cpu")
    elif device.type != "cpu":
        raise ValueError(f"{option} {spec}: not a device models run on; valid: {DEVICE_FORMS}")
    return device


def load_model(
    spec: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, ExperimentConfig]:
    """Build the model a checkpoint describes and load its weights (evaluation mode).

    Args:
        spec: ``"default"``, a training checkpoint (``.pt``) or weights (``.safetensors``).
        device: Where to put the model (checked with `check_device` before anything is read).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the device is unusable, the file is corrupt or its weights do not fit its
            own config.
    """
    device = check_device(device)
    path, cfg, state = read_weights(spec)
    # Check the weights against the stored architecture on the meta device first: a file whose
    # config does not fit its tensors fails before any real model is built or tensor copied.
    with torch.device("meta"):
        check_weights(create_model(cfg.model).state_dict(), state, source=str(path))
    model = create_model(cfg.model)
    load_weights(model, state, source=str(path))
    return model.to(device).eval(), cfg


def read_weights(spec: str | Path) -> tuple[Path, ExperimentConfig, dict[str, torch.Tensor]]:
    """The file, stored config and model tensors of ``"default"``, a ``.pt`` or a
    ``.safetensors`` checkpoint, without building a model.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is corrupt or not an ssrstf checkpoint.
    """
    path = resolve_checkpoint(spec)
    if path.suffix == ".safetensors":
        cfg, state, _ = read_safetensors(path)
    else:
        ckpt = load_checkpoint(path)
        cfg, state = stored_config(ckpt.get("config"), source=path), ckpt["model"]
    return path, cfg, state


def model_differences(theirs: ModelConfig, ours: ModelConfig, *, limit: int = 3) -> str:
    """The first ``limit`` differing keys of two model sections, as
    ``model.dim: 16 there, 24 here`` (``theirs``: a checkpoint's, ``ours``: the config's)."""
    a, b = to_dict(theirs), to_dict(ours)
    keys = [k for k in b if b[k] != a.get(k)]
    return ", ".join(f"model.{k}: {a.get(k)!r} there, {b[k]!r} here" for k in keys[:limit])


def read_init_weights(
    spec: str | Path, model_cfg: ModelConfig
) -> tuple[Path, dict[str, torch.Tensor]]:
    """The model tensors of checkpoint ``spec`` for a fine-tuning start of ``model_cfg``.

    Args:
        spec: ``"default"``, a ``.pt`` or a ``.safetensors`` file (``train.init_weights``).
        model_cfg: The run's `ModelConfig`; the checkpoint's must be equal.

    Returns:
        The file read and its model state dict (load with `load_weights`).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: Naming the file and the first differing ``model`` keys when the
            architectures differ, or what is wrong with the file.
    """
    path, cfg, state = read_weights(spec)
    if cfg.model != model_cfg:
        raise ValueError(
            f"train.init_weights={spec}: {path} holds a different architecture "
            f"({model_differences(cfg.model, model_cfg)}); "
            "a fine-tuning start needs the same model section"
        )
    return path, state


def stored_config(data: Any, *, source: str | Path) -> ExperimentConfig:
    """The validated `ExperimentConfig` stored in a checkpoint, before any tensor is used.

    Raises:
        ValueError: Naming ``source`` and the offending key when the stored config is missing,
            not a mapping, or has unknown keys or invalid values (a value that breaks the
            validation's arithmetic, such as ``num_heads: 0``, included).
    """
    if not isinstance(data, dict):
        raise ValueError(f"{source}: the checkpoint stores no config (a mapping of sections)")
    try:
        return from_dict(data)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ValueError(f"{source}: invalid stored config: {exc}") from None
    except ArithmeticError as exc:
        raise ValueError(
            f"{source}: invalid stored config: a value breaks its validation "
            f"({type(exc).__name__}: {exc})"
        ) from None


def read_safetensors(
    path: Path, *, fmt: str = "ssrstf", what: str = "checkpoint"
) -> tuple[ExperimentConfig, dict[str, torch.Tensor], dict[str, str]]:
    """The stored config, tensors and metadata of a ``.safetensors`` file whose metadata says
    ``format: fmt`` (``"ssrstf"``: a lifter; ``"ssrstf-mesh"``: a mesh model, ``what`` naming
    it in errors).

    The metadata (format and config) is read and validated first; the tensors are read only
    from a file that passes.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is unreadable, of another format, or its config is not JSON or invalid.
    """
    check_input_file(path, what)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from None
    if metadata.get("format") != fmt or "config" not in metadata:
        raise ValueError(
            f"{path}: not an ssrstf {what} (no {fmt!r} config in its safetensors metadata)"
        )
    try:
        config = json.loads(metadata["config"])
    except ValueError:
        raise ValueError(f"{path}: the stored config is not valid JSON") from None
    cfg = stored_config(config, source=path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from None
    return cfg, state, metadata


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], *, source: str) -> None:
    """``load_state_dict(strict=True)`` with an error that says what does not match."""
    check_weights(model.state_dict(), state, source=source)
    model.load_state_dict(state)


def check_weights(own: dict[str, torch.Tensor], state: Any, *, source: str) -> None:
    """Check that ``state`` has exactly the names and shapes of ``own``, all finite.

    Raises:
        ValueError: Naming ``source``, the kind of mismatch and an example key.
    """
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{source}: the weights are not a mapping of names to tensors")
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape", wrong)):
            if keys:
                details.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        raise ValueError(
            f"{source}: weights do not match the model architecture: {'; '.join(details)}"
        )
    broken = [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        raise ValueError(f"{source}: {len(broken)} weight tensor(s) hold NaN or inf ({broken[0]})")
