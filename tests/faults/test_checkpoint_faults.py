"""Damaged checkpoints and a SIGKILL in the middle of saving one, then ``--resume``.

A corrupted (bytes changed, same size) or truncated ``last.ckpt`` gives way to the copy logged
in the artifact store, then to ``best.ckpt``, saying so, and the run continues where it was;
a process killed while writing ``last.ckpt`` leaves the previous one whole and resumable.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_json import run_json
from mlflow.tracking import MlflowClient

from pipeline.runs import checkpoint_dir
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow


def client() -> MlflowClient:
    return MlflowClient(tracking_uri())


def logged_copy(run_id: str, name: str) -> Path:
    artifacts = client().get_run(run_id).info.artifact_uri.removeprefix("file://")
    return Path(artifacts) / "checkpoints" / name


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        del data[len(data) // 2 :]
    else:  # corrupted: the same size, some bytes in the middle changed (a bad sector, bit rot)
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(255 - b for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))


def val_losses(run_id: str) -> list[float]:
    return [m.value for m in client().get_metric_history(run_id, "val_loss")]


@pytest.mark.parametrize("how", ["corrupted", "truncated"])
@pytest.mark.parametrize("logged_too", [False, True], ids=["local", "local-and-logged"])
def test_a_damaged_last_checkpoint_falls_back_and_says_so(
    lm_config: Path, capsys, caplog, how: str, logged_too: bool
) -> None:
    caplog.set_level(logging.WARNING)
    run_id = run_json(capsys, "train", str(lm_config), "trainer.max_epochs=1")["run_id"]
    damage(checkpoint_dir(run_id) / "last.ckpt", how)
    if logged_too:
        damage(logged_copy(run_id, "last.ckpt"), how)
    run_json(capsys, "train", str(lm_config), "trainer.max_epochs=2", "--resume", run_id)
    assert "does not match the sha256" in caplog.text  # the damaged file is named, not used
    assert "using the copy logged in run" in caplog.text
    if logged_too:
        assert f"resuming run {run_id} from" in caplog.text and "best.ckpt instead" in caplog.text
    assert len(val_losses(run_id)) == 2  # continued after epoch 1, never retrained from scratch
    assert client().get_run(run_id).info.status == "FINISHED"


KILL_WHILE_SAVING = """
import os, signal, sys
from pipeline import trainer
from pipeline.cli import main

point, saves = sys.argv[1], []
real_fsync, real_record = os.fsync, trainer.record_local_checksum

def die() -> None:
    print("killing", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

def fsync(fd: int) -> None:  # the new bytes are written to the temporary file, not renamed
    if ".last.ckpt." in os.readlink(f"/proc/self/fd/{fd}"):
        saves.append(fd)
        if point == "written" and len(saves) == 2:
            die()
    real_fsync(fd)

def record(tracker, run_id, path, digest) -> None:  # the new checksum recorded, no byte written
    real_record(tracker, run_id, path, digest)
    if point == "recorded" and path.name == "last.ckpt" and len(saves) == 1:
        die()

os.fsync, trainer.record_local_checksum = fsync, record
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("point", ["recorded", "written"])
def test_a_kill_while_saving_keeps_the_previous_checkpoint(
    lm_config: Path, workdir: Path, capsys, point: str
) -> None:
    """SIGKILL in the second save of last.ckpt (epoch 2): epoch 1's stays whole; resume goes on."""
    train = ["train", str(lm_config), "trainer.max_epochs=3"]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_WHILE_SAVING, point, *train],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert "killing" in killed.stdout
    (folder,) = (workdir / "mlruns" / "local").iterdir()
    state = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["epoch"] == 0  # the first epoch's checkpoint, whole
    run_id = folder.name
    resumed = run_json(capsys, *train, "--resume", run_id)
    assert resumed["run_id"] == run_id
    steps = [m.step for m in client().get_metric_history(run_id, "val_loss")]  # steps: epochs
    assert steps.count(1) == 1, f"epoch 1 trained again: {steps}"  # resumed after it
    assert max(steps) == 3
    assert client().get_run(run_id).info.status == "FINISHED"
