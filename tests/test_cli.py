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


def test_info_flops_scale_with_depth_and_match_a_direct_count() -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ssrstf.config import model_config_from_name
    from ssrstf.models import SSRSTF
    from ssrstf.models.complexity import count_flops

    cfg = model_config_from_name("xsmall", depth=3)
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


def test_unknown_variant_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--variant", "huge"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err == "error: unknown variant 'huge'; valid: xsmall, small, base, large"
