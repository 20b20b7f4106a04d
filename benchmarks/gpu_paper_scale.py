"""Paper-scale SSR-STF (T = 243) trained on a lent GPU, unattended: pack here, run there, join here.

The lent GPU machine (docs/gpu.md) takes a copy of the working tree plus at most 64 MiB of
carried files, has no network, and runs one command of at most 10 minutes. Human3.6M does not
fit: the prepared ``data/h36m.npz`` is 1.6 GB, the raw release 141 MB. So:

``pack`` (here)
    Packs the raw release (``../shared/data/h36m``) into one compact file under a git-ignored
    folder (default ``data/gpu_pack/h36m_pack.npz``): the world 3D quantised to 0.25 mm, the
    Stacked-Hourglass 2D exactly, and the cameras. Everything else ``prepare-h36m`` computes
    (camera-frame 3D, ground-truth 2D, 2.5D poses) is a function of these, so it is rebuilt
    there by the same `ssrstf.data.prepare.prepare_h36m`. Each series is predicted from its
    previous frames (order-2 differences for the smooth motion capture, order-1 for the
    jittery detections), stored as int8 with an escape list for the rare large residuals, and
    xz-compressed. ``--verify data/h36m.npz`` rebuilds the prepared file and reports its error
    against the reference; the command to give the device tool is printed last.

``run`` (there)
    Checks the GPU with a few bf16 training steps on random clips (fails in seconds on a broken
    machine), unpacks and rebuilds the prepared file (``prepare_h36m``), trains SSR-STF-base
    (T = 243, SH 2D input, camera-frame targets, bf16) until a wall-clock budget
    (``train.max_minutes``, ``train.clock: wall``, cosine schedule over that budget) that
    leaves room for the rest, exports the final weights (safetensors), evaluates
    them with the full VideoPose3D protocol (flip TTA, per-action tables) on SH and on GT 2D
    exactly as ``ssrstf evaluate --checkpoint ... --input sh|gt`` does, and writes into ``$OUT``:
    ``report.md`` (labelled "trained on GPU (<device>), N minutes"), ``results.json`` (figures,
    timings, config, the training log) and the weights, split into parts under the 16 MiB
    per-file limit of what comes back. Weights and figures are written as soon as they exist,
    so a run cut short still returns what it finished.

``join`` (here)
    Concatenates the returned parts into one ``model.safetensors`` and checks its sha256; it
    then works with ``ssrstf evaluate --checkpoint``.

``--tiny`` (``run``) does every step on the CPU with a tiny model in well under a minute, on
whatever pack it is given (the tests pack a synthetic raw folder; ``pack --max-frames 300``
packs a sub-sampled real one). GPU figures are only ever labelled as such; nothing in the
project needs a GPU.

Usage::

    python benchmarks/gpu_paper_scale.py pack --verify data/h36m.npz    # here, ~3 min
    # device tool: the command `pack` prints, carry ["data/gpu_pack"], timeout_s 600
    python benchmarks/gpu_paper_scale.py join /work/.device/.../out --out runs/gpu/model.safetensors
    python benchmarks/gpu_paper_scale.py run --tiny --pack data/gpu_pack --out /tmp/gpu_tiny
"""

from __future__ import annotations

import time

START = time.monotonic()  # the run's budget counts from here (heavy imports come later)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import lzma  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # the device machine runs from the tree, not installed
    sys.path.insert(0, str(ROOT / "src"))

logger = logging.getLogger("gpu_paper_scale")

PACK_FORMAT = "ssrstf-h36m-pack-1"
PACK_FILE = "h36m_pack.npz"
DEFAULT_PACK_DIR = "data/gpu_pack"
STEP_3D_MM = 0.25
"""Quantisation step of the world 3D: each coordinate is off by at most half of it."""
ORDER_3D, ORDER_SH = 2, 1
"""Temporal prediction order per series: motion capture is smooth (order 2, linear
extrapolation), detections jitter by a pixel or two per frame (order 1)."""
ESCAPE = -128
"""int8 code of a residual outside [-127, 127]; its value follows in the escape list."""
XZ_FILTERS = [
    {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "lc": 4, "lp": 0, "pb": 0}
]
"""lzma2 with 4 bits of literal context (the previous residual byte) and no position bits:
measured best on these int8 residual streams."""
PART_MIB = 15.0
"""Largest file written to $OUT (the tool brings back at most 16 MiB per file)."""
DEVICE_COMMAND_LIMIT = 2000
DEFAULT_CONFIG = "configs/ssrstf-base_243f_h36m-sh.yaml"
PAPER_SCALE_OVERRIDES = (
    # The VideoPose3D protocol (camera-frame, every test frame scored) on SH input.
    "data.input_source=sh",
    "data.target_space=camera",
    "eval.protocol=videopose3d",
    "eval.flip_test=true",
    # bf16 on the GPU, budgeted by wall-clock time; the rate anneals when the budget ends.
    "train.precision=bf16",
    "train.clock=wall",
    "train.schedule=cosine_time",
    "data.num_workers=4",
    # Quick evaluations once per epoch and at the end of training (1 in 50 test clips, SH only,
    # labelled QUICK; a few seconds each, since a call per stream dominates): the full protocol
    # runs afterwards on the exported weights, SH and GT.
    "eval.every=50",
    "eval.final_every=50",
    "eval.batch_size=64",
)
TINY_OVERRIDES = (
    "model.dim=16",
    "model.depth=2",
    "model.num_heads=2",
    "model.rep_dim=32",
    "model.num_frames=9",
    "train.batch_size=4",
    "train.device=cpu",
    "train.num_threads=1",
    "data.num_workers=0",
    "eval.every=2",
    "eval.final_every=2",
    "eval.batch_size=16",
)


