"""Typed experiment configuration: dataclasses, the variant table, YAML loading and overrides.

A configuration is a tree of frozen dataclasses (`ExperimentConfig` with `model`, `data`,
`train`, `eval` and `mesh` sections, and a ``seed``). YAML files under ``configs/`` mirror that
nesting exactly and ``--set section.key=value`` overrides are parsed with ``yaml.safe_load``.
Unknown keys and values of the wrong type are errors that name the key (`ConfigError`). The
resolved configuration is plain data (`to_dict`) and is saved next to every run and inside every
checkpoint.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from ssrstf.files import atomic_write


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the key."""


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key} {message}")


@dataclass(frozen=True)
class ModelConfig:
    """SSR-STF architecture. Every ablation of the design notes is a value here."""

    variant: str = "custom"
    """Name of the size preset this config started from (informational)."""
    architecture: Literal["ssrstf", "mlp"] = "ssrstf"
    """``ssrstf``, or ``mlp``: the single-frame residual-MLP baseline (Martinez et al. 2017;
    uses dim, depth = residual blocks, proj_drop = dropout, in_channels, skeleton)."""
    skeleton: Literal["h36m17", "mpi_inf_3dhp17"] = "h36m17"
    """Joint layout of inputs and outputs; fixes the joint count and the skeleton order."""
    in_channels: int = 3
    """Input channels per joint: 3 = (x, y, confidence), 2 = (x, y)."""
    dim: int = 128
    """Feature width C of both streams."""
    depth: int = 16
    """Number of dual-stream layers N."""
    num_heads: int = 8
    mlp_ratio: float = 4.0
    local_mlp_ratio: float | None = None
    """MLP ratio of the local stream's blocks; None = ``mlp_ratio``, 0 = mixer-only blocks (no
    MLP sub-block), which makes the local stream cheap (see docs/design.md, budget recipe)."""
    num_frames: int = 243
    """Training clip length T. The model runs on any length at inference; this also sizes the
    optional temporal position embedding."""
    rep_dim: int = 512
    """Width of the motion representation returned by ``forward_features``."""
    global_stream: bool = True
    """STFormer (spatial + temporal self-attention) stream on/off."""
    local_stream: Literal["ssra", "gcn", "none"] = "ssra"
    """Local stream: SSRFormer (SSRA mixer), a MotionAGFormer-style GCN stream, or none."""
    local_layers: tuple[int, ...] | None = None
    """Layers (0-based) that carry the local stream; None = every layer (the paper). The others
    are global-only layers. Ours: a cheaper SSR-STF that keeps SSRA where it helps most."""
    fusion: Literal["adaptive", "mean"] = "adaptive"
    """How the two streams are combined when both are on."""
    use_temporal_pos_embed: bool = False
    """Learnable temporal position embedding (ties the model to lengths <= num_frames)."""
    qkv_bias: bool = False
    layer_scale_init: float = 1e-5
    """Initial LayerScale value; 0 disables LayerScale."""
    drop_path_rate: float = 0.0
    attn_drop: float = 0.0
    proj_drop: float = 0.0
    ssra_order: Literal["walk", "parts", "index"] = "walk"
    """Joint layout along SSRA's skeleton axis: depth-first walk with back-tracking, body-part
    order, or plain index order (the "no skeleton order" ablation)."""
    ssra_selection: bool = True
    """Selective-kernel choice between the local and the local+dilated receptive field."""
    ssra_mixing: Literal["factorized", "joint_time"] = "factorized"
    """Two SSRA blocks (skeleton axis, then time) or one block mixing both axes."""
    ssra_spatial_kernel: tuple[int, int, int] = (3, 3, 2)
    """(local kernel, dilated kernel, dilation) along the skeleton axis."""
    ssra_temporal_kernel: tuple[int, int, int] = (5, 7, 3)
    """(local kernel, dilated kernel, dilation) along time; (5, 7, 3) covers 23 frames."""
    ssra_reduction: int = 4
    """Channel reduction of the selection squeeze MLP."""
    ssra_gate_bias: float = 0.0
    """Initial bias of SSRA's gate projection (``mix``): 0 starts the gate ``u ⊙ mix(a)`` near
    zero (a product of two small terms); 1 starts it as ``u ⊙ (1 + W·a)``, so the block begins as
    a plain projection of ``u`` and learns its large-kernel gate from there."""
    gcn_neighbours: int = 2
    """k of the similarity kNN graph over frames in the GCN local stream."""

    def __post_init__(self) -> None:
        _check(self.num_heads >= 1, "model.num_heads", "must be >= 1")
        _check(self.dim % self.num_heads == 0, "model.dim", "must be divisible by num_heads")
        _check(self.dim > 0 and self.depth > 0, "model.dim/depth", "must be positive")
        _check(self.in_channels in (2, 3), "model.in_channels", "must be 2 or 3")
        _check(self.num_frames >= 1, "model.num_frames", "must be >= 1")
        _check(
            self.global_stream or self.local_stream != "none",
            "model.global_stream",
            "and model.local_stream='none' leave no stream",
        )
        for key, (local, dilated, dilation) in (
            ("model.ssra_spatial_kernel", self.ssra_spatial_kernel),
            ("model.ssra_temporal_kernel", self.ssra_temporal_kernel),
        ):
            odd = local % 2 == 1 and dilated % 2 == 1 and local > 0 and dilated > 0
            _check(odd and dilation >= 1, key, "needs odd positive kernels and dilation >= 1")
        _check(0.0 <= self.drop_path_rate < 1.0, "model.drop_path_rate", "must be in [0, 1)")
        _check(self.gcn_neighbours >= 1, "model.gcn_neighbours", "must be >= 1")
        if self.local_layers is not None:
            layers = self.local_layers
            _check(
                len(set(layers)) == len(layers) and all(0 <= i < self.depth for i in layers),
                "model.local_layers",
                f"must be distinct layer indices in [0, {self.depth - 1}] (model.depth)",
            )
            _check(
                self.global_stream or len(layers) == self.depth,
                "model.local_layers",
                "must name every layer when model.global_stream is off (a layer needs a stream)",
            )
        _check(self.mlp_ratio > 0, "model.mlp_ratio", "must be positive")
        _check(
            self.local_mlp_ratio is None or self.local_mlp_ratio >= 0,
            "model.local_mlp_ratio",
            "must be None or >= 0",
        )

    @property
    def out_channels(self) -> int:
        """Output channels per joint (x, y, z)."""
        return 3


