"""`pipeline tune` workers, each in its own folder as if on its own machine, fill one study on
a real PostgreSQL and log to a real `mlflow server`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from pipeline.studies import open_storage

pytestmark = pytest.mark.cluster

TINY = ["trainer.max_epochs=2", "trainer.limit_train_batches=6", "trainer.limit_val_batches=2"]


class Machines:
    """Start `pipeline tune` workers in their own folders; none outlives the test."""

    def __init__(self, root: Path, config: Path, space: Path, servers) -> None:
        self.root, self.config, self.space, self.servers = root, config, space, servers
        self.workers: list[subprocess.Popen] = []

    def start(self, study: str, trials: int, *overrides: str) -> subprocess.Popen:
        folder = self.root / f"machine{len(self.workers)}"
        folder.mkdir()
        command = [sys.executable, "-m", "pipeline.cli", "tune", str(self.config)]
        command += ["--space", str(self.space), "--n-trials", str(trials), "--study", study]
        command += ["--storage", self.servers.optuna_storage, "--json", *overrides]
        command += ["--tracking-uri", self.servers.tracking_uri]
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        worker = subprocess.Popen(
            command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.workers.append(worker)
        return worker

    def kill_all(self) -> None:
        for worker in self.workers:
            worker.kill()
            worker.communicate()


def finish(worker: subprocess.Popen) -> dict:
    out, err = worker.communicate(timeout=900)
    assert worker.returncode == 0, err[-3000:]
    return json.loads(out)


@pytest.fixture
def machines(lm_config: Path, workdir: Path, servers) -> Iterator[Machines]:
    path = workdir / "space.yaml"
    params = {
        "optim.lr": {"float": [0.005, 0.05], "log": True},
        "model.hidden_size": {"choice": [8, 16]},
    }
    space = {"sampler": {"name": "random", "seed": 0}, "params": params}
    space["heartbeat"] = {"interval": 1, "grace": 3}
    path.write_text(yaml.safe_dump(space))
    started = Machines(workdir, lm_config, path, servers)
    yield started
    started.kill_all()


def study_runs(servers, study: str) -> tuple[str, list, list]:
    """The study's one parent run id, its child runs, and every run tagged with the study."""
    client = MlflowClient(servers.tracking_uri)
    experiment = client.get_experiment_by_name("tests").experiment_id
    runs = client.search_runs([experiment], f"tags.`optuna.study` = '{study}'")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    parent = parents[0].info.run_id
    return parent, [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent], runs


def test_three_workers_fill_one_study_under_one_parent(machines: Machines, servers) -> None:
    workers = [machines.start("cluster", 6, *TINY) for _ in range(3)]
    outputs = [finish(worker) for worker in workers]

    study = optuna.load_study(study_name="cluster", storage=servers.optuna_storage)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(6))
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}

    parent, children, runs = study_runs(servers, "cluster")
    assert {output["parent_run_id"] for output in outputs} == {parent}
    assert sorted(int(r.data.tags["optuna.trial"]) for r in children) == list(range(6))
    assert len(runs) == 6 + 1  # no stray run anywhere
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert len({r.data.tags["optuna.worker"] for r in children}) >= 2  # the work was shared
    client = MlflowClient(servers.tracking_uri)
    assert "config.yaml" in {f.path for f in client.list_artifacts(children[0].info.run_id)}


def test_a_dead_machine_trial_is_failed_and_retried_by_the_others(
    machines: Machines, servers
) -> None:
    doomed = machines.start("crash", 3, *TINY, "trainer.max_epochs=1000000")
    storage = open_storage(servers.optuna_storage)
    wait_for(lambda: training_trial(storage, "crash"), "a trial training on the doomed worker")
    doomed.send_signal(signal.SIGKILL)  # the machine dies: no handler runs, no lock is kept
    doomed.wait(timeout=30)
    survivors = [machines.start("crash", 3, *TINY) for _ in range(2)]
    for worker in survivors:
        finish(worker)

    trials = optuna.load_study(study_name="crash", storage=storage).get_trials(deepcopy=False)
    assert trials[0].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retries) == 1 and retries[0].params == trials[0].params
    assert sorted(t.state.name for t in trials) == ["COMPLETE"] * 3 + ["FAIL"]
    _, children, runs = study_runs(servers, "crash")
    assert sorted(r.info.status for r in children) == ["FAILED"] + ["FINISHED"] * 3
    assert {r.info.status for r in runs} <= {"FINISHED", "FAILED"}  # nothing left RUNNING


def training_trial(storage: optuna.storages.BaseStorage, study: str) -> bool:
    """A RUNNING trial whose MLflow run has started training."""
    try:
        study_id = storage.get_study_id_from_name(study)
    except KeyError:
        return False
    running = storage.get_all_trials(study_id, states=(TrialState.RUNNING,))
    return any(t.user_attrs.get("mlflow_run_id") for t in running)


def wait_for(condition, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
        time.sleep(0.5)
