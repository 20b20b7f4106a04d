"""Command-line interface, run in-process through ``main([...])``."""

from __future__ import annotations

import json

import pytest

from ssrstf.cli import main


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "info" in capsys.readouterr().out


def test_info_json_lists_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json", "--frames", "9"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in rows] == ["xsmall", "small", "base", "large"]
    for row in rows:
        assert {"variant", "frames", "params", "flops"} <= row.keys()
        assert row["frames"] == 9
    # Same depth, twice the width: base has more parameters and FLOPs than small.
    small, base = rows[1], rows[2]
    assert base["params"] > small["params"] and base["flops"] > small["flops"]


@pytest.mark.parametrize("local_layers", [None, (0, 2)])
def test_info_flops_scale_with_depth_and_match_a_direct_count(local_layers) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ssrstf.config import model_config_from_name
    from ssrstf.models import SSRSTF
    from ssrstf.models.complexity import count_flops

    cfg = model_config_from_name("xsmall", depth=3, local_layers=local_layers)
    with torch.device("meta"):
        model = SSRSTF(cfg).eval()
        x = torch.zeros(1, 27, 17, 3)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    assert count_flops(cfg, num_frames=27) == counter.get_total_flops()


def test_info_table_for_one_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--variant", "xsmall"]) == 0
    out = capsys.readouterr().out
    assert "xsmall" in out and "base" not in out and "2 x MACs" in out


