"""Inference backends: the model in PyTorch, or exported to ONNX and run by ONNX Runtime.

Both give the same `Predictor` contract as `ssrstf.models.tta.make_predictor`: a numpy
function from input clips (B, T, J, C_in) to output clips (B, T, J, 3) in model units, flip
test-time augmentation included when asked for. The ONNX graph is the bare model with a dynamic
batch axis and a dynamic frame axis (input ``keypoints_2d``, output ``poses_3d``, float32); the
flip is applied around it in numpy with the same `ssrstf.skeleton.Skeleton.flip`, so the two
backends agree to float rounding (≤ 0.01 mm, checked in ``tests/test_backends.py``).

An exported file carries the checkpoint's config (JSON) in its metadata (``ssrstf_config``), so
`load_onnx` can rebuild everything inference needs from the ``.onnx`` file alone.

ONNX Runtime and the ``onnx`` package (torch's exporter needs it) are the optional extra
``onnx``; without them the ``onnxruntime`` backend fails with a one-line install hint.
"""

from __future__ import annotations

import functools
import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ssrstf.checkpoint import parse_device, stored_config
from ssrstf.config import ExperimentConfig, to_dict
from ssrstf.extras import require
from ssrstf.files import atomic_write
from ssrstf.models.tta import CPU_TOKENS_PER_FORWARD, make_predictor
from ssrstf.skeleton import SKELETONS, Skeleton

BACKENDS = ("torch", "onnxruntime")
"""Names accepted by ``--backend`` and ``backend=``."""

INPUT_NAME = "keypoints_2d"
"""The ONNX graph's input: (batch, frames, J, C_in) float32, screen-normalised 2D."""

OUTPUT_NAME = "poses_3d"
"""The ONNX graph's output: (batch, frames, J, 3) float32, model units (camera space: metres)."""

CONFIG_KEY = "ssrstf_config"
"""Metadata key of the checkpoint config (JSON) in an exported ``.onnx`` file."""

OPSET = 17

Predictor = Callable[[np.ndarray], np.ndarray]


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is one of `BACKENDS`, else raise a one-line `ValueError`."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    return backend


@functools.cache
def _register_symbolics() -> None:
    """ONNX translations of three layout ops that torch's TorchScript exporter lacks at opset 17
    (``Tensor.mT``, ``Tensor.T``) or gets wrong (``movedim`` with a negative dimension)."""
    from torch.onnx import register_custom_op_symbolic
    from torch.onnx import symbolic_helper as helper

    def transpose(g, x, perm):
        return g.op("Transpose", x, perm_i=perm)

    def swap_last_two(g, x):
        perm = list(range(helper._get_tensor_rank(x)))
        perm[-2:] = perm[-1], perm[-2]
        return transpose(g, x, perm)

    def reverse(g, x):
        return transpose(g, x, list(reversed(range(helper._get_tensor_rank(x)))))

    @helper.parse_args("v", "i", "i")
    def movedim(g, x, source, destination):
        rank = helper._get_tensor_rank(x)
        perm = list(range(rank))
        perm.remove(source % rank)
        perm.insert(destination % rank, source % rank)
        return transpose(g, x, perm)

    for name, fn in (("mT", swap_last_two), ("numpy_T", reverse), ("movedim", movedim)):
        register_custom_op_symbolic(f"aten::{name}", fn, OPSET)


