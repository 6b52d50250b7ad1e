"""Three `pipeline tune` workers, each in its own folder as if on its own machine, fill one
study on a real PostgreSQL and log to a real `mlflow server`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.cluster

TRIALS = 6
WORKERS = 3
TINY = ["trainer.max_epochs=2", "trainer.limit_train_batches=6", "trainer.limit_val_batches=2"]


def start_worker(folder: Path, config: Path, space: Path, servers, study: str) -> subprocess.Popen:
    folder.mkdir()
    command = [sys.executable, "-m", "pipeline.cli", "tune", str(config), "--space", str(space)]
    command += ["--n-trials", str(TRIALS), "--study", study, "--json", *TINY]
    command += ["--storage", servers.optuna_storage, "--tracking-uri", servers.tracking_uri]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(worker: subprocess.Popen) -> dict:
    out, err = worker.communicate(timeout=900)
    assert worker.returncode == 0, err[-3000:]
    return json.loads(out)


@pytest.fixture
def space(workdir: Path) -> Path:
    path = workdir / "space.yaml"
    params = {
        "optim.lr": {"float": [0.005, 0.05], "log": True},
        "model.hidden_size": {"choice": [8, 16]},
    }
    path.write_text(yaml.safe_dump({"sampler": {"name": "random", "seed": 0}, "params": params}))
    return path


def test_three_workers_fill_one_study_under_one_parent(
    lm_config: Path, space: Path, workdir: Path, servers
) -> None:
    workers = [
        start_worker(workdir / f"machine{i}", lm_config, space, servers, "cluster")
        for i in range(WORKERS)
    ]
    outputs = [finish(worker) for worker in workers]

    study = optuna.load_study(study_name="cluster", storage=servers.optuna_storage)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(TRIALS))
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}

    client = MlflowClient(servers.tracking_uri)
    experiment = client.get_experiment_by_name("tests").experiment_id
    runs = client.search_runs([experiment], "tags.`optuna.study` = 'cluster'")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    parent = parents[0].info.run_id
    assert {output["parent_run_id"] for output in outputs} == {parent}
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert sorted(int(r.data.tags["optuna.trial"]) for r in children) == list(range(TRIALS))
    assert len(runs) == TRIALS + 1  # no stray run anywhere
    assert {r.info.status for r in runs} == {"FINISHED"}, [
        (r.info.run_name, r.info.status) for r in runs
    ]
    assert len({r.data.tags["optuna.worker"] for r in children}) >= 2  # the work was shared
    assert {"config.yaml"} <= {f.path for f in client.list_artifacts(children[0].info.run_id)}
