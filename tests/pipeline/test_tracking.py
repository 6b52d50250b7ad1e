"""The MLflow wrapper on a real SQLite store: lazy opening, final statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.tracking import Tracker, final_status


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


def test_store_is_opened_on_first_use_only(uri: str, tmp_path: Path) -> None:
    """DDP ranks other than 0 build a Tracker but log nothing: they must not create the store."""
    tracker = Tracker(uri)
    assert not (tmp_path / "store").exists()
    tracker.create_run("exp", "first", {})
    assert (tmp_path / "store" / "mlflow.db").is_file()


def test_experiment_is_found_again_not_duplicated(uri: str) -> None:
    first, second = Tracker(uri), Tracker(uri)
    assert first.experiment_id("shared") == second.experiment_id("shared")


@pytest.mark.parametrize(("others", "status"), [(True, "RUNNING"), (False, "FINISHED")])
def test_a_run_others_still_write_to_stays_open(uri: str, others: bool, status: str) -> None:
    tracker = Tracker(uri)
    run_id = tracker.create_run("exp", "parent", {})
    with final_status(tracker, run_id, others_writing=lambda: others):
        pass
    assert tracker.get_run(run_id).info.status == status


def test_a_failure_ends_the_run_failed_with_the_error(uri: str) -> None:
    tracker = Tracker(uri)
    run_id = tracker.create_run("exp", "parent", {})
    with pytest.raises(ValueError), final_status(tracker, run_id, others_writing=lambda: True):
        raise ValueError("bad value")
    run = tracker.get_run(run_id)
    assert (run.info.status, run.data.tags["error"]) == ("FAILED", "ValueError: bad value")