def export_onnx(
    model: nn.Module, cfg: ExperimentConfig, path: str | Path | None = None, **info: str
) -> bytes:
    """The model as an ONNX graph with dynamic batch and frame axes (and write it to ``path``).

    Args:
        model: The lifter (evaluation mode is used; the model is not modified).
        cfg: Its experiment config, stored in the file's metadata.
        path: Also write the graph here, atomically; None: only return it.
        **info: More metadata strings (``source``, ``note``).

    Returns:
        The serialised ``ModelProto``.

    Raises:
        MissingExtraError: The ``onnx`` extra is not installed.
    """
    onnx = require("onnx", "onnx")
    _register_symbolics()
    joints = SKELETONS[cfg.model.skeleton].num_joints
    param = next(model.parameters())
    dummy = torch.zeros(2, cfg.model.num_frames, joints, cfg.model.in_channels, device=param.device)
    buffer = io.BytesIO()
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            # The input-shape checks in forward are traced as constants: expected, harmless.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (dummy,),
                buffer,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, 1-5 s
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={
                    name: {0: "batch", 1: "frames"} for name in (INPUT_NAME, OUTPUT_NAME)
                },
                opset_version=OPSET,
            )
    finally:
        model.train(was_training)
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in {CONFIG_KEY: json.dumps(to_dict(cfg)), **info}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    data = proto.SerializeToString()
    if path is not None:
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return data