# ---------------------------------------------------------------------------------------------
# The residual codec: integer series -> int8 residuals + escapes -> xz.


def _xz(data: bytes) -> np.ndarray:
    return np.frombuffer(lzma.compress(data, format=lzma.FORMAT_XZ, filters=XZ_FILTERS), np.uint8)


def encode_series(series: Sequence[np.ndarray], order: int) -> dict[str, np.ndarray]:
    """Losslessly compress integer series (one per stream) by temporal prediction.

    Args:
        series: Integer arrays (F_i, ...) with the same trailing shape.
        order: Differences taken along frames (1: previous frame, 2: linear extrapolation).

    Returns:
        ``code`` (xz of the int8 residuals, frame-major), ``escapes`` (xz of the int32
        residuals that int8 cannot hold, in order), ``lengths`` (F_i).
    """
    residuals = []
    for values in series:
        r = np.asarray(values, dtype=np.int64).reshape(len(values), -1)
        for _ in range(order):
            r = np.diff(r, axis=0, prepend=np.zeros_like(r[:1]))
        residuals.append(r)
    r = np.concatenate(residuals) if residuals else np.zeros((0, 1), np.int64)
    small = np.abs(r) <= 127
    escapes = r[~small]
    if escapes.size and np.abs(escapes).max() >= 2**31:
        raise ValueError("a residual does not fit in int32; the series is not integer-like")
    return {
        "code": _xz(np.where(small, r, ESCAPE).astype(np.int8).tobytes()),
        "escapes": _xz(escapes.astype("<i4").tobytes()),
        "lengths": np.array([len(v) for v in series], dtype=np.int64),
    }


def decode_series(
    code: np.ndarray, escapes: np.ndarray, lengths: np.ndarray, shape: tuple[int, ...], order: int
) -> list[np.ndarray]:
    """Inverse of `encode_series`: int64 arrays (F_i, *shape)."""
    flat = np.frombuffer(lzma.decompress(code.tobytes()), np.int8).astype(np.int64)
    escaped = flat == ESCAPE
    flat[escaped] = np.frombuffer(lzma.decompress(escapes.tobytes()), "<i4")
    width = int(np.prod(shape))
    r = flat.reshape(-1, width)
    if len(r) != lengths.sum():
        raise ValueError(f"pack holds {len(r)} frames, its index {lengths.sum()}")
    out, start = [], 0
    for length in lengths:
        values = r[start : start + length]
        for _ in range(order):
            values = np.cumsum(values, axis=0)
        out.append(values.reshape(int(length), *shape))
        start += length
    return out


def _digest(arrays: Sequence[np.ndarray]) -> str:
    sha = hashlib.sha256()
    for a in arrays:
        sha.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return sha.hexdigest()


# ---------------------------------------------------------------------------------------------
# pack / unpack.


