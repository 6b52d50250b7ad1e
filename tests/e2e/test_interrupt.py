"""Ctrl-C during training: the run ends KILLED with a last checkpoint, and resumes to FINISHED."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from pipeline.runs import checkpoint_dir
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow


def pipeline_command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *argv]


def wait_for_running_run(timeout: float = 120.0) -> str:
    """Id of the run once its first epoch has logged a metric."""
    client = MlflowClient(tracking_uri())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name("tests")
        if experiment is not None:
            runs = client.search_runs([experiment.experiment_id])
            if runs and "val_loss" in runs[0].data.metrics:
                return runs[0].info.run_id
        time.sleep(0.5)
    raise AssertionError("training never logged a validation metric")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_is_killed_then_resumes(lm_config: Path, stop_signal) -> None:
    process = subprocess.Popen(
        # Endless: a tiny epoch takes ~0.3 s, and a loaded machine can delay the first
        # val_loss read from SQLite by tens of seconds (200 epochs once ended first).
        pipeline_command("train", str(lm_config), "trainer.max_epochs=1000000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a background job of a script or CI gets it: SIGINT ignored from the start
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        run_id = wait_for_running_run()
        assert process.poll() is None, "training ended before it could be interrupted"
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr[-2000:]
    client = MlflowClient(tracking_uri())
    assert client.get_run(run_id).info.status == "KILLED"
    last = checkpoint_dir(run_id) / "last.ckpt"
    assert last.is_file()
    # Two epochs more than it reached: under load the signal may come after several epochs.
    epochs = int(torch.load(last, map_location="cpu", weights_only=True)["epoch"]) + 2
    resumed = subprocess.run(
        pipeline_command(
            "train", str(lm_config), f"trainer.max_epochs={epochs}", "--resume", run_id, "--json"
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["run_id"] == run_id
    assert client.get_run(run_id).info.status == "FINISHED"
