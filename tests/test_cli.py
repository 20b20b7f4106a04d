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