def pack_h36m(
    source: str | Path,
    out: str | Path,
    *,
    subjects: Sequence[str] | None = None,
    max_frames: int | None = None,
) -> Path:
    """Pack the raw Human3.6M layout (``ssrstf.data.prepare`` RAW_* files) into one file.

    Args:
        source: Folder with the raw files (``../shared/data/h36m`` or a synthetic one).
        out: Output folder (``PACK_FILE`` is written inside) or a ``.npz`` path.
        subjects: Only these subjects (all when None).
        max_frames: Keep the first N frames of each sequence (a small pack for tiny runs).

    Returns:
        The pack file.
    """
    from ssrstf.data.prepare import RAW_CAMERAS, RAW_KEYPOINTS_SH, RAW_POSES_3D
    from ssrstf.files import atomic_write, open_npz, read_text

    source = Path(source)
    wanted = set(subjects) if subjects else None
    with open_npz(source / RAW_POSES_3D, "3D pose archive") as data:
        keys_3d = sorted(k for k in data.files if wanted is None or k.split("/")[0] in wanted)
        world = {k: np.asarray(data[k], np.float64)[:max_frames] for k in keys_3d}
    with open_npz(source / RAW_KEYPOINTS_SH, "2D keypoint archive") as data:
        # Detections longer than the motion capture are trimmed by prepare-h36m: drop the rest.
        keys_sh = sorted(k for k in data.files if k.rsplit("/", 1)[0] in world)
        sh = {k: np.asarray(data[k])[: len(world[k.rsplit("/", 1)[0]])] for k in keys_sh}
    for key, values in sh.items():
        if not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{RAW_KEYPOINTS_SH}[{key!r}]: expected integer pixels")
    shapes = {name: {v.shape[1:] for v in d.values()} for name, d in (("3d", world), ("sh", sh))}
    if any(len(found) > 1 for found in shapes.values()):
        raise ValueError(f"{source}: arrays of one file differ in their joint layout: {shapes}")
    shape = {name: next(iter(found), ()) for name, found in shapes.items()}  # (J, C) per series
    step_m = STEP_3D_MM / 1000.0
    quantised = [np.round(world[k] / step_m).astype(np.int64) for k in keys_3d]
    enc_3d = encode_series(quantised, ORDER_3D)
    enc_sh = encode_series([sh[k] for k in keys_sh], ORDER_SH)
    arrays = {
        "format": np.asarray(PACK_FORMAT),
        "step_3d_mm": np.asarray(STEP_3D_MM),
        "shape_3d": np.asarray(shape["3d"], np.int64),
        "shape_sh": np.asarray(shape["sh"], np.int64),
        "keys_3d": np.asarray(keys_3d),
        "keys_sh": np.asarray(keys_sh),
        "cameras_json": np.asarray(read_text(source / RAW_CAMERAS, "camera file")),
        "sha256_3d": np.asarray(_digest(quantised)),
        "sha256_sh": np.asarray(_digest([sh[k] for k in keys_sh])),
        "provenance": np.asarray(
            f"{source.name}/ packed by benchmarks/gpu_paper_scale.py"
            + (f", subjects {sorted(wanted)}" if wanted else "")
            + (f", first {max_frames} frames per sequence" if max_frames else "")
        ),
        **{f"{k}_3d": v for k, v in enc_3d.items()},
        **{f"{k}_sh": v for k, v in enc_sh.items()},
    }
    out = Path(out)
    path = out if out.suffix == ".npz" else out / PACK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(temp: Path) -> None:
        with temp.open("wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)
    return path


def _pack_path(pack: str | Path) -> Path:
    pack = Path(pack)
    return pack / PACK_FILE if pack.is_dir() else pack


def pack_info(pack: str | Path) -> dict[str, Any]:
    """What a pack holds (for reports): provenance, sequences, 2D streams, frames, its step."""
    with np.load(_pack_path(pack)) as data:
        return {
            "provenance": str(data["provenance"]),
            "sequences": len(data["keys_3d"]),
            "sh_streams": len(data["keys_sh"]),
            "frames_3d": int(data["lengths_3d"].sum()),
            "step_3d_mm": float(data["step_3d_mm"]),
            "bytes": _pack_path(pack).stat().st_size,
        }


def unpack_raw(pack: str | Path, folder: str | Path) -> Path:
    """Write the raw layout that ``prepare-h36m`` reads from a pack (3D dequantised, metres).

    Raises:
        ValueError: If the pack is of another format or fails its checksums.
    """
    from ssrstf.data.prepare import RAW_CAMERAS, RAW_KEYPOINTS_SH, RAW_POSES_3D
    from ssrstf.files import open_npz

    path = _pack_path(pack)
    with open_npz(path, "GPU data pack") as data:
        if "format" not in data.files or str(data["format"]) != PACK_FORMAT:
            raise ValueError(f"{path}: not a {PACK_FORMAT} file")
        d = {k: data[k] for k in data.files}
    keys_3d, keys_sh = [str(k) for k in d["keys_3d"]], [str(k) for k in d["keys_sh"]]

    def decode(name: str, order: int) -> list[np.ndarray]:
        shape = tuple(int(x) for x in d[f"shape_{name}"])
        return decode_series(
            d[f"code_{name}"], d[f"escapes_{name}"], d[f"lengths_{name}"], shape, order
        )

    world, sh = decode("3d", ORDER_3D), decode("sh", ORDER_SH)
    for name, arrays in (("3d", world), ("sh", sh)):
        if _digest(arrays) != str(d[f"sha256_{name}"]):
            raise ValueError(f"{path}: the decoded {name} series fail their checksum")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    step_m = float(d["step_3d_mm"]) / 1000.0
    np.savez(
        folder / RAW_POSES_3D,
        **{k: (q * step_m).astype(np.float32) for k, q in zip(keys_3d, world, strict=True)},
    )
    np.savez(
        folder / RAW_KEYPOINTS_SH,
        **{k: v.astype(np.int16) for k, v in zip(keys_sh, sh, strict=True)},
    )
    (folder / RAW_CAMERAS).write_text(str(d["cameras_json"]))
    return folder


def rebuild_prepared(pack: str | Path, out: str | Path, *, work: str | Path) -> Path:
    """Unpack into ``work/h36m`` and run ``prepare-h36m`` on it, writing the prepared ``out``.

    The result is a ``data/h36m.npz``-compatible file (same streams and arrays); only the 3D is
    quantised (`STEP_3D_MM`). A file already rebuilt from the same pack (its sha256 is kept
    beside it) is reused: a second run on a still-warm machine skips this step. Returns the
    prepared path.
    """
    from dataclasses import replace

    from ssrstf.data.h36m import prepared_path, save_streams
    from ssrstf.data.prepare import prepare_h36m
    from ssrstf.files import file_sha256

    out = prepared_path(out)
    stamp = out.with_name(out.name + ".pack-sha256")
    digest = file_sha256(_pack_path(pack))
    if out.is_file() and stamp.is_file() and stamp.read_text() == digest:
        logger.info("reusing %s (rebuilt from this pack before)", out)
        return out
    stamp.unlink(missing_ok=True)
    raw = unpack_raw(pack, Path(work) / "h36m")
    streams = prepare_h36m(raw, progress=False)
    note = f"; 3D from a GPU pack quantised to {STEP_3D_MM} mm"
    path = save_streams(replace(streams, provenance=streams.provenance + note), out)
    shutil.rmtree(raw)
    stamp.write_text(digest)
    return path


def compare_prepared(
    rebuilt: str | Path, reference: str | Path, *, chunk: int = 200_000
) -> dict[str, Any]:
    """Errors of a rebuilt prepared file against the reference, per array (chunked: 2 GB RAM).

    The reference may hold more subjects than the rebuilt file (a pack of some subjects).

    Returns:
        ``streams``, ``frames`` and per array its ``max`` and ``mean`` error: per joint, the
        Euclidean distance (``poses_3d`` mm, also ``max_root_relative``; ``poses_3d_image``
        px (u, v, depth); ``poses_2d_*`` px (x, y)), and the absolute difference of
        ``scale_2_5d`` (mm per px).

    Raises:
        ValueError: If the stream metadata differs.
    """
    from ssrstf.files import open_npz
    from ssrstf.skeleton import H36M_17

    def error(key: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if key == "scale_2_5d":
            return np.abs(x - y)
        if key.startswith("poses_2d"):  # x, y (the third channel is the confidence)
            return np.linalg.norm(x[..., :2] - y[..., :2], axis=-1)
        return np.linalg.norm(x - y, axis=-1)

    root = H36M_17.root
    with open_npz(rebuilt, "rebuilt dataset") as new, open_npz(reference, "reference") as ref:
        keep = np.isin(ref["stream_subject"], new["stream_subject"])
        frames = np.repeat(keep, np.diff(ref["stream_offsets"]))
        for key in ("stream_subject", "stream_action", "stream_camera", "stream_image_size",
                    "stream_intrinsics", "stream_up", "has_2d_sh", "has_2d_gt"):  # fmt: skip
            if not np.array_equal(new[key], ref[key][keep]):
                raise ValueError(f"{key} differs between {rebuilt} and {reference}")
        if not np.array_equal(np.diff(new["stream_offsets"]), np.diff(ref["stream_offsets"])[keep]):
            raise ValueError(f"stream lengths differ between {rebuilt} and {reference}")
        report: dict[str, Any] = {"streams": int(keep.sum()), "frames": int(frames.sum())}
        for key in ("poses_3d", "poses_3d_image", "poses_2d_gt", "poses_2d_sh", "scale_2_5d"):
            a, b = new[key], ref[key][frames]
            worst, total, count, worst_rel = 0.0, 0.0, 0, 0.0
            for start in range(0, len(a), chunk):
                x = a[start : start + chunk].astype(np.float64)
                y = b[start : start + chunk].astype(np.float64)
                err = error(key, x, y)
                if key == "poses_3d":
                    x, y = x - x[:, root : root + 1], y - y[:, root : root + 1]
                    rel = np.linalg.norm(x - y, axis=-1)
                    worst_rel = max(worst_rel, float(rel.max(initial=0.0)))
                worst = max(worst, float(err.max(initial=0.0)))
                total, count = total + float(err.sum()), count + err.size
            report[key] = {"max": worst, "mean": total / max(count, 1)}
            if key == "poses_3d":
                report[key]["max_root_relative"] = worst_rel
    return report


# ---------------------------------------------------------------------------------------------
# The device command.


def device_command(pack_dir: str, minutes: float) -> str:
    """The shell command for the device tool (``carry``: the pack folder; ``timeout_s``: 600).

    It prints the GPU and torch, runs `run` with a ``minutes`` budget into ``$OUT`` and keeps
    the whole log there too (``log.txt`` comes back even when the command is stopped at its
    limit). ``TQDM_DISABLE`` keeps the training loop's per-step progress bar out of the log
    (tqdm >= 4.66; the per-epoch evaluation lines still show progress).
    """
    return (
        "set -o pipefail; nvidia-smi -L; python3 -c 'import torch; print(torch.__version__)'; "
        "PYTHONUNBUFFERED=1 TQDM_DISABLE=1 python3 benchmarks/gpu_paper_scale.py run "
        f'--pack {pack_dir} --minutes {minutes:g} --out "$OUT" 2>&1 | tee "$OUT/log.txt"'
    )


def _is_ignored(path: Path) -> bool:
    """Whether git ignores ``path`` (True outside a git work tree: nothing to commit it to)."""
    try:
        inside = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    except OSError:
        return True
    if inside.returncode != 0:
        return True
    path = path.resolve()
    if not path.is_relative_to(ROOT):
        return True
    check = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "-q", str(path.relative_to(ROOT))], check=False
    )
    return check.returncode == 0