VARIANTS: dict[str, ModelConfig] = {
    # Depth and width of MotionAGFormer's four sizes, so parameters and FLOPs compare 1:1.
    "xsmall": ModelConfig(variant="xsmall", dim=64, depth=12, num_frames=27),
    "small": ModelConfig(variant="small", dim=64, depth=26, num_frames=81),
    "base": ModelConfig(variant="base", dim=128, depth=16, num_frames=243),
    "large": ModelConfig(variant="large", dim=128, depth=26, num_frames=243),
}
"""Named size presets of SSR-STF."""


def model_config_from_name(name: str | ModelConfig, **overrides: Any) -> ModelConfig:
    """A `VARIANTS` preset (or a given `ModelConfig`) with field overrides, validated."""
    if isinstance(name, ModelConfig):
        base = name
    elif name in VARIANTS:
        base = VARIANTS[name]
    else:
        raise ConfigError(f"unknown model variant {name!r}; valid: {', '.join(VARIANTS)}")
    return _from_dict(ModelConfig, {**to_dict(base), **overrides}, "model")


H36M_TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
"""The standard Human3.6M training subjects."""
H36M_TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
"""The standard Human3.6M test subjects: the default held-out split and what every Human3.6M
protocol (`ssrstf.evaluation.protocol`) scores. Defined here only."""