def onnx_session(model: bytes | str | Path, *, device: str = "cpu", num_threads: int = 0):
    """An ONNX Runtime ``InferenceSession`` of a serialised graph or a ``.onnx`` file.

    Args:
        model: The serialised graph (`export_onnx`) or a path.
        device: ``"cpu"``, or ``"cuda"``/``"cuda:N"`` (that GPU) with onnxruntime-gpu installed.
        num_threads: Intra-op threads (0: torch's thread count, so ``--threads`` applies).

    Raises:
        MissingExtraError: ONNX Runtime (extra ``onnx``) is not installed.
        ValueError: Not a device name, one onnxruntime does not run on (mps), CUDA asked for
            without a CUDA provider (whatever torch's build: the provider is onnxruntime's),
            or an unreadable file.
    """
    target = parse_device(device)
    ort = require("onnxruntime", "onnx")
    providers: list = ["CPUExecutionProvider"]
    if target.type == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ValueError(
                "the onnxruntime backend has no CUDA provider here (needs onnxruntime-gpu); "
                "use --device cpu or --backend torch"
            )
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": target.index or 0}))
    elif target.type != "cpu":
        raise ValueError(
            f"--device {device}: the onnxruntime backend runs on cpu or cuda only; "
            "use --backend torch"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types for foreign files
        where = "the exported graph" if isinstance(model, bytes) else str(model)
        raise ValueError(f"{where}: not a readable ONNX model ({type(exc).__name__})") from None


class OnnxRuntimePredictor:
    """An ONNX Runtime session (`onnx_session`) as a `Predictor`, with flip TTA around it.

    Args:
        session: The session; its graph maps `INPUT_NAME` to `OUTPUT_NAME`.
        skeleton: Supplies the left/right flip.
        flip_test: ``(f(x) + flip(f(flip(x)))) / 2`` as `ssrstf.models.tta.predict_with_flip`.
        max_tokens: Tokens per run, as in `ssrstf.models.tta.make_predictor` (default
            `CPU_TOKENS_PER_FORWARD`; None would run whole batches).
        source: What the graph is (a file name), for error messages.

    Calling it raises `ValueError` (naming ``source``) when ONNX Runtime fails, whose own
    exception types are not `ValueError`.
    """

    def __init__(
        self,
        session,
        skeleton: Skeleton,
        *,
        flip_test: bool = True,
        max_tokens: int | None = CPU_TOKENS_PER_FORWARD,
        source: str = "the exported graph",
    ) -> None:
        self.session = session
        self.skeleton = skeleton
        self.flip_test = flip_test
        self.max_tokens = max_tokens
        self.source = source

    def _session_run(self, x: np.ndarray) -> np.ndarray:
        try:
            return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        except Exception as exc:  # onnxruntime's exception types derive from Exception only
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ValueError(
                f"{self.source}: onnxruntime failed on input {x.shape} "
                f"({type(exc).__name__}: {message})"
            ) from None

    def _run(self, x: np.ndarray) -> np.ndarray:
        if not self.flip_test:
            return self._session_run(x)
        both = np.concatenate([x, self.skeleton.flip(x)])
        plain, mirrored = np.split(self._session_run(both), 2)
        return (plain + self.skeleton.flip(mirrored)) / 2

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        """(B, T, J, C_in) clips → (B, T, J, 3) float32 outputs."""
        x = np.ascontiguousarray(clips, dtype=np.float32)
        tokens = x.shape[1] * x.shape[2] * (2 if self.flip_test else 1)
        chunk = len(x) if self.max_tokens is None else max(1, self.max_tokens // max(tokens, 1))
        if len(x) <= chunk:
            return self._run(x)
        return np.concatenate([self._run(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def make_backend_predictor(
    model: nn.Module,
    cfg: ExperimentConfig,
    *,
    backend: str = "torch",
    flip_test: bool = True,
    device: str = "cpu",
) -> Predictor:
    """A `Predictor` for ``model`` on ``backend`` (``torch`` or ``onnxruntime``).

    The ``onnxruntime`` backend exports the model in memory first (a few seconds).

    Raises:
        ValueError: For an unknown backend.
        MissingExtraError: ``onnxruntime`` without the ``onnx`` extra.
    """
    skeleton = SKELETONS[cfg.model.skeleton]
    if check_backend(backend) == "torch":
        return make_predictor(model, skeleton, flip_test=flip_test, device=device)
    require("onnxruntime", "onnx")  # fail before the export, not after it
    session = onnx_session(export_onnx(model, cfg), device=device)
    max_tokens = CPU_TOKENS_PER_FORWARD if torch.device(device).type == "cpu" else None
    return OnnxRuntimePredictor(session, skeleton, flip_test=flip_test, max_tokens=max_tokens)


def load_onnx(
    path: str | Path, *, flip_test: bool = True, device: str = "cpu", num_threads: int = 0
) -> tuple[OnnxRuntimePredictor, ExperimentConfig]:
    """A predictor for an exported ``.onnx`` file and the config stored in it.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the device is unusable, the file is not an ONNX file, carries no ssrstf
            config, or its graph's input or output does not fit that config.
        MissingExtraError: ONNX Runtime (extra ``onnx``) is not installed.
    """
    device = str(parse_device(device))
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {path}")
    session = onnx_session(path, device=device, num_threads=num_threads)
    text = session.get_modelmeta().custom_metadata_map.get(CONFIG_KEY)
    if text is None:
        raise ValueError(f"{path}: ONNX model without an ssrstf config ({CONFIG_KEY} metadata)")
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"{path}: the stored config is not valid JSON") from None
    cfg = stored_config(data, source=path)
    skeleton = SKELETONS[cfg.model.skeleton]
    check_graph(session, cfg, source=path)
    max_tokens = CPU_TOKENS_PER_FORWARD if torch.device(device).type == "cpu" else None
    predictor = OnnxRuntimePredictor(
        session, skeleton, flip_test=flip_test, max_tokens=max_tokens, source=str(path)
    )
    return predictor, cfg


def check_graph(session, cfg: ExperimentConfig, *, source: str | Path) -> None:
    """Check that a session's graph takes `INPUT_NAME` as (batch, frames, J, C_in) float32 with
    the joint count and channels of ``cfg`` and gives `OUTPUT_NAME`.

    Raises:
        ValueError: Naming ``source``, what the graph has and what its config needs.
    """
    joints, channels = SKELETONS[cfg.model.skeleton].num_joints, cfg.model.in_channels
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        names = ", ".join(repr(i.name) for i in inputs) or "none"
        raise ValueError(f"{source}: not an ssrstf graph (inputs {names}, needs {INPUT_NAME!r})")
    shape = list(inputs[0].shape)
    fits = len(shape) == 4 and shape[2] == joints and shape[3] == channels
    if not fits or inputs[0].type != "tensor(float)":
        raise ValueError(
            f"{source}: the graph input {INPUT_NAME!r} is {inputs[0].type} {shape}, but its "
            f"stored config needs tensor(float) [batch, frames, {joints}, {channels}]"
        )
    if OUTPUT_NAME not in [o.name for o in outputs]:
        raise ValueError(f"{source}: not an ssrstf graph (no output {OUTPUT_NAME!r})")
