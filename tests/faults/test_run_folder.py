"""One process at a time writes a run's checkpoints: resuming a run still training is refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow


def pipeline_command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *argv]


def first_epoch_run_id(timeout: float = 240.0) -> str:
    """Id of the one run in the store once it has logged a validation loss."""
    client = MlflowClient(tracking_uri())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            filter_string="metrics.val_loss > -1",
        )
        if runs:
            return runs[0].info.run_id
        time.sleep(0.5)
    raise AssertionError("training never logged a validation loss")


def test_resuming_a_run_that_still_trains_is_refused_and_leaves_it_alone(
    lm_config: Path,
) -> None:
    training = subprocess.Popen(
        pipeline_command("train", str(lm_config), "trainer.max_epochs=1000000"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = first_epoch_run_id()
        assert training.poll() is None, "training ended before the resume was tried"
        resumed = subprocess.run(
            pipeline_command("train", str(lm_config), "--resume", run_id),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert resumed.returncode == 2, resumed.stderr[-2000:]
        assert "is the run still training?" in resumed.stderr
        assert MlflowClient(tracking_uri()).get_run(run_id).info.status == "RUNNING"
        assert training.poll() is None
        training.send_signal(signal.SIGTERM)
        assert training.wait(timeout=120) == 130
    finally:
        training.kill()
    assert MlflowClient(tracking_uri()).get_run(run_id).info.status == "KILLED"