# ---------------------------------------------------------------------------------------------
# run: preflight, unpack, train, export, evaluate, report.


def _minutes_since_start() -> float:
    return (time.monotonic() - START) / 60


def experiment_config(
    config: str | Path, data_path: Path, train_minutes: float, *, tiny: bool, sets: Sequence[str]
):
    """The paper-scale experiment: ``config`` + `PAPER_SCALE_OVERRIDES` (+ `TINY_OVERRIDES`)
    + the budget + the user's ``--set`` values, validated by `ssrstf.config.load_config`."""
    from ssrstf.config import load_config

    config = Path(config)
    tiny_sets = list(TINY_OVERRIDES) if tiny else []
    if tiny:
        tiny_sets.append("train.compile_attention=false")  # no TorchInductor build for seconds
    overrides = [
        *PAPER_SCALE_OVERRIDES,
        *tiny_sets,
        f"data.path={json.dumps(str(data_path))}",
        f"train.max_minutes={train_minutes:.4f}",
        *sets,
    ]
    return load_config(config if config.is_absolute() else ROOT / config, overrides)


def preflight(cfg, device: str, *, steps: int = 5, probe_batch: int = 0) -> dict[str, float]:
    """A few training steps on random clips (the configured model, batch, precision, device).

    Fails within seconds, before any data is unpacked, when the machine cannot train the model
    (no GPU, an incompatible torch, no bf16, out of memory). ``probe_batch`` > 0 also times
    steps at that batch size (skipped when out of memory): whether a larger batch would buy
    throughput on this machine, for the next run's choice.

    Returns:
        ``step_s`` (median step time at ``train.batch_size``), ``clips_per_s``, the peak GPU
        memory in GiB (0 on CPU) and, with a probe, ``probe_step_s`` / ``probe_clips_per_s``.
    """
    import torch

    from ssrstf.models import create_model
    from ssrstf.training.losses import LiftingLoss
    from ssrstf.training.optim import build_optimizer

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model).to(device).train()
    optimizer = build_optimizer(model, cfg.train)
    loss_fn = LiftingLoss(
        mpjpe=cfg.train.loss_mpjpe, n_mpjpe=cfg.train.loss_n_mpjpe, velocity=cfg.train.loss_velocity
    )
    batch = cfg.train.batch_size
    cuda = torch.device(device).type == "cuda"
    step_s = _time_steps(cfg, model, optimizer, loss_fn, device, batch=batch, steps=steps)
    report = {
        "step_s": step_s,
        "clips_per_s": batch / step_s,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0,
    }
    if probe_batch:
        try:
            probe = _time_steps(cfg, model, optimizer, loss_fn, device, batch=probe_batch, steps=3)
            report |= {"probe_batch": probe_batch, "probe_step_s": probe,
                       "probe_clips_per_s": probe_batch / probe}  # fmt: skip
        except torch.cuda.OutOfMemoryError:
            logger.info("preflight: batch %d does not fit", probe_batch)
    del model, optimizer
    if cuda:
        torch.cuda.empty_cache()  # give the probe's memory back before training
    return report