def test_info_of_a_config_counts_its_model(capsys: pytest.CaptureFixture[str]) -> None:
    # The single-frame MLP baseline, counted by hand: 51 inputs -> 1024, two residual blocks of
    # two 1024 x 1024 layers, 1024 -> 51; BatchNorm after every hidden layer.
    assert main(["info", "--json", "--config", "configs/baseline-mlp_1f_h36m-gt.yaml"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    hidden, io = 1024, 17 * 3
    assert row["variant"] == "baseline-mlp_1f_h36m-gt" and row["frames"] == 1
    assert row["params"] == (io * hidden + 3 * hidden) + 4 * (hidden * hidden + 3 * hidden) + (
        hidden * io + io
    )
    assert row["flops"] == 2 * (io * hidden + 4 * hidden * hidden + hidden * io)
    # --set changes the counted model: the global-only budget model is smaller.
    config = "configs/ssrstf-budget_27f_h36m-gt.yaml"
    assert main(["info", "--json", "--config", config]) == 0
    (full,) = json.loads(capsys.readouterr().out)
    assert main(["info", "--json", "--config", config, "--set", "model.local_stream=none"]) == 0
    (global_only,) = json.loads(capsys.readouterr().out)
    assert full["frames"] == 27 and full["depth"] == 4
    assert global_only["params"] < full["params"] and global_only["flops"] < full["flops"]


def test_info_set_without_config_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--set", "model.dim=32"]) == 2
    assert "--set needs --config" in capsys.readouterr().err


def test_unknown_variant_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--variant", "huge"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err == "error: unknown variant 'huge'; valid: xsmall, small, base, large"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["infer", "walk.mp4", "--stream", "-"], "an input file or --stream SOURCE, not both"),
        (["infer", "--stream", "-", "--workers", "2"], "are for several inputs, not --stream"),
        (["infer", "--stream", "-", "--shard", "1/2"], "are for several inputs, not --stream"),
        (["infer"], "infer needs an input (video, keypoint file or folder) or --stream"),
        (["infer", "a.json", "b.json", "--mesh"], "--mesh lifts one input at a time"),
        (["infer", "--stream", "-", "--render"], "--render needs a whole input"),
        (["evaluate", "--dataset", "mpi-inf-3dhp", "--data", "x.npz", "--protocol",
          "videopose3d", "--checkpoint", "default"], "--protocol applies to --dataset h36m only"),
        (["evaluate", "--dataset", "mpi-inf-3dhp", "--data", "x.npz", "--gt-2d",
          "--checkpoint", "default"], "--gt-2d applies to --dataset h36m --protocol motionbert"),
    ],
)  # fmt: skip
def test_option_combinations_that_cannot_work_are_refused_in_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any file is read or model loaded (no such files exist here)."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--mesh"], "--mesh needs a whole input; it does not combine with --stream"),
        (["--viewer-video"], "--viewer-video needs a whole input"),
        (["--overlap", "2"], "--overlap needs a whole input"),
        (["--fov", "50"], "--fov needs a whole input"),
        (["--focal-length", "900"], "--focal-length needs a whole input"),
        (["--frame", "camera"], "--frame needs a whole input"),
        (["--rigid"], "--rigid needs a whole input"),
        (["--no-rigid"], "--no-rigid needs a whole input"),
        (["--format", "coco"], "--format needs a whole input"),
        (["--fps", "30"], "--fps needs a whole input"),
        (["--min-track-frames", "3"], "--min-track-frames needs a whole input"),
    ],
)
def test_stream_refuses_the_options_it_would_ignore(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before standard input is read (the test's stdin is not keypoints)."""
    assert main(["infer", "--stream", "-", *option]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_lookahead_without_stream_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infer", "walk.json", "--lookahead", "2"]) == 2
    err = capsys.readouterr().err
    assert "--lookahead applies to --stream only" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["infer", "demo"])
def test_negative_threads_is_a_usage_error(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "walk.json", "--threads", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--threads: expected a whole number >= 0, got '-1'" in err and "Traceback" not in err


def test_ctrl_c_ends_one_line_with_code_130(monkeypatch, capsys) -> None:
    import ssrstf.cli.infer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ssrstf.cli.infer, "_infer_input", interrupted)
    assert main(["infer", "walk.json"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.fixture
def keypoint_file(tmp_path):
    """A short H36M-17 ``.npz`` keypoint file that records its image size and frame rate."""
    from ssrstf.keypoints.npy import write_keypoints
    from ssrstf.keypoints.sample import make_sample

    return write_keypoints(tmp_path / "walk.npz", make_sample(seconds=0.4).keypoints)


@pytest.fixture
def no_reading(monkeypatch):
    """`Pipeline.read` (where a video's slow detection runs) fails the test if reached."""
    from ssrstf.pipeline.run import Pipeline

    def read(self, source, **kwargs):
        raise AssertionError(f"{source} read before the options were checked")

    monkeypatch.setattr(Pipeline, "read", read)


def test_infer_checks_options_before_reading_the_input(
    keypoint_file, tiny_checkpoint, tmp_path, no_reading, monkeypatch, capsys
) -> None:
    import sys

    base = ["infer", str(keypoint_file), "--checkpoint", str(tiny_checkpoint), "--quiet"]
    out = tmp_path / "out"
    assert main([*base, "--out", str(out), "--overlap", "30"]) == 2
    assert "overlap must be in [0, 8], got 30" in capsys.readouterr().err
    assert main([*base, "--out", str(keypoint_file)]) == 2
    assert f"{keypoint_file} is a file, not a folder" in capsys.readouterr().err
    missing = tmp_path / "missing_head.safetensors"
    assert main([*base, "--out", str(out), "--mesh", "--mesh-checkpoint", str(missing)]) == 2
    assert "missing_head.safetensors" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if viz were missing
    assert main([*base, "--out", str(out), "--render"]) == 2
    assert "pip install 'ssrstf[viz]'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--fov", "0"], "field of view must be in (0, 180) degrees, got 0.0"),
        (["--focal-length", "-5"], "focal length must be positive pixels, got -5.0"),
        (["--fps", "0"], "fps must be positive and finite, got 0.0"),
        (["--min-track-frames", "0"], "min_track_frames must be >= 1, got 0"),
    ],
)
def test_infer_checks_values_before_reading_the_input(
    option, message, tmp_path, no_reading, capsys
) -> None:
    video = tmp_path / "long.mp4"  # its detection would take minutes
    args = ["infer", str(video), "--out", str(tmp_path / "out"), "--quiet", *option]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_demo_of_an_input_skips_rendering_without_viz_like_the_sample(
    keypoint_file, tiny_checkpoint, tmp_path, monkeypatch, capsys
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if viz were missing
    out = tmp_path / "demo"
    args = ["demo", str(keypoint_file), "--checkpoint", str(tiny_checkpoint), "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    assert "rendering skipped: pip install 'ssrstf[viz]'" in capsys.readouterr().out
    assert (out / "poses_3d.npz").exists() and not (out / "render.mp4").exists()


def test_evaluate_out_keeps_dots_in_the_name() -> None:
    from ssrstf.cli.evaluate import _out_path

    assert _out_path("results/robust-2.5d-finetune", ".md") == "results/robust-2.5d-finetune.md"
    assert _out_path("results/table.md", ".md") == "results/table.md"
    assert _out_path("results/table.csv", ".md") == "results/table.md"
    assert _out_path("mesh.json", ".json") == "mesh.json"
    assert _out_path("v1.2/table", ".md") == "v1.2/table.md"


def test_evaluate_out_files_are_every_file_written() -> None:
    from pathlib import Path

    from ssrstf.cli.evaluate import _out_files

    assert _out_files(None, joints=True) == []
    assert _out_files("r/robust-2.5d.csv") == [Path("r/robust-2.5d.md"), Path("r/robust-2.5d.csv")]
    assert [p.name for p in _out_files("r/t", joints=True)] == [
        "t.md", "t.csv", "t_joints.md", "t_joints.csv"
    ]  # fmt: skip
    assert _out_files("r/mesh.md", mesh=True) == [Path("r/mesh.json")]
