"""Heartbeats and the repair of runs whose process is gone, on a real SQLite store."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import pytest
from tiny import TINY_CONFIG

from pipeline.cli import main
from pipeline.config import build_config
from pipeline.errors import UserError
from pipeline.heartbeat import (
    HEARTBEAT_TAG,
    INTERVAL_ENV,
    Heartbeat,
    heartbeat_tags,
    now_ms,
    run_interval,
)
from pipeline.plugins import default_registries
from pipeline.repair import TRIAL_DIED, is_stale, repair_stale_runs
from pipeline.resume import changed_keys
from pipeline.tracking import Tracker


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tracker:
    monkeypatch.chdir(tmp_path)
    store = Tracker(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    store.experiment_id("tests")  # the store is created (seconds) before any beat is timed
    return store


def test_a_heartbeat_beats_at_once_then_every_interval_until_the_block_ends() -> None:
    beats: list[int] = []
    three = threading.Event()

    def beat() -> None:
        beats.append(now_ms())
        if len(beats) == 3:
            three.set()

    with Heartbeat(beat, 0.01):
        assert three.wait(10)
    count = len(beats)
    threading.Event().wait(0.05)
    assert len(beats) == count  # stopped with the block


def test_a_failing_beat_is_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    second = threading.Event()

    def beat() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("database is locked")
        second.set()

    with Heartbeat(beat, 0.01):
        assert second.wait(10)
    assert "heartbeat not recorded (database is locked)" in caplog.text


@pytest.mark.parametrize("text", ["abc", "0", "-1", "inf"])
def test_a_bad_interval_is_a_user_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(INTERVAL_ENV, text)
    with pytest.raises(UserError, match=INTERVAL_ENV):
        run_interval()


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert run_interval() == 10.0
    monkeypatch.setenv(INTERVAL_ENV, "0.5")
    assert run_interval() == 0.5


def silent_run(tracker: Tracker, seconds_ago: float, **tags: str) -> str:
    """A RUNNING run whose last beat (every 10 s) was seconds_ago."""
    beat = heartbeat_tags(10.0)
    beat[HEARTBEAT_TAG] = str(now_ms() - int(seconds_ago * 1000))
    return tracker.create_run("tests", "silent", {**beat, **tags})


def test_staleness_needs_three_missed_beats_and_a_heartbeat(tracker: Tracker) -> None:
    assert not is_stale(tracker.get_run(silent_run(tracker, 20)))
    assert is_stale(tracker.get_run(silent_run(tracker, 35)))
    assert not is_stale(tracker.get_run(tracker.create_run("tests", "no heartbeat", {})))
    finished = silent_run(tracker, 100)
    tracker.end(finished, "FINISHED")
    assert not is_stale(tracker.get_run(finished))


def test_repair_ends_silent_runs_and_leaves_the_others(tracker: Tracker) -> None:
    gone = silent_run(tracker, 100)
    trial = silent_run(tracker, 100, **{"optuna.trial": "3"})
    alive = silent_run(tracker, 1)
    parent = tracker.create_run("tests", "study parent", {"optuna.study": "s"})  # no heartbeat
    repaired = {r.run_id: r for r in repair_stale_runs(tracker)}
    assert set(repaired) == {gone, trial}
    assert (repaired[gone].status, repaired[gone].last_epoch) == ("KILLED", None)
    killed = tracker.get_run(gone)
    assert killed.info.status == "KILLED"
    assert killed.data.tags["pipeline.last_checkpoint"] == "none"
    failed = tracker.get_run(trial)
    assert failed.info.status == "FAILED"  # as `pipeline tune` ends a dead worker's trial
    assert failed.data.tags["optuna.state"] == TRIAL_DIED["optuna.state"]
    assert {tracker.get_run(r).info.status for r in (alive, parent)} == {"RUNNING"}
    assert repair_stale_runs(tracker) == []


def test_resume_may_change_the_trainer_but_not_the_network_data_or_optimizer() -> None:
    registries = default_registries()
    raw = copy.deepcopy(TINY_CONFIG)
    raw["data"]["train"] = "train.txt"
    logged = build_config(copy.deepcopy(raw), registries)
    raw["trainer"]["max_epochs"] = 9
    raw["data"]["cache_dir"] = "elsewhere"
    assert changed_keys(logged, build_config(copy.deepcopy(raw), registries)) == {}
    raw.update(seed=1)
    raw["optim"]["lr"] = 0.5
    raw["task"]["bptt"] = 20
    raw["tokenizer"]["vocab_size"] = 300
    assert changed_keys(logged, build_config(raw, registries)) == {
        "optim.lr": (0.01, 0.5),
        "seed": (42, 1),
        "task.bptt": (10, 20),
        "tokenizer.vocab_size": (400, 300),
    }


def test_resuming_a_run_that_beats_elsewhere_is_refused(
    tracker: Tracker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Never trained in this folder, still beating: it trains on another machine."""
    run_id = silent_run(tracker, 1)
    config = tmp_path / "config.yaml"
    (tmp_path / "train.txt").write_text("hola mundo\n", encoding="utf-8")  # inputs exist
    config.write_text(
        f"task: {{name: language_model}}\ndata: {{train: {tmp_path / 'train.txt'}}}\n"
    )
    argv = ["train", str(config), "--tracking-uri", tracker.uri, "--resume", run_id]
    assert main(argv) == 2
    assert "is still training elsewhere" in capsys.readouterr().err
    assert tracker.get_run(run_id).info.status == "RUNNING"