@dataclass(frozen=True)
class AugmentConfig:
    """Training inputs that look like detector keypoints (`ssrstf.data.augment`; all off by
    default). Probabilities are per training clip; test clips are never augmented."""

    detector_source: str = "sh"
    """Stored 2D source used as real detector input (``poses_2d_<name>`` in the prepared file)."""
    detector_fraction: float = 0.0
    """Share of training clips fed ``detector_source`` (when the clip's stream has it)."""
    virtual_camera_fraction: float = 0.0
    """Share of the other clips seen by a random virtual camera (camera-space targets only)."""
    yaw_deg: float = 180.0
    """Virtual camera: yaw about the world's vertical through the person, uniform in ±this."""
    elevation_deg: float = 20.0
    """Virtual camera: extra elevation (tilt), uniform in ±this."""
    roll_deg: float = 5.0
    """Virtual camera: roll about the viewing ray, uniform in ±this."""
    distance_range: tuple[float, float] = (0.6, 1.5)
    """Virtual camera: factor on the person's distance from the camera."""
    focal_range: tuple[float, float] = (0.6, 1.5)
    """Virtual camera: factor on the focal length."""
    degrade_fraction: float = 0.0
    """Share of the ground-truth clips (real or virtual camera) degraded like a detector."""
    noise_scale_max: float = 1.5
    """Degradation: per-clip noise scale uniform in [0, this] × ``JOINT_NOISE``."""
    jitter: float = 0.002
    """Degradation: white per-frame noise, fraction of the person's 2D height."""
    definition_shift: float = 0.15
    """Degradation: std of the per-clip shift of differently defined joints along their bone,
    as a fraction of the bone (clipped to ±0.5)."""
    outlier_prob: float = 0.3
    """Degradation: probability of a joint jumping towards a neighbour for a few frames."""
    swap_prob: float = 0.1
    """Degradation: probability of a left/right swap of a limb for a few frames."""
    drop_prob: float = 0.3
    """Degradation: probability of dropped joints (and a quarter of it: dropped frames)."""

    def __post_init__(self) -> None:
        for name in (
            "detector_fraction",
            "virtual_camera_fraction",
            "degrade_fraction",
            "outlier_prob",
            "swap_prob",
            "drop_prob",
        ):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, f"data.augment.{name}", "must be in [0, 1]")
        for name in ("distance_range", "focal_range"):
            low, high = getattr(self, name)
            _check(0 < low <= high, f"data.augment.{name}", "must be 0 < low <= high")
        for name in ("yaw_deg", "elevation_deg", "roll_deg", "noise_scale_max", "jitter"):
            _check(getattr(self, name) >= 0, f"data.augment.{name}", "must be >= 0")
        _check(self.definition_shift >= 0, "data.augment.definition_shift", "must be >= 0")

    @property
    def enabled(self) -> bool:
        """True when any training clip can differ from the clean ground truth."""
        return (
            self.detector_fraction > 0
            or self.virtual_camera_fraction > 0
            or self.degrade_fraction > 0
        )


