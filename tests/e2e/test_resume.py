"""--resume: exact continuation (every random state restored), checked before the run is touched,
and checkpoint fallbacks (local last.ckpt, its logged copy, best.ckpt) that say so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cli_json import run_json
from mlflow.tracking import MlflowClient

from pipeline.cli import main
from pipeline.runs import checkpoint_dir
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow
DROPOUT = "model.dropout=0.3"  # so the random state matters


def client() -> MlflowClient:
    return MlflowClient(tracking_uri())


def logged_copy(run_id: str, name: str) -> Path:
    artifacts = client().get_run(run_id).info.artifact_uri.removeprefix("file://")
    return Path(artifacts) / "checkpoints" / name


def damage(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])  # truncated, as a full disk leaves a file


def test_a_resumed_run_equals_an_uninterrupted_one(lm_config: Path, capsys) -> None:
    whole = run_json(capsys, "train", str(lm_config), DROPOUT, "trainer.max_epochs=3")
    first = run_json(capsys, "train", str(lm_config), DROPOUT, "trainer.max_epochs=1")
    resumed = run_json(
        capsys,
        "train",
        str(lm_config),
        DROPOUT,
        "trainer.max_epochs=3",
        "--resume",
        first["run_id"],
    )
    assert resumed["run_id"] == first["run_id"]
    assert resumed["metrics"]["test_loss"] == pytest.approx(whole["metrics"]["test_loss"], abs=1e-4)
    curves = [
        [m.value for m in client().get_metric_history(run["run_id"], "val_loss")]
        for run in (whole, first)
    ]
    assert curves[1] == pytest.approx(curves[0], abs=1e-4)


def test_a_resume_that_changes_the_network_leaves_the_run_as_it_was(
    lm_config: Path, capsys
) -> None:
    run_id = run_json(capsys, "train", str(lm_config), "trainer.max_epochs=1")["run_id"]
    before = client().get_run(run_id)
    argv = ["train", str(lm_config), "model.hidden_size=32", "trainer.max_epochs=2"]
    assert main([*argv, "--resume", run_id]) == 2
    error = capsys.readouterr().err
    assert "model.hidden_size (16 -> 32)" in error and "Traceback" not in error
    after = client().get_run(run_id)
    assert after.info.status == "FINISHED" and after.info.end_time == before.info.end_time
    assert after.data.params == before.data.params


def test_a_damaged_last_checkpoint_resumes_from_its_logged_copy(
    lm_config: Path, capsys, caplog
) -> None:
    run_id = run_json(capsys, "train", str(lm_config), "trainer.max_epochs=1")["run_id"]
    damage(checkpoint_dir(run_id) / "last.ckpt")
    run_json(capsys, "train", str(lm_config), "trainer.max_epochs=2", "--resume", run_id)
    assert "using the copy logged in run" in caplog.text
    assert len(client().get_metric_history(run_id, "val_loss")) == 2  # continued, not redone


def test_without_a_usable_last_checkpoint_it_resumes_from_best(
    lm_config: Path, capsys, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    run_id = run_json(capsys, "train", str(lm_config), "trainer.max_epochs=1")["run_id"]
    damage(checkpoint_dir(run_id) / "last.ckpt")
    damage(logged_copy(run_id, "last.ckpt"))
    run_json(capsys, "train", str(lm_config), "trainer.max_epochs=2", "--resume", run_id)
    assert f"resuming run {run_id} from" in caplog.text and "best.ckpt instead" in caplog.text
    assert client().get_run(run_id).info.status == "FINISHED"


def test_no_usable_checkpoint_is_an_error_that_changes_nothing(lm_config: Path, capsys) -> None:
    run_id = run_json(capsys, "train", str(lm_config), "trainer.max_epochs=1")["run_id"]
    for name in ("last.ckpt", "best.ckpt"):
        damage(checkpoint_dir(run_id) / name)
        damage(logged_copy(run_id, name))
    kept = (checkpoint_dir(run_id) / "last.ckpt").read_bytes()
    assert main(["train", str(lm_config), "trainer.max_epochs=2", "--resume", run_id]) == 2
    error = capsys.readouterr().err
    assert "has no usable checkpoint" in error and "last.ckpt:" in error and "best.ckpt:" in error
    assert client().get_run(run_id).info.status == "FINISHED"
    assert (checkpoint_dir(run_id) / "last.ckpt").read_bytes() == kept  # never retrained over
