"""`pipeline train` killed with SIGKILL (no handler runs): the store stays usable and the next
`pipeline train` finishes."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow


def train(config: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "train", str(config), *overrides]


def wait_for_an_epoch(timeout: float = 180.0) -> None:
    """Return once a run of the tests experiment has logged its first validation loss."""
    client = MlflowClient(tracking_uri())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name("tests")
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
        if any("val_loss" in run.data.metrics for run in runs):
            return
        time.sleep(0.5)
    raise AssertionError("training never logged a validation loss")


def kill_after(process: subprocess.Popen[str], seconds: float) -> None:
    """SIGKILL the process after seconds (it must still be running then)."""
    time.sleep(seconds)
    assert process.poll() is None, "training ended before the kill"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


@pytest.mark.parametrize("point", ["early", "mid-epoch"])
def test_a_killed_train_leaves_a_usable_store(lm_config: Path, point: str) -> None:
    # seeded, so each point is the same every run; "early" lands in start-up or data prep
    delay = random.Random(f"sigkill {point}").uniform(0.5, 3.0)
    process = subprocess.Popen(
        train(lm_config, "trainer.max_epochs=1000000"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        if point == "mid-epoch":
            wait_for_an_epoch()
        kill_after(process, delay)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    following = subprocess.run(
        train(lm_config, "trainer.max_epochs=1"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert following.returncode == 0, following.stderr[-2000:]
    client = MlflowClient(tracking_uri())
    experiment = client.get_experiment_by_name("tests")
    assert experiment is not None
    statuses = [run.info.status for run in client.search_runs([experiment.experiment_id])]
    assert statuses.count("FINISHED") == 1, statuses