@dataclass(frozen=True)
class DataConfig:
    """Dataset, clipping and augmentation. The clip length is ``model.num_frames``."""

    dataset: Literal["h36m", "mpi_inf_3dhp"] = "h36m"
    """Which benchmark the prepared file holds; fixes its joint layout and, for evaluation,
    the protocol family (``mpi_inf_3dhp`` goes with ``eval.protocol: mpi_inf_3dhp``)."""
    path: str = "data/h36m.npz"
    """Prepared dataset file (see ``ssrstf data prepare-h36m`` / ``prepare-3dhp``)."""
    input_source: str = "sh"
    """2D source stored in the prepared file: ``gt``, ``sh``, ``cpn``, ..."""
    target_space: Literal["camera", "image_2.5d"] = "camera"
    """Camera-space mm (VideoPose3D) or MotionBERT's 2.5D image space."""
    use_confidence: bool = True
    """Feed the detector confidence as a third input channel (1 when the source has none)."""
    train_subjects: tuple[str, ...] = H36M_TRAIN_SUBJECTS
    test_subjects: tuple[str, ...] = H36M_TEST_SUBJECTS
    """Held-out subjects of the in-training evaluation; the Human3.6M protocols score the same
    ones (`H36M_TEST_SUBJECTS`), MPI-INF-3DHP configs list TS1..TS6."""
    train_stride: int = 0
    """Frames between consecutive training clips; 0 means num_frames // 3 (MotionBERT)."""
    frame_stride: int = 1
    """Temporal sub-sampling of the source frames before clipping."""
    train_frame_strides: tuple[int, ...] = ()
    """Temporal-scale augmentation: training clips at each of these frame strides (the same
    motion played 1x, 2x, 3x as fast, equally many clips of each), e.g. ``[1, 2, 3]``; empty:
    ``frame_stride`` only. Evaluation and inference always use ``frame_stride``."""
    flip_augment: bool = True
    """Random horizontal flip of input and target (p = 0.5)."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """Detector-like training inputs and virtual cameras (off by default)."""
    num_workers: int = 0

    @property
    def constant_confidence(self) -> bool:
        """True when training only ever fed confidence 1 (clean ground-truth 2D): inference then
        sets the input confidences to 1 too. A model trained with `AugmentConfig` inputs saw
        confidences that mean what a detector's mean, and gets the detector's."""
        return self.input_source == "gt" and not (
            self.augment.degrade_fraction > 0 or self.augment.detector_fraction > 0
        )

    def __post_init__(self) -> None:
        _check(
            self.augment.virtual_camera_fraction == 0 or self.target_space == "camera",
            "data.augment.virtual_camera_fraction",
            "needs data.target_space: camera (virtual cameras re-project camera-space 3D)",
        )
        _check(self.train_stride >= 0, "data.train_stride", "must be >= 0")
        _check(self.frame_stride >= 1, "data.frame_stride", "must be >= 1")
        _check(
            all(s >= 1 for s in self.train_frame_strides)
            and len(set(self.train_frame_strides)) == len(self.train_frame_strides),
            "data.train_frame_strides",
            "must be distinct strides >= 1",
        )
        _check(self.num_workers >= 0, "data.num_workers", "must be >= 0")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation recipe (defaults: the credited code bases' recipe)."""

    epochs: int = 60
    batch_size: int = 16
    lr: float = 5e-4
    weight_decay: float = 0.01
    lr_decay: float = 0.99
    """Multiplicative learning-rate decay per epoch."""
    warmup_steps: int = 0
    """Linear learning-rate warm-up, in optimiser steps."""
    schedule: Literal["exponential", "cosine", "cosine_time"] = "exponential"
    """``exponential``: × lr_decay per epoch (paper recipe); ``cosine``: half cosine from lr to
    lr · min_lr_ratio over max_steps; ``cosine_time``: the same over the budget max_minutes, so
    the rate anneals exactly when the budget ends however fast the machine is (budget recipe)."""
    min_lr_ratio: float = 0.0
    max_steps: int = 0
    """Stop after this many optimiser steps (0: no limit); also the cosine horizon."""
    max_minutes: float = 0.0
    """Training-time budget (see ``clock``); 0 means no budget. The run stops cleanly,
    evaluates and saves."""
    clock: Literal["wall", "cpu"] = "wall"
    """What ``max_minutes`` and ``cosine_time`` measure: wall-clock time, or the process's CPU
    time over all its threads (``time.process_time``), which buys the same compute however busy
    a shared machine is. Quick evaluations are not counted either way."""
    grad_clip: float = 0.0
    """Gradient-norm clipping threshold; 0 disables clipping."""
    loss_mpjpe: float = 1.0
    loss_n_mpjpe: float = 0.5
    loss_velocity: float = 20.0
    eval_every_steps: int = 0
    """Quick evaluation (``eval.every``) every N steps; 0 = once per epoch."""
    checkpoint_minutes: float = 2.0
    """Also write ``last.pt`` mid-epoch at this interval (0: every step); a kill loses at most
    this much; a save costs 0.07 s (default) to 0.6 s (``large``; benchmarks/checkpoint_save.py)."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Autocast precision on CUDA (CPU always trains in fp32)."""
    compile_attention: bool = True
    """On the CPU, train attention over <= 32 tokens with a TorchInductor-compiled kernel
    (`ssrstf.models.attention.broadcast_attention`): equal results, 1.2x the steps per CPU-second
    on the default model; compiles for about 10 s at the start, and falls back to the fused kernel
    with a warning where no C++ compiler is available. No effect on CUDA."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``, ..."""
    num_threads: int = 0
    """torch CPU threads (0: torch's default)."""
    use_tensorboard: bool = False
    init_weights: str = ""
    """Start a new run from these model weights instead of random ones (fine-tuning):
    ``default`` (the packaged model) or a training ``.pt`` / ``.safetensors`` path. Only the
    model's tensors are taken (optimiser, schedule and step start afresh); their architecture
    must equal the ``model`` section. Ignored on ``--resume`` (the run's own ``last.pt``
    wins). ``""``: random initialisation."""

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "train.epochs", "must be >= 1")
        _check(self.batch_size >= 1, "train.batch_size", "must be >= 1")
        _check(self.lr > 0, "train.lr", "must be > 0")
        _check(0 < self.lr_decay <= 1, "train.lr_decay", "must be in (0, 1]")
        _check(self.max_minutes >= 0, "train.max_minutes", "must be >= 0")
        _check(self.max_steps >= 0, "train.max_steps", "must be >= 0")
        _check(self.warmup_steps >= 0, "train.warmup_steps", "must be >= 0")
        _check(self.checkpoint_minutes >= 0, "train.checkpoint_minutes", "must be >= 0")
        _check(self.eval_every_steps >= 0, "train.eval_every_steps", "must be >= 0")
        _check(self.grad_clip >= 0, "train.grad_clip", "must be >= 0 (0: no clipping)")
        _check(0 <= self.min_lr_ratio <= 1, "train.min_lr_ratio", "must be in [0, 1]")
        _check(
            self.schedule != "cosine" or self.max_steps > 0,
            "train.schedule",
            "'cosine' needs train.max_steps > 0 (its horizon)",
        )
        _check(
            self.schedule != "cosine_time" or self.max_minutes > 0,
            "train.schedule",
            "'cosine_time' needs train.max_minutes > 0 (its horizon)",
        )


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation protocol."""

    protocol: Literal["videopose3d", "motionbert", "mpi_inf_3dhp"] = "videopose3d"
    """Human3.6M: ``videopose3d`` or ``motionbert``; MPI-INF-3DHP: ``mpi_inf_3dhp``."""
    flip_test: bool = True
    """Average the prediction with the flipped prediction of the flipped input."""
    every: int = 1
    """Quick evaluations during training score every N-th test clip (labelled as such)."""
    final_every: int = 1
    """The evaluation at the end of training: 1 = the full protocol; N > 1 = quick, labelled."""
    overlap: int = 0
    """Test windows overlapping by this many frames, their predictions stitched as ``ssrstf
    infer`` stitches them (protocols that score every frame; labelled). 0: disjoint clips."""
    skip_sequences: tuple[str, ...] = ()
    """Extra ``subject/action`` sequences left out of evaluation, on top of the protocol's own
    skip list (``ssrstf.evaluation.protocol.PROTOCOLS``: MotionBERT's three S9 sequences,
    VideoPose3D's S11 "Directions"); see `H36MProtocol.with_skips`."""
    batch_size: int = 8
    extra_inputs: tuple[str, ...] = ()
    """Further 2D sources every evaluation during and at the end of training also scores
    (e.g. ``[sh]`` for a model trained on ground truth plus detector-like inputs); logged as
    ``p1_mm_<source>`` / ``p2_mm_<source>`` in ``metrics.jsonl``, ``final_<source>.json``."""

    def __post_init__(self) -> None:
        _check(self.every >= 1, "eval.every", "must be >= 1")
        _check(self.final_every >= 1, "eval.final_every", "must be >= 1")
        _check(self.overlap >= 0, "eval.overlap", "(--overlap) must be >= 0")
        _check(self.batch_size >= 1, "eval.batch_size", "must be >= 1")


@dataclass(frozen=True)
class MeshConfig:
    """Mesh recovery (`ssrstf.mesh`): a body-model head on the motion representation.

    Off by default. With ``use_mesh_head`` the run trains `ssrstf.mesh.head.MeshRecovery`
    (the ``model`` section describes its backbone) against the 3D joints of the dataset: there
    is no mesh ground truth. Loss weights are on metres (joints, vertices) and radians.
    """

    use_mesh_head: bool = False
    body_model: Literal["anny", "smpl"] = "anny"
    """``anny`` (extra ``mesh``, no files needed) or ``smpl`` (the user's SMPL files)."""
    body_model_path: str = ""
    """SMPL only: a model file or a folder with ``SMPL_NEUTRAL.npz``/``.pkl``."""
    backbone: str = "default"
    """Checkpoint whose lifter is the backbone (``default``: the packaged model, whose config
    must match the ``model`` section); ``""`` starts the backbone from random weights (the
    "from scratch" ablation, trained with the head)."""
    freeze_backbone: bool = True
    """Keep the backbone fixed; otherwise it trains at ``backbone_lr``."""
    use_joint_ik: bool = True
    """Start each frame's pose from swing IK on the backbone's own 3D joints (the head then
    regresses residual rotations; `ssrstf.mesh.ik`); off: from the rest pose (MotionBERT)."""
    backbone_lr: float = 5e-5
    joint_dim: int = 32
    """Channels per joint after the head's shared reduction (MotionBERT: no reduction, 512)."""
    hidden_dim: int = 1024
    dropout: float = 0.1
    loss_mpjpe: float = 1.0
    loss_velocity: float = 20.0
    loss_agreement: float = 0.0
    """MPJPE of the mesh joints against the backbone's own joints (same frames)."""
    loss_lifter: float = 0.0
    """MPJPE of the backbone's own joints against the 3D joints: keeps a backbone that trains
    (``freeze_backbone: false``, e.g. from scratch) a lifter, so swing IK starts from real
    joints. No effect on a frozen backbone."""
    loss_rotation_prior: float = 0.01
    """Mean squared rotation angle of the non-root bones the head regresses (with swing IK:
    its residual on the IK pose)."""
    loss_joint_limits: float = 1.0
    """Mean squared excess over each bone's `ssrstf.mesh.body.JointLimit`."""
    loss_smoothness: float = 10.0
    """Mean vertex acceleration over time (a fixed subset of vertices)."""
    loss_shape_prior: float = 0.01
    """Squared distance of the shape from the neutral one, plus the squared log scale."""
    smoothness_vertex_stride: int = 27
    """The smoothness term uses every N-th vertex."""

    def __post_init__(self) -> None:
        _check(self.joint_dim >= 1 and self.hidden_dim >= 1, "mesh.joint_dim", "must be >= 1")
        _check(0.0 <= self.dropout < 1.0, "mesh.dropout", "must be in [0, 1)")
        _check(self.backbone_lr > 0, "mesh.backbone_lr", "must be > 0")
        _check(self.loss_lifter >= 0, "mesh.loss_lifter", "must be >= 0")
        _check(self.smoothness_vertex_stride >= 1, "mesh.smoothness_vertex_stride", "must be >= 1")
        _check(
            self.body_model != "smpl" or bool(self.body_model_path),
            "mesh.body_model_path",
            "is needed for body_model: smpl (a folder with SMPL_NEUTRAL.npz or .pkl)",
        )
        _check(
            self.backbone or not self.freeze_backbone,
            "mesh.freeze_backbone",
            "cannot freeze a backbone that starts from random weights (mesh.backbone: '')",
        )


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: model, data, training, evaluation and mesh-recovery sections."""

    model: ModelConfig = field(default_factory=lambda: VARIANTS["base"])
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        _check(
            (self.data.dataset == "mpi_inf_3dhp") == (self.eval.protocol == "mpi_inf_3dhp"),
            "eval.protocol",
            f"{self.eval.protocol!r} does not apply to data.dataset={self.data.dataset!r} "
            "(mpi_inf_3dhp data goes with the mpi_inf_3dhp protocol)",
        )
        scored_by = "mesh" if self.mesh.use_mesh_head else self.eval.protocol
        _check(
            not self.eval.overlap or scored_by == "videopose3d",
            "eval.overlap",
            f"(--overlap {self.eval.overlap}): overlapping test windows apply to a lifter on the "
            f"videopose3d protocol, not to the {scored_by} protocol",
        )
        _check(
            self.eval.overlap < self.model.num_frames,
            "eval.overlap",
            f"(--overlap) must be < the clip length model.num_frames={self.model.num_frames}",
        )


# ---------------------------------------------------------------------------------------------
# Conversion between dataclasses and plain data, with strict key and type checking.


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (tuples become lists, YAML friendly)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return plain(cfg)


def _finite(value: float, key: str) -> float:
    if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
        raise ConfigError(f"{key} must be a finite number, got {value}")
    return value


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against an annotation; return it converted (list → tuple, int → float)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _coerce(value, non_none[0], key)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} expects a list, got {type(value).__name__} {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key} expects {len(args)} values, got {len(value)}")
        return tuple(
            _coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} expects a mapping, got {type(value).__name__}")
        return _from_dict(annotation, value, key)
    if annotation is float and isinstance(value, int | float) and not isinstance(value, bool):
        return _finite(float(value), key)
    if annotation is float and isinstance(value, str):
        # YAML 1.1 (PyYAML) reads "1e-3" (no dot) as a string; accept numeric strings.
        try:
            return _finite(float(value), key)
        except ValueError as exc:
            if isinstance(exc, ConfigError):
                raise
    if annotation in (int, str, bool) and type(value) is annotation:
        return value
    raise ConfigError(f"{key} expects {annotation.__name__}, got {type(value).__name__} {value!r}")


def _from_dict(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    for key in data:
        if key not in names:
            where = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"unknown config key {where!r}; valid keys: {', '.join(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in data.items()}
    return cls(**kwargs)


_SECTIONS = ("model", "data", "train", "eval", "mesh")


def from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Build an `ExperimentConfig` from plain data, validating every key and type.

    A ``model.variant`` naming a `VARIANTS` entry starts the model section from that preset;
    the other ``model`` keys override it.
    """
    data = dict(data)
    model = dict(data.pop("model", {}) or {})
    variant = model.get("variant", "base")
    base = to_dict(VARIANTS[variant]) if variant in VARIANTS else {}
    if variant not in VARIANTS and variant != "custom":
        raise ConfigError(f"unknown model.variant {variant!r}; valid: {', '.join(VARIANTS)}")
    model_cfg = _from_dict(ModelConfig, {**base, **model}, "model")
    # An empty YAML section ("train:") loads as None: treat it as "all defaults".
    sections = {k: {} if v is None and k in _SECTIONS else v for k, v in data.items()}
    cfg = _from_dict(ExperimentConfig, sections, "")
    return replace(cfg, model=model_cfg)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a plain config dict."""
    # Copies of the sections; an empty YAML section ("train:") loads as None: an empty one.
    data = {k: dict(v or {}) if v is None or isinstance(v, dict) else v for k, v in data.items()}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        *path, leaf = key.strip().split(".")
        node = data
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(raw)
    return data


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None
) -> ExperimentConfig:
    """Load a YAML experiment config (or the defaults when ``path`` is None) plus overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"{path}: is a folder, not a config file")
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a text file (not UTF-8)") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
        if loaded is None:
            raise ConfigError(f"{path}: empty config file (omit --config for the defaults)")
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        data = loaded
    try:
        return from_dict(apply_overrides(data, overrides or []))
    except ConfigError as exc:
        if path is None:
            raise
        raise ConfigError(f"{path}: {exc}") from None


def save_config(cfg: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (loadable again with `load_config`)."""
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    atomic_write(path, lambda temp: temp.write_text(text))
