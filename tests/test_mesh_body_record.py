"""A mesh checkpoint records the body model it was trained with and refuses another on load.

SMPL runs on the synthetic model files of `test_mesh_body` (nothing licensed); the anny checks
share the session's anny instance (``anny_body``, conftest.py) and skip without the extra.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from test_mesh_body import synthetic_smpl_arrays

from ssrstf.config import from_dict
from ssrstf.files import file_sha256
from ssrstf.mesh.model import (
    BODY_RECORD,
    check_body_record,
    create_mesh_model,
    export_mesh_weights,
    load_mesh_model,
)
from ssrstf.mesh.smpl_body import SMPLBody

LOGGER = "ssrstf.mesh.model"


def smpl_file(folder: Path, name: str = "SMPL_NEUTRAL.npz", seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / name, **synthetic_smpl_arrays(seed))
    return folder / name


def smpl_head(tmp_path: Path, body_file: Path, **mesh) -> tuple[Path, object]:
    """An exported head-only SMPL mesh model (on the packaged lifter) trained on ``body_file``."""
    from ssrstf.training.mesh_training import prepare_mesh_config

    mesh = {"use_mesh_head": True, "body_model": "smpl", "body_model_path": str(body_file), **mesh}
    cfg = prepare_mesh_config(from_dict({"mesh": mesh, "data": {"input_source": "gt"}}))
    model = create_mesh_model(cfg)
    return export_mesh_weights(tmp_path / "head.safetensors", model, cfg), model


def stored_record(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()[BODY_RECORD])


def test_an_exported_smpl_head_records_its_file(tmp_path: Path) -> None:
    neutral = smpl_file(tmp_path / "smpl")
    head, model = smpl_head(tmp_path, neutral)
    record = stored_record(head)
    assert record["kind"] == "smpl" and record["file"] == "SMPL_NEUTRAL.npz"
    assert record["sha256"] == file_sha256(neutral)
    assert record == model.body.identity() == SMPLBody(neutral).identity()
    assert load_mesh_model(head)[0].trained_body == record


def test_another_smpl_file_is_refused_with_one_line_naming_both(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    neutral = smpl_file(tmp_path / "smpl")
    female = smpl_file(tmp_path / "other", "SMPL_FEMALE.npz", seed=1)
    head, _ = smpl_head(tmp_path, neutral)
    with pytest.raises(ValueError) as error:
        load_mesh_model(head, body_model_path=female)
    message = str(error.value)
    assert "\n" not in message and str(head) in message
    assert "smpl SMPL_NEUTRAL.npz (file sha256 " + file_sha256(neutral)[:12] in message
    assert "smpl SMPL_FEMALE.npz (file sha256 " + file_sha256(female)[:12] in message
    assert "allow_body_mismatch=True" in message
    # The explicit override loads it with a warning, and keeps the record of the training body.
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        model, _ = load_mesh_model(head, body_model_path=female, allow_body_mismatch=True)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "SMPL_FEMALE.npz" in caplog.records[0].getMessage()
    assert model.body.source == str(female)
    assert model.trained_body == stored_record(head)
    again = export_mesh_weights(tmp_path / "again.safetensors", model, _)
    assert stored_record(again) == stored_record(head)  # not the body it was shown on
    # The MeshRecoverer API refuses it too, and takes the same override.
    from ssrstf.lifting.meshes import MeshRecoverer

    with pytest.raises(ValueError, match="SMPL_FEMALE.npz"):
        MeshRecoverer(head, body_model_path=female)
    recoverer = MeshRecoverer(head, body_model_path=female, allow_body_mismatch=True)
    assert recoverer.model.body.source == str(female)


def test_a_changed_file_at_the_recorded_path_is_refused(tmp_path: Path) -> None:
    neutral = smpl_file(tmp_path / "smpl")
    head, _ = smpl_head(tmp_path, neutral)
    smpl_file(tmp_path / "smpl", seed=2)  # another release saved over it
    with pytest.raises(ValueError, match=r"trained on the body model smpl SMPL_NEUTRAL\.npz"):
        load_mesh_model(head)
    # So is an H36M regressor added beside it: other joints than the head learned.
    smpl_file(tmp_path / "smpl")
    assert load_mesh_model(head)[0].trained_body == stored_record(head)
    regressor = np.random.default_rng(3).uniform(size=(17, 120))
    np.save(tmp_path / "smpl" / "J_regressor_h36m.npy", regressor / regressor.sum(1)[:, None])
    with pytest.raises(ValueError, match=r"not on the given smpl SMPL_NEUTRAL\.npz \+ J_reg"):
        load_mesh_model(head)


def test_the_same_arrays_in_a_pkl_pass(tmp_path: Path) -> None:
    neutral = smpl_file(tmp_path / "smpl")
    head, _ = smpl_head(tmp_path, neutral)
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"  # what docs/mesh.md's npz advice reverses
    pkl.write_bytes(pickle.dumps(synthetic_smpl_arrays(0)))
    model, _ = load_mesh_model(head, body_model_path=pkl, allow_pickle=True)
    assert model.body.identity()["sha256"] != stored_record(head)["sha256"]
    assert model.body.identity()["content_sha256"] == stored_record(head)["content_sha256"]


def test_a_file_without_the_record_loads_with_one_info_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    neutral = smpl_file(tmp_path / "smpl")
    head, _ = smpl_head(tmp_path, neutral)
    with safe_open(str(head), framework="pt") as f:
        metadata = f.metadata()
    del metadata[BODY_RECORD]  # as ssrstf wrote mesh heads before the record
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(head)), str(old), metadata=metadata)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for _ in range(2):
            model, cfg = load_mesh_model(old)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "records no body model" in caplog.records[0].getMessage()
    assert model.trained_body is None
    # Exported again, it records the body it was loaded with.
    assert stored_record(export_mesh_weights(tmp_path / "new.safetensors", model, cfg))
    # A malformed record is named.
    save_file(load_file(str(head)), str(old), metadata={**metadata, BODY_RECORD: "[1]"})
    with pytest.raises(ValueError, match="record is not a body-model identity"):
        load_mesh_model(old)


def test_another_body_model_on_the_cli_stops_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssrstf.cli import main
    from ssrstf.keypoints.sample import make_sample

    head, _ = smpl_head(tmp_path, smpl_file(tmp_path / "smpl"))
    female = smpl_file(tmp_path / "other", "SMPL_FEMALE.npz", seed=1)
    keypoints = tmp_path / "keypoints.npy"
    np.save(keypoints, make_sample(seconds=0.3).keypoints.keypoints)
    infer = ["infer", str(keypoints), "--skeleton", "h36m", "--image-size", "1000x1000",
             "--fps", "50", "--mesh", "--mesh-checkpoint", str(head), "--quiet",
             "--body-model-path", str(female), "--out", str(tmp_path / "out")]  # fmt: skip
    capsys.readouterr()
    assert main(infer) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "SMPL_NEUTRAL.npz" in error and "SMPL_FEMALE.npz" in error
    assert not (tmp_path / "out" / "mesh.npz").exists()


def test_a_mesh_run_records_its_body_model_and_resumes_only_on_it(
    synthetic_h36m: Path, tmp_path: Path
) -> None:
    from ssrstf.checkpoint import load_checkpoint, save_checkpoint
    from ssrstf.training.trainer import fit

    neutral = smpl_file(tmp_path / "smpl")
    mesh = {"use_mesh_head": True, "backbone": "", "freeze_backbone": False}
    cfg = from_dict({
        "model": {"variant": "custom", "dim": 16, "depth": 1, "num_heads": 2, "num_frames": 9},
        "data": {"path": str(synthetic_h36m), "input_source": "gt", "train_subjects": ["S1"]},
        "train": {"epochs": 1, "batch_size": 4, "max_steps": 2, "eval_every_steps": 2},
        "eval": {"flip_test": False, "batch_size": 4, "every": 50, "final_every": 50},
        "mesh": {**mesh, "body_model": "smpl", "body_model_path": str(neutral)},
    })  # fmt: skip
    run = tmp_path / "run"
    fit(cfg, run)
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt[BODY_RECORD] == SMPLBody(neutral).identity()
    shutil.copy(neutral, tmp_path / "trained.npz")
    smpl_file(tmp_path / "smpl", seed=1)  # the file changed under the run
    with pytest.raises(ValueError, match=r"last\.pt: this mesh head was trained on the body"):
        load_mesh_model(run / "last.pt")
    assert load_mesh_model(run / "last.pt", body_model_path=tmp_path / "trained.npz")[0]
    ckpt["config"]["train"]["max_steps"] = 4  # a run with steps left to resume
    save_checkpoint(run / "last.pt", {k: v for k, v in ckpt.items() if k != "format_version"})
    with pytest.raises(ValueError, match=r"last\.pt: this mesh head was trained on the body"):
        fit(None, run, resume=True)


def test_check_body_record_compares_kind_and_content(anny_body, caplog) -> None:
    record = anny_body.identity()
    assert record["kind"] == "anny" and record["version"] == "0.6.2"
    assert "local-ref" in record["variant"] and len(record["content_sha256"]) == 64
    # A moved copy keeps it (`moved`: the shared body itself must stay float32 for later tests).
    moved = anny_body.moved(lambda t: t.double() if t.is_floating_point() else t)
    assert moved.identity() == record
    assert anny_body.neutral_shape().dtype == torch.float32
    check_body_record(record, anny_body, source="head")
    with pytest.raises(ValueError, match=r"^head: .* anny 0\.6\.2 \(content 000000000000\)"):
        check_body_record({**record, "content_sha256": "0" * 64}, anny_body, source="head")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        check_body_record({**record, "version": "0.6.1"}, anny_body, source="head")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "anny 0.6.1" in caplog.records[0].getMessage()


def test_the_packaged_mesh_head_records_its_body_and_matches_anny(anny_body, caplog) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        model, cfg = load_mesh_model("default", body=anny_body)
    assert cfg.mesh.body_model == "anny" and model.trained_body is not None
    assert model.trained_body["kind"] == "anny"
    assert model.trained_body["content_sha256"] == anny_body.identity()["content_sha256"]
    assert not caplog.records  # recorded and matching: nothing to say


def test_a_body_model_without_an_identity_says_so() -> None:
    from ssrstf.mesh.body import BodyModel

    bare = type("Bare", (BodyModel,), {})
    bare.__abstractmethods__ = frozenset()  # only identity() matters here
    with pytest.raises(TypeError, match=r"^Bare sets no _identity: a BodyModel subclass records"):
        bare().identity()