def _time_steps(cfg, model, optimizer, loss_fn, device: str, *, batch: int, steps: int) -> float:
    """Median time of ``steps`` training steps on random clips, after two warm-up steps."""
    import contextlib

    import torch

    from ssrstf.skeleton import SKELETONS

    shape = (batch, cfg.model.num_frames, SKELETONS[cfg.model.skeleton].num_joints)
    x = torch.randn(*shape, cfg.model.in_channels, device=device)
    y = 0.3 * torch.randn(*shape, 3, device=device)
    cuda = torch.device(device).type == "cuda"
    amp = cuda and cfg.train.precision == "bf16"
    times = []
    for _ in range(2 + steps):  # two warm-up steps (kernel selection, allocator)
        begin = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext():
            pred = model(x)
        loss, _ = loss_fn(pred.float(), y)
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - begin)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"preflight: loss {loss.item()} on random clips")
    return float(np.median(times[2:]))


def machine_info(device: str) -> dict[str, str]:
    """What ran the job, for the label and the report."""
    import torch

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "host": f"{platform.machine()}, {os.cpu_count()} CPU cores",
    }
    if torch.device(device).type == "cuda":
        info["kind"] = "GPU"
        info["name"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = str(torch.version.cuda)
    else:
        info["kind"] = "CPU"
        info["name"] = platform.processor() or platform.machine()
    return info


def split_file(path: Path, out: Path, part_mib: float) -> list[dict[str, Any]]:
    """Copy ``path`` into ``out`` whole, or in parts of at most ``part_mib`` MiB
    (``NAME.part0``, ``NAME.part1``, ...; `join_parts` puts them together)."""
    data = path.read_bytes()
    size = max(1, int(part_mib * 2**20))
    if len(data) <= size:
        shutil.copyfile(path, out / path.name)
        return [{"file": path.name, "bytes": len(data)}]
    parts = []
    for i, start in enumerate(range(0, len(data), size)):
        name = f"{path.name}.part{i}"
        (out / name).write_bytes(data[start : start + size])
        parts.append({"file": name, "bytes": len(data[start : start + size])})
    return parts


def join_parts(folder: str | Path, out: str | Path) -> Path:
    """Rebuild the checkpoint a `run` returned (``results.json`` lists its parts and sha256).

    Raises:
        ValueError: If a part is missing or the joined file fails its checksum.
    """
    folder = Path(folder)
    results = json.loads((folder / "results.json").read_text())
    checkpoint = results["checkpoint"]
    data = bytearray()
    for part in checkpoint["parts"]:
        path = folder / part["file"]
        if not path.is_file() or path.stat().st_size != part["bytes"]:
            raise ValueError(f"{path}: missing or of the wrong size ({part['bytes']} bytes)")
        data += path.read_bytes()
    if hashlib.sha256(data).hexdigest() != checkpoint["sha256"]:
        raise ValueError(f"the parts in {folder} do not give the checkpoint's sha256")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(data))
    return out


