"""`pipeline tune` end to end: real Optuna storage, real MLflow store, real training."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from pipeline.cli import main
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow
FAST = ["trainer.max_epochs=2", "trainer.limit_train_batches=6", "trainer.limit_val_batches=3"]


def write_space(path: Path, params: dict, **sections) -> Path:
    space = {"sampler": {"name": "random", "seed": 3}, "params": params, **sections}
    path.write_text("# pipeline tune tiny.yaml --space space.yaml\n" + yaml.safe_dump(space))
    return path


@pytest.fixture
def space(workdir: Path) -> Path:
    return write_space(
        workdir / "space.yaml",
        {
            "model.hidden_size": {"int": [8, 24]},
            "optim.lr": {"float": [1.0e-3, 3.0e-2], "log": True},
            "model.cell": {"choice": ["lstm", "gru"]},
        },
        pruner={"name": "none"},
    )


def tune_json(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(["tune", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def tune_command(config: Path, space: Path, *args: str) -> list[str]:
    """`pipeline tune` as a separate process (signals, DDP relaunches)."""
    return [sys.executable, "-m", "pipeline.cli", "tune", str(config), "--space", str(space), *args]


def children(parent: str) -> list:
    client = MlflowClient(tracking_uri())
    experiment = client.get_run(parent).info.experiment_id
    return client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'")


def load_study(facts: dict) -> optuna.Study:
    return optuna.load_study(study_name=facts["study"], storage=facts["storage"])


def test_study_nests_one_child_run_per_trial(lm_config: Path, space: Path, workdir, capsys):
    facts = tune_json(
        capsys,
        str(lm_config),
        *FAST,
        "--space",
        str(space),
        "--n-trials",
        "3",
        "--study",
        "nest",
        "--export",
        "best.yaml",
    )
    study = load_study(facts)
    assert facts["counts"] == {"COMPLETE": 3}
    runs = {run.data.tags["optuna.trial"]: run for run in children(facts["parent_run_id"])}
    assert len(runs) == 3
    for trial in study.trials:
        run = runs[str(trial.number)]
        assert run.info.status == "FINISHED" and run.data.tags["optuna.state"] == "COMPLETE"
        assert run.data.params["model.hidden_size"] == str(trial.params["model.hidden_size"])
        assert run.data.params["model.cell"] == trial.params["model.cell"]
        assert float(run.data.params["optim.lr"]) == pytest.approx(trial.params["optim.lr"])
        assert run.data.params["optuna.trial_number"] == str(trial.number)
        assert run.info.run_name.startswith(f"t{trial.number:02d} {trial.params['model.cell']}-")
        assert "Trial" in run.data.tags["mlflow.note.content"]
        assert trial.value == pytest.approx(run.data.metrics["best_val_loss"])
    parent = MlflowClient(tracking_uri()).get_run(facts["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_val_loss"] == pytest.approx(study.best_value)
    assert parent.data.params["model.cell"] == study.best_params["model.cell"]  # lines up
    assert facts["best_run_id"] in parent.data.tags["mlflow.note.content"]
    assert parent.data.tags["best_run_id"] == facts["best_run_id"]
    plots = {
        a.path for a in MlflowClient(tracking_uri()).list_artifacts(parent.info.run_id, "plots")
    }
    kind = "html" if optuna.visualization.is_available() else "png"  # tests/e2e/test_tune_plots
    assert f"plots/optimization_history.{kind}" in plots
    exported = yaml.safe_load((workdir / "best.yaml").read_text())
    assert exported["model"]["cell"] == study.best_params["model.cell"]
    again = tune_json(
        capsys, str(lm_config), *FAST, "--space", str(space), "--n-trials", "4", "--study", "nest"
    )
    assert again["counts"] == {"COMPLETE": 4}  # resumed: one more trial, total as asked
    assert again["parent_run_id"] == facts["parent_run_id"]


def test_a_study_gets_its_own_experiment(lm_config: Path, space: Path, workdir, capsys) -> None:
    facts = tune_json(capsys, str(lm_config), *FAST, "--space", str(space), "--n-trials", "1")
    own = tune_json(
        capsys, str(lm_config), *FAST, "--space", str(space), "--n-trials", "1",
        "--study", "apart", "--experiment", "studies",
    )  # fmt: skip
    client = MlflowClient(tracking_uri())
    studies = client.get_experiment_by_name("studies").experiment_id
    parent = client.get_run(own["parent_run_id"])
    assert parent.info.experiment_id == studies
    assert [run.info.experiment_id for run in children(own["parent_run_id"])] == [studies]
    assert client.get_run(facts["parent_run_id"]).info.experiment_id != studies
    assert own["ui_link"].endswith(f"#/experiments/{studies}/runs/{own['parent_run_id']}")


def test_a_grid_study_runs_each_point_once_and_ends_well(
    lm_config: Path, workdir: Path, capsys
) -> None:
    grid = write_space(
        workdir / "grid.yaml",
        {"model.cell": {"choice": ["lstm", "gru"]}},
        sampler={"name": "grid", "seed": 0},
        pruner={"name": "none"},
    )
    with pytest.warns(UserWarning, match="the grid has 2 points: tuning runs 2 trials"):
        facts = tune_json(capsys, str(lm_config), *FAST, "--space", str(grid), "--n-trials", "5")
    trials = load_study(facts).trials
    assert sorted(trial.params["model.cell"] for trial in trials) == ["gru", "lstm"]
    assert [trial.state.name for trial in trials] == ["COMPLETE", "COMPLETE"]


def test_hopeless_trials_are_pruned(lm_config: Path, workdir: Path, capsys) -> None:
    """Two good trials first, then (same study, narrowed space) a hopeless learning rate."""
    pruner = {"name": "median", "n_startup_trials": 1, "n_warmup_steps": 0}
    argv = [
        str(lm_config),
        "trainer.max_epochs=3",
        "trainer.limit_train_batches=6",
        "--study",
        "prune",
    ]
    good = write_space(workdir / "good.yaml", {"optim.lr": {"float": [0.02, 0.02]}}, pruner=pruner)
    tune_json(capsys, *argv, "--space", str(good), "--n-trials", "2")
    bad = write_space(
        workdir / "bad.yaml", {"optim.lr": {"float": [1.0e-7, 1.0e-7]}}, pruner=pruner
    )
    facts = tune_json(capsys, *argv, "--space", str(bad), "--n-trials", "3")
    assert facts["counts"] == {"COMPLETE": 2, "PRUNED": 1}
    pruned = load_study(facts).get_trials(states=(TrialState.PRUNED,))[0]
    assert pruned.params["optim.lr"] == 1.0e-7
    assert len(pruned.intermediate_values) < 3  # stopped before its last epoch
    tags = {r.data.tags["optuna.trial"]: r.data.tags for r in children(facts["parent_run_id"])}
    assert tags[str(pruned.number)]["optuna.state"] == "PRUNED"


def test_two_workers_fill_one_study_exactly(lm_config: Path, space: Path, capsys) -> None:
    facts = tune_json(
        capsys, str(lm_config), *FAST, "--space", str(space), "--n-trials", "4", "--workers", "2"
    )
    numbers = [t.number for t in load_study(facts).trials]
    assert sorted(numbers) == [0, 1, 2, 3]
    assert facts["counts"] == {"COMPLETE": 4}
    assert len(children(facts["parent_run_id"])) == 4


def test_killed_worker_trial_is_failed_and_retried(lm_config: Path, workdir: Path, capsys):
    space = write_space(
        workdir / "beat.yaml",
        {"model.hidden_size": {"int": [8, 16]}},
        pruner={"name": "none"},
        heartbeat={"interval": 1, "grace": 2},
    )
    command = tune_command(lm_config, space, "--n-trials", "2", "--study", "crash")
    command.append("trainer.max_epochs=1000000")
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    storage = f"sqlite:///{workdir / 'mlruns' / 'optuna.db'}"
    try:
        wait_for_child_metric()
        worker.send_signal(signal.SIGKILL)  # a crash: no handler runs, the trial stays RUNNING
        worker.wait(timeout=30)
    finally:
        worker.kill()
    study = optuna.load_study(study_name="crash", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.RUNNING]
    time.sleep(3)  # past the grace period
    facts = tune_json(
        capsys, str(lm_config), *FAST, "--space", str(space), "--n-trials", "2", "--study", "crash"
    )
    trials = load_study(facts).trials
    assert trials[0].state == TrialState.FAIL
    assert trials[1].system_attrs["failed_trial"] == 0  # the retry of the killed trial
    assert trials[1].params == trials[0].params
    assert facts["counts"] == {"FAIL": 1, "COMPLETE": 2}
    statuses = sorted(r.info.status for r in children(facts["parent_run_id"]))
    assert statuses == ["FAILED", "FINISHED", "FINISHED"]  # nothing left RUNNING


def wait_for_child_metric(timeout: float = 120.0) -> None:
    client = MlflowClient(tracking_uri())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name("tests")
        if experiment is not None:
            runs = client.search_runs(
                [experiment.experiment_id], "tags.optuna.trial = '0' and metrics.val_loss > 0"
            )
            if runs:
                return
        time.sleep(0.5)
    raise AssertionError("the trial never logged a validation metric")


@pytest.mark.parametrize(
    ("params", "sections", "fragments"),
    [
        (
            {"model.hiden_size": {"int": [8, 16]}},
            {},
            ["params.model.hiden_size", "not a config key"],
        ),
        ({"model.hidden_size": {"int": [16, 8]}}, {}, ["low 16 > high 8"]),
        ({"optim.lr": {"float": [0.0, 0.1], "log": True}}, {}, ["log scale needs low > 0"]),
        ({"model.cell": {"choice": ["lstm", "lstn"]}}, {}, ["'lstn' is not a registered cells"]),
        (
            {"optim.lr": {"float": [0.001, 0.1]}},
            {"objective": {"metric": "val_bleu"}},
            ["objective.metric", "val_loss, val_ppl"],
        ),
        ({"model.hidden_size": {"float": [8.0, 16.0]}}, {}, ["model.hidden_size", "expected int"]),
    ],
)
def test_bad_space_files_fail_before_any_trial(
    lm_config, workdir, capsys, params, sections, fragments
):
    space = write_space(workdir / "bad.yaml", params, **sections)
    capsys.readouterr()
    assert main(["tune", str(lm_config), "--space", str(space), "--n-trials", "2"]) == 2
    error = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in error
    assert not (workdir / "mlruns" / "optuna.db").exists()


def test_ddp_trial_is_sampled_once_and_logged_once(lm_config: Path, space: Path) -> None:
    """A 2-process CPU DDP trial: one Optuna trial, one child run, both ranks trained it."""
    command = tune_command(lm_config, space, "--n-trials", "1", "--json", *FAST)
    command += ["trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout)
    assert facts["counts"] == {"COMPLETE": 1}
    runs = children(facts["parent_run_id"])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    trial = load_study(facts).trials[0]
    assert runs[0].data.params["model.hidden_size"] == str(trial.params["model.hidden_size"])
    assert len(trial.intermediate_values) == 2  # rank 0 reported each epoch
    all_runs = MlflowClient(tracking_uri()).search_runs(
        [MlflowClient(tracking_uri()).get_experiment_by_name("tests").experiment_id]
    )
    assert len(all_runs) == 2  # the parent and the one child: no run per rank
