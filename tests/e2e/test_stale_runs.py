"""Runs whose process died: found by their stopped heartbeat, ended KILLED, resumed exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from pipeline.heartbeat import DEFAULT_INTERVAL_S, HEARTBEAT_TAG, INTERVAL_ENV
from pipeline.runs import checkpoint_dir
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow


def pipeline(*argv: str, interval: str = "0.5") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, INTERVAL_ENV: interval},
    )


def start_training(lm_config: Path, interval: str, *options: str) -> subprocess.Popen[str]:
    """An endless training (until signalled) beating every interval seconds."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "train",
            str(lm_config),
            "model.dropout=0.3",
            "trainer.max_epochs=1000000",
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, INTERVAL_ENV: interval},
    )


def first_checkpoint(timeout: float = 240.0) -> str:
    """Id of the one run once its first last.ckpt is written."""
    client = MlflowClient(tracking_uri())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        if runs and (checkpoint_dir(runs[0].info.run_id) / "last.ckpt").is_file():
            return runs[0].info.run_id
        time.sleep(0.3)
    raise AssertionError("training never wrote last.ckpt")


def killed_run(lm_config: Path) -> str:
    """A training SIGKILLed after at least one epoch: its run is left RUNNING."""
    training = start_training(lm_config, "0.5")
    try:
        run_id = first_checkpoint()
        training.send_signal(signal.SIGKILL)  # no handler runs: nothing ends the run
        training.wait(timeout=60)
    finally:
        training.kill()
    assert MlflowClient(tracking_uri()).get_run(run_id).info.status == "RUNNING"
    time.sleep(2.0)  # past 3 missed beats of 0.5 s
    return run_id


def test_runs_repair_ends_a_killed_run_with_its_last_epoch_and_checkpoint(
    lm_config: Path,
) -> None:
    run_id = killed_run(lm_config)
    done = pipeline("runs", "repair", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    [repaired] = json.loads(done.stdout)["repaired"]
    assert (repaired["run_id"], repaired["status"]) == (run_id, "KILLED")
    run = MlflowClient(tracking_uri()).get_run(run_id)
    assert run.info.status == "KILLED"
    assert int(run.data.tags["pipeline.last_epoch"]) == repaired["last_epoch"] >= 0
    assert run.data.tags["pipeline.last_checkpoint"] == repaired["checkpoint"]
    assert "checkpoint.sha256.last.ckpt" in run.data.tags  # logged: resumable anywhere
    again = pipeline("runs", "repair", "--json")
    assert json.loads(again.stdout) == {"repaired": []}


def test_a_killed_run_is_repaired_by_the_next_train_and_resumes_exactly(
    lm_config: Path,
) -> None:
    run_id = killed_run(lm_config)
    saved = torch.load(checkpoint_dir(run_id) / "last.ckpt", weights_only=True)
    epochs = f"trainer.max_epochs={saved['epoch'] + 2}"  # one more epoch than it saved
    whole = pipeline("train", str(lm_config), "model.dropout=0.3", epochs, "--json")
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert f"repaired: run {run_id}" in whole.stderr  # the next command on the store ended it
    resumed = pipeline(
        "train", str(lm_config), "model.dropout=0.3", epochs, "--resume", run_id, "--json"
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert MlflowClient(tracking_uri()).get_run(run_id).info.status == "FINISHED"
    expected = json.loads(whole.stdout)["metrics"]["test_loss"]
    assert json.loads(resumed.stdout)["metrics"]["test_loss"] == pytest.approx(expected, abs=1e-4)


def test_a_live_run_is_never_repaired(lm_config: Path) -> None:
    """Even with its heartbeat tag made old: the process holds its run folder's lock."""
    training = start_training(lm_config, "60")
    try:
        run_id = first_checkpoint()
        client = MlflowClient(tracking_uri())
        client.set_tag(run_id, HEARTBEAT_TAG, "0")  # as if it stopped beating long ago
        done = pipeline("runs", "repair", "--json")
        assert json.loads(done.stdout) == {"repaired": []}, done.stderr[-2000:]
        assert client.get_run(run_id).info.status == "RUNNING"
        training.send_signal(signal.SIGTERM)
        assert training.wait(timeout=120) == 130
    finally:
        training.kill()
    assert MlflowClient(tracking_uri()).get_run(run_id).info.status == "KILLED"


def test_a_resumed_run_killed_again_resumes_from_its_newest_local_checkpoint(
    lm_config: Path,
) -> None:
    """Its local last.ckpt is newer than the logged one: the checksum of each save vouches."""
    first = pipeline("train", str(lm_config), "model.dropout=0.3", "trainer.max_epochs=1", "--json")
    run_id = json.loads(first.stdout)["run_id"]
    last = checkpoint_dir(run_id) / "last.ckpt"
    training = start_training(lm_config, str(DEFAULT_INTERVAL_S), "--resume", run_id)
    try:
        deadline = time.monotonic() + 240
        while torch.load(last, weights_only=True)["epoch"] < 2:  # saved after the resume
            assert time.monotonic() < deadline and training.poll() is None
            time.sleep(0.3)
        training.send_signal(signal.SIGKILL)
        training.wait(timeout=60)
    finally:
        training.kill()
    epoch = torch.load(last, weights_only=True)["epoch"]
    again = pipeline(
        "train",
        str(lm_config),
        "model.dropout=0.3",
        f"trainer.max_epochs={epoch + 2}",
        "--resume",
        run_id,
        "--json",
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "does not match" not in again.stderr  # the newest local file, not the logged copy
    history = MlflowClient(tracking_uri()).get_metric_history(run_id, "val_loss")
    # Epoch 0, the killed resume's epochs 1..epoch (and maybe one more), then epoch + 1 once:
    # from the logged copy (epoch 0) the epochs 1..epoch would have been trained again.
    assert len(history) <= epoch + 3