def _table(name: str, result: dict[str, Any]) -> str:
    rows = [
        f"**{name} 2D — {result['label']}**",
        "",
        "| Action | P1 (mm) | P2 (mm) | Frames |",
        "|---|---:|---:|---:|",
    ]
    for action, v in result["per_action"].items():
        rows.append(f"| {action} | {v['p1_mm']:.2f} | {v['p2_mm']:.2f} | {int(v['frames'])} |")
    rows.append(
        f"| **Average** | **{result['p1_mm']:.2f}** | **{result['p2_mm']:.2f}** | "
        f"{result['frames']} |"
    )
    return "\n".join(rows)


def format_report(results: dict[str, Any]) -> str:
    """``report.md``: the label, the headline figures, settings, timings and per-action tables."""
    training, timings = results.get("training", {}), results.get("timings_s", {})
    data = results["data"]
    evaluation = results.get("evaluation", {})
    cfg, check = results["config"], results.get("preflight", {})
    model = cfg["model"]
    caveat = (
        " The shared raw release lacks 5 of the 210 sequences and its SH 2D has no confidence: "
        "not comparable with published tables."
        if data["provenance"].startswith("h36m/")
        else ""
    )
    probe = (
        f", {check['probe_clips_per_s']:.0f} at batch {check['probe_batch']}"
        if "probe_batch" in check
        else ""
    )
    lines = [
        f"# SSR-STF-{model['variant']} (dim {model['dim']}, depth {model['depth']}, "
        f"T = {model['num_frames']}) — {results['label']}",
        "",
        f"*{results['label']}*; torch {results['machine'].get('torch')}, "
        f"{results['machine'].get('host')}. Data: {data['provenance']} ({data['sequences']} "
        f"sequences, {data['sh_streams']} SH streams, {data['frames_3d']} 3D frames; world 3D "
        f"quantised to {data['step_3d_mm']} mm for the transfer), rebuilt by prepare-h36m; "
        f"Human3.6M, research use only.{caveat}",
        "",
        "| 2D input | P1 (mm) | P2 (mm) | protocol |",
        "|---|---:|---:|---|",
    ]
    for source in ("sh", "gt"):
        if source in evaluation:
            r = evaluation[source]
            lines.append(f"| {source} | {r['p1_mm']:.2f} | {r['p2_mm']:.2f} | {r['label']} |")
        else:
            lines.append(f"| {source} | — | — | not evaluated (run cut short?) |")
    lines += [
        "",
        f"- Training: {training.get('steps', '?')} steps of {cfg['train']['batch_size']} clips, "
        f"{training.get('epochs', 0):.2f} epochs, {training.get('minutes', 0):.2f} min "
        f"({training.get('precision')}, schedule {cfg['train']['schedule']}, lr "
        f"{cfg['train']['lr']}, input {cfg['data']['input_source']}, targets "
        f"{cfg['data']['target_space']}); {training.get('clips_per_s', 0):.0f} clips/s.",
        f"- Weights: the final step's (`last.pt`), exported as `{results['checkpoint']['file']}`"
        if "checkpoint" in results
        else "- Weights: not exported",
        "- Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()),
        f"- Preflight on random clips: {check.get('clips_per_s', 0):.0f} clips/s at batch "
        f"{cfg['train']['batch_size']}{probe}; peak memory {check.get('peak_memory_gib', 0):.1f}"
        " GiB.",
        "- Reproduce the figures: `ssrstf evaluate --checkpoint model.safetensors --data "
        "data/h36m.npz --protocol videopose3d --input sh` (and `--input gt`).",
        "",
    ]
    for source in ("sh", "gt"):
        if source in evaluation:
            lines += [_table(source.upper(), evaluation[source]), ""]
    return "\n".join(lines)


