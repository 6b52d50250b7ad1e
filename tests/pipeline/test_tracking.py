"""The MLflow wrapper on a real SQLite store: lazy opening, final statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.tracking import ArtifactNotFound, Tracker, TrackingUriError, final_status


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


def test_metric_history_child_runs_and_text_artifacts(uri: str) -> None:
    tracker = Tracker(uri)
    parent = tracker.create_run("exp", "parent", {})
    children = [
        tracker.create_run("exp", f"child-{i}", {"mlflow.parentRunId": parent}) for i in range(2)
    ]
    tracker.create_run("exp", "unrelated", {})
    tracker.end(children[0], "FINISHED")
    assert {run.info.run_id for run in tracker.child_runs(parent)} == set(children)
    assert [run.info.run_id for run in tracker.child_runs(parent, "RUNNING")] == children[1:]
    for step, value in enumerate((3.0, 2.0, 2.5)):
        tracker.log_metrics(parent, {"val_loss": value}, step)
    assert tracker.metric_history(parent, "val_loss") == [3.0, 2.0, 2.5]
    assert tracker.metric_history(parent, "never_logged") == []
    tracker.log_text(parent, "params: {}\n", "search_space.yaml")
    folder = tracker.download(
        parent, "search_space.yaml", Path(uri.removeprefix("sqlite:///")).parent
    )
    assert folder.read_text() == "params: {}\n"


@pytest.mark.parametrize("scheme", ["bogus://", "file:"])  # file: the refused folder store
def test_a_uri_mlflow_refuses_is_a_user_error_naming_the_setting(scheme, tmp_path) -> None:
    bad = f"{scheme}{tmp_path / 'mlruns'}"
    with pytest.raises(TrackingUriError, match="tracking.uri, --tracking-uri") as caught:
        Tracker(bad).create_run("exp", "run", {})
    assert bad in str(caught.value)


def test_a_missing_artifact_is_a_user_error(uri: str, tmp_path: Path) -> None:
    tracker = Tracker(uri)
    run_id = tracker.create_run("exp", "killed early", {})
    with pytest.raises(ArtifactNotFound, match="checkpoints/last.ckpt"):
        tracker.download(run_id, "checkpoints/last.ckpt", tmp_path)
