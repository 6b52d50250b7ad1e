"""Run ownership on a real SQLite store: who opens the run, its final status, signals, ranks."""

from __future__ import annotations

import copy
import os
import signal
from pathlib import Path

import pytest
from tiny import TINY_CONFIG

from pipeline.config import Config, build_config
from pipeline.plugins import Registries, default_registries
from pipeline.runs import RUN_ID_ENV, owned_run
from pipeline.tracking import Tracker


@pytest.fixture(scope="module")
def registries() -> Registries:
    return default_registries()


@pytest.fixture
def cfg(registries: Registries) -> Config:
    raw = copy.deepcopy(TINY_CONFIG)
    raw["data"]["train"] = "train.txt"  # never read: no training happens here
    return build_config(raw, registries)


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tracker:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    return Tracker(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")


def test_owner_opens_shares_and_finishes_the_run(tracker, cfg, registries) -> None:
    with owned_run(tracker, cfg, registries, tags={"origin": "test"}) as run:
        assert run.owner and not run.resumed
        assert os.environ[RUN_ID_ENV] == run.run_id  # for the ranks Lightning launches
        assert tracker.get_run(run.run_id).info.status == "RUNNING"
    assert RUN_ID_ENV not in os.environ
    finished = tracker.get_run(run.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.tags["origin"] == "test" and finished.data.tags["cell"] == "lstm"


def test_an_error_ends_the_run_failed_with_the_error(tracker, cfg, registries) -> None:
    with pytest.raises(RuntimeError), owned_run(tracker, cfg, registries) as run:
        raise RuntimeError("boom")
    failed = tracker.get_run(run.run_id)
    assert (failed.info.status, failed.data.tags["error"]) == ("FAILED", "RuntimeError: boom")
    assert RUN_ID_ENV not in os.environ


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_the_run_killed_with_its_last_checkpoint(
    tracker, cfg, registries, stop_signal
) -> None:
    before = signal.getsignal(stop_signal)
    with pytest.raises(KeyboardInterrupt), owned_run(tracker, cfg, registries) as run:
        run.checkpoints.mkdir(parents=True, exist_ok=True)  # the run lock made it
        (run.checkpoints / "last.ckpt").write_bytes(b"weights")
        os.kill(os.getpid(), stop_signal)
    assert tracker.get_run(run.run_id).info.status == "KILLED"
    logged = tracker.client.list_artifacts(run.run_id, "checkpoints")
    assert [item.path for item in logged] == ["checkpoints/last.ckpt"]
    assert signal.getsignal(stop_signal) is before  # the handlers are given back


def test_resume_reopens_the_same_run(tracker, cfg, registries) -> None:
    with owned_run(tracker, cfg, registries) as first:
        pass
    with owned_run(tracker, cfg, registries, resume=first.run_id) as again:
        assert again.run_id == first.run_id and again.resumed
        assert tracker.get_run(first.run_id).info.status == "RUNNING"
    assert tracker.get_run(first.run_id).info.status == "FINISHED"


def test_a_launched_rank_trains_in_rank_0s_run_and_leaves_it_alone(
    tracker, cfg, registries, monkeypatch
) -> None:
    with owned_run(tracker, cfg, registries) as owner:
        # owned_run itself set RUN_ID_ENV, as Lightning's launcher passes it on to the ranks
        with pytest.raises(RuntimeError), owned_run(tracker, cfg, registries) as rank:
            assert (rank.run_id, rank.owner) == (owner.run_id, False)
            raise RuntimeError("rank 1 failed")  # its status is rank 0's to set
        assert tracker.get_run(owner.run_id).info.status == "RUNNING"
        assert os.environ[RUN_ID_ENV] == owner.run_id
    assert RUN_ID_ENV not in os.environ


def test_an_externally_started_rank_opens_no_run(tmp_path, cfg, registries, monkeypatch):
    """torchrun/SLURM ranks > 0 get the id by broadcast later; they never touch the store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    monkeypatch.setenv("NODE_RANK", "1")
    tracker = Tracker(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    with owned_run(tracker, cfg, registries) as run:
        assert (run.run_id, run.owner) == ("", False)
        assert RUN_ID_ENV not in os.environ
    assert not (tmp_path / "store").exists()