def _write_results(out: Path, results: dict[str, Any]) -> None:
    from ssrstf.files import atomic_write

    text = json.dumps(results, indent=1)
    atomic_write(out / "results.json", lambda temp: temp.write_text(text))
    report = format_report(results)
    atomic_write(out / "report.md", lambda temp: temp.write_text(report))


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The `run` subcommand: everything between the carried pack and the files in ``--out``."""
    import torch

    from ssrstf.checkpoint import export_weights, load_checkpoint, load_model
    from ssrstf.config import to_dict
    from ssrstf.data.dataset import build_datasets
    from ssrstf.training.scoring import evaluate_checkpoint, load_experiment_streams
    from ssrstf.training.trainer import fit, resolve_device

    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    run_dir = work / time.strftime("run-%Y%m%d-%H%M%S")  # a rerun never meets an old run
    device = str(resolve_device("cpu" if args.tiny else args.device))
    if not args.tiny and torch.device(device).type != "cuda" and not args.allow_cpu:
        raise ValueError("no CUDA device: this is the GPU run (use --tiny, or --allow-cpu)")
    if torch.device(device).type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for the fp32 evaluation passes
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        timings[name] = time.monotonic() - since
        return time.monotonic()

    t = time.monotonic()
    cfg = experiment_config(args.config, work / "h36m.npz", 1.0, tiny=args.tiny, sets=args.set)
    machine = machine_info(device)
    logger.info("machine: %s", machine)
    check = preflight(cfg, device, steps=1 if args.tiny else 5, probe_batch=0 if args.tiny else 32)
    logger.info("preflight: %s", check)
    t = lap("preflight", t)
    data_path = rebuild_prepared(args.pack, work / "h36m.npz", work=work)
    t = lap("unpack_prepare", t)
    train_minutes = args.train_minutes or (
        args.minutes - _minutes_since_start() - args.reserve_minutes
    )
    if train_minutes <= 0:
        raise ValueError(
            f"{train_minutes:.2f} training minutes left: raise --minutes or lower --reserve-minutes"
        )
    cfg = experiment_config(args.config, data_path, train_minutes, tiny=args.tiny, sets=args.set)
    streams = load_experiment_streams(cfg)  # what fit would read; also gives the epoch size
    steps_per_epoch = len(build_datasets(cfg, streams)[0]) // cfg.train.batch_size
    t = lap("load_data", t)
    logger.info("training for %.2f minutes (wall clock) in %s", train_minutes, run_dir)
    fit(cfg, run_dir, streams=streams)
    del streams
    t = lap("train_total", t)

    progress = load_checkpoint(run_dir / "last.pt")["progress"]
    minutes = progress["elapsed_s"] / 60
    digits = 1 if minutes >= 1 else 2
    label = f"trained on {machine['kind']} ({machine['name']}), {minutes:.{digits}f} minutes"
    if args.tiny:
        label += " (tiny smoke run: not a result)"
    model, saved_cfg = load_model(run_dir / "last.pt")
    weights = export_weights(
        work / "model.safetensors", model, saved_cfg, source="last.pt",
        note=f"{label}; Human3.6M-trained, research use only",
    )  # fmt: skip
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    parts = split_file(weights, out, args.part_mib)
    t = lap("export", t)
    results: dict[str, Any] = {
        "label": label,
        "machine": machine,
        "preflight": check,
        "config": to_dict(cfg),
        "data": {"pack": str(_pack_path(args.pack)), **pack_info(args.pack)},
        "training": {
            "precision": cfg.train.precision if machine["kind"] == "GPU" else "fp32 (CPU)",
            "steps": progress["global_step"],
            "steps_per_epoch": steps_per_epoch,
            "epochs": progress["global_step"] / max(steps_per_epoch, 1),
            "minutes": minutes,
            "clips_per_s": progress["global_step"]
            * cfg.train.batch_size
            / max(progress["elapsed_s"], 1e-9),
        },
        "checkpoint": {"file": weights.name, "sha256": sha, "parts": parts},
        "evaluation": {},
        "timings_s": timings,
        "metrics": _read_metrics(run_dir / "metrics.jsonl"),
    }
    _write_results(out, results)
    for source in ("sh", "gt"):
        result = evaluate_checkpoint(
            weights, data_path, protocol="videopose3d", input_source=source, flip_test=True,
            device=device, batch_size=cfg.eval.batch_size,
        )  # fmt: skip
        results["evaluation"][source] = result.to_dict()
        t = lap(f"evaluate_{source}", t)
        timings.pop("total", None)
        timings["total"] = time.monotonic() - START
        _write_results(out, results)
        logger.info("%s 2D: P1 %.2f mm, P2 %.2f mm", source, result.p1_mm, result.p2_mm)
    return results


def _summary(results: dict[str, Any]) -> str:
    lines = [results["label"]]
    for source, r in results["evaluation"].items():
        lines.append(f"{source} 2D: P1 {r['p1_mm']:.2f} mm, P2 {r['p2_mm']:.2f} mm ({r['label']})")
    lines.append(
        "timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results["timings_s"].items())
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Command line.


def _cmd_pack(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not _is_ignored(out if out.suffix == ".npz" else out / PACK_FILE):
        raise SystemExit(f"{out} is not ignored by git: Human3.6M must never be committed")
    begin = time.monotonic()
    path = pack_h36m(args.source, out, subjects=args.subjects, max_frames=args.max_frames)
    size = path.stat().st_size
    took = time.monotonic() - begin
    print(f"wrote {path}: {size / 1e6:.2f} MB ({size / 2**20:.2f} MiB) in {took:.0f} s")
    if args.verify:
        work = Path(args.work)
        begin = time.monotonic()
        rebuilt = rebuild_prepared(path, work / "h36m_rebuilt.npz", work=work)
        print(f"rebuilt {rebuilt} in {time.monotonic() - begin:.0f} s; against {args.verify}:")
        print(json.dumps(compare_prepared(rebuilt, args.verify), indent=1))
        if not args.keep:
            rebuilt.unlink()
            rebuilt.with_name(rebuilt.name + ".pack-sha256").unlink(missing_ok=True)
    pack_dir = path.parent if path.name == PACK_FILE else path
    try:
        carry = str(pack_dir.resolve().relative_to(ROOT))
    except ValueError:
        carry = str(pack_dir)
    command = device_command(carry, args.minutes)
    assert len(command) <= DEVICE_COMMAND_LIMIT, len(command)
    print(f"\ndevice run (carry [{json.dumps(carry)}], timeout_s 600; {len(command)} characters):")
    print(command)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import torch

    threads = torch.get_num_threads()
    if args.tiny:  # tiny tensors: one thread, no waiting for pool threads on a busy machine
        torch.set_num_threads(1)
    try:
        results = run(args)
    finally:
        torch.set_num_threads(threads)
    print(_summary(results))
    return 0


def _cmd_join(args: argparse.Namespace) -> int:
    print(f"wrote {join_parts(args.folder, args.out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The three subcommands (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="raw Human3.6M -> compact pack to carry; print the command")
    p.add_argument("--source", default=str(ROOT.parent / "shared" / "data" / "h36m"))
    p.add_argument("--out", default=str(ROOT / DEFAULT_PACK_DIR), help="folder (git-ignored)")
    p.add_argument("--subjects", nargs="+", help="only these subjects (default: all)")
    p.add_argument("--max-frames", type=int, help="first N frames per sequence (tiny packs)")
    p.add_argument("--verify", metavar="PREPARED.npz", help="rebuild and compare to this file")
    p.add_argument("--work", default="/tmp/gpu_pack_verify", help="--verify's scratch folder")
    p.add_argument("--keep", action="store_true", help="keep --verify's rebuilt file")
    p.add_argument("--minutes", type=float, default=9.0, help="budget in the printed command")
    p.set_defaults(func=_cmd_pack)
    r = sub.add_parser("run", help="unpack, train, evaluate, write $OUT (the device side)")
    r.add_argument("--pack", default=DEFAULT_PACK_DIR, help="pack folder or file")
    r.add_argument("--out", default=os.environ.get("OUT", "gpu_out"), help="results folder")
    r.add_argument("--work", default="runs/gpu-paper-scale", help="scratch: data, run folder")
    r.add_argument("--minutes", type=float, default=9.0, help="wall-clock budget of the run")
    r.add_argument(
        "--reserve-minutes", type=float, default=2.0,
        help="kept from training for the quick evaluations during it, export and full evaluation",
    )  # fmt: skip
    r.add_argument("--train-minutes", type=float, help="training budget (default: from --minutes)")
    r.add_argument("--config", default=DEFAULT_CONFIG, help="base experiment config")
    r.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    r.add_argument("--device", default="auto", help="auto, cuda, cuda:1, ...")
    r.add_argument("--part-mib", type=float, default=PART_MIB, help="largest file in --out")
    r.add_argument("--tiny", action="store_true", help="tiny model on the CPU: a smoke run")
    r.add_argument("--allow-cpu", action="store_true", help="the full run without a GPU")
    r.set_defaults(func=_cmd_run)
    j = sub.add_parser("join", help="returned parts -> one model.safetensors")
    j.add_argument("folder", help="the returned $OUT files")
    j.add_argument("--out", required=True, help="the .safetensors to write")
    j.set_defaults(func=_cmd_join)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python benchmarks/gpu_paper_scale.py {pack,run,join} ...``."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stdout
    )
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
