"""Checkpoints never run code: checked run ids, confined run folders, checksums, safe loading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from pipeline.checkpoints import CHECKSUM_TAG, UnsafeCheckpoint, log_checkpoint, sha256
from pipeline.cli import main
from pipeline.errors import UserError
from pipeline.runs import best_checkpoint, checkpoint_dir, local_dir
from pipeline.tracking import Tracker


class RunsCode:
    """Unpickling this calls os.system: what a planted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("run_id", ["../../x", "/tmp", "..", "a/b", "0" * 31 + "G"])
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_run_ids_that_are_paths_are_refused(
    workdir: Path, capsys: pytest.CaptureFixture, command: str, run_id: str
) -> None:
    argv = [command, "--run", run_id] + (["hola"] if command == "predict" else [])
    assert main(argv) == 2
    assert "a run id is 32 hex digits" in capsys.readouterr().err
    assert not (workdir / "mlruns" / "local").exists(), "no folder is built from a bad id"


def test_a_planted_run_folder_of_an_unknown_run_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    planted = "ab" * 16
    folder = workdir / "mlruns" / "local" / planted / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"state_dict": {}}, folder / "best.ckpt")
    assert main(["predict", "--run", planted, "hola"]) == 2
    assert "does not exist in the tracking store" in capsys.readouterr().err


def test_a_run_folder_linked_outside_the_store_is_refused(workdir: Path, tmp_path: Path) -> None:
    run_id = "cd" * 16
    (workdir / "mlruns" / "local").mkdir(parents=True)
    (workdir / "mlruns" / "local" / run_id).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UserError, match="leads outside"):
        local_dir(run_id)


def plant(tracker: Tracker, run_id: str, content: object) -> Path:
    """content as the run's local and logged best.ckpt, its checksum recorded as ours would be."""
    path = checkpoint_dir(run_id) / "best.ckpt"
    path.parent.mkdir(parents=True)
    torch.save(content, path)
    log_checkpoint(tracker, run_id, path)
    return path


def test_a_pickled_callable_never_executes(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Even with a matching checksum (whoever planted it could write the store too)."""
    tracker = Tracker()
    run_id = tracker.create_run("tests", "planted", {})
    marker = workdir / "code-ran"
    path = plant(tracker, run_id, {"state_dict": {}, "payload": RunsCode(marker)})
    with pytest.raises(UnsafeCheckpoint, match="objects other than tensors") as error:
        best_checkpoint(tracker, run_id)
    assert "best.ckpt holds objects other than tensors" in str(error.value)  # the logged copy
    assert f"{path} holds objects other than tensors" in caplog.text  # the local one, first
    assert not marker.exists()


def test_a_tampered_checkpoint_is_refused(workdir: Path) -> None:
    tracker = Tracker()
    run_id = tracker.create_run("tests", "tampered", {})
    path = plant(tracker, run_id, {"state_dict": {"network.w": torch.zeros(3)}})
    assert best_checkpoint(tracker, run_id) == path
    torch.save({"state_dict": {"network.w": torch.ones(3)}}, path)  # valid, but not ours
    run = tracker.get_run(run_id)
    artifact = Path(run.info.artifact_uri.removeprefix("file://")) / "checkpoints" / "best.ckpt"
    artifact.write_bytes(path.read_bytes())  # and the logged copy too
    with pytest.raises(UnsafeCheckpoint, match=r"best\.ckpt does not match the sha256"):
        best_checkpoint(tracker, run_id)


def test_a_damaged_local_checkpoint_gives_way_to_the_logged_copy(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = Tracker()
    run_id = tracker.create_run("tests", "damaged", {})
    path = plant(tracker, run_id, {"state_dict": {"network.w": torch.zeros(3)}})
    recorded = tracker.get_run(run_id).data.tags[CHECKSUM_TAG.format(name="best.ckpt")]
    path.write_bytes(path.read_bytes()[:100])  # truncated, e.g. by a full disk
    used = best_checkpoint(tracker, run_id)
    assert used != path and sha256(used) == recorded
    assert f"{path} does not match" in caplog.text
