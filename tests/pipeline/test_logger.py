"""RunLogger on a real SQLite store: epochs are the steps, final values are logged once."""

from __future__ import annotations

from pathlib import Path

from pipeline.logger import RunLogger
from pipeline.tracking import Tracker


def test_epochs_are_steps_and_epoch_is_no_metric(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = tracker.create_run("logger", "r", {})
    logger = RunLogger(tracker, run_id)
    logger.log_metrics({"val_ppl": 30.0, "epoch": 0}, step=57)  # step: Lightning's global step
    logger.log_metrics({"val_ppl": 20.0, "epoch": 1}, step=114)
    logger.log_metrics({"test_ppl": 21.0, "epoch": 2}, step=114)
    history = tracker.client.get_metric_history(run_id, "val_ppl")
    assert [(m.step, m.value) for m in history] == [(1, 30.0), (2, 20.0)]
    assert [m.step for m in tracker.client.get_metric_history(run_id, "test_ppl")] == [0]
    assert "epoch" not in tracker.get_run(run_id).data.metrics
