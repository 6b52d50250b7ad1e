"""`pipeline tune` when no trial completes: non-zero exit and one line summing up the failures."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from mlflow import MlflowClient
from optuna.trial import TrialState

from pipeline.cli import main

pytestmark = pytest.mark.slow


def test_every_trial_failing_on_a_user_error_exits_2_with_a_summary(
    lm_config: Path, corpus: dict[str, Path], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus["train"].write_text("", encoding="utf-8")  # every trial's data preparation fails
    space = workdir / "space.yaml"
    # data.train sampled: each trial checks its own inputs, none is checked before the study
    params = {
        "model.hidden_size": {"int": [8, 12]},
        "data.train": {"choice": [str(corpus["train"])]},
    }
    space.write_text(yaml.safe_dump({"sampler": {"name": "random", "seed": 0}, "params": params}))
    capsys.readouterr()
    argv = ["tune", str(lm_config), "--space", str(space), "--n-trials", "2", "--study", "empty"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith(
        "error: no trial of study 'empty' completed: 2 failed (2 on a user error) of 2 trials; "
        "first error: "
    ), lines[-1]
    storage = f"sqlite:///{workdir / 'mlruns' / 'optuna.db'}"
    study = optuna.load_study(study_name="empty", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]


def test_a_bad_input_of_the_base_config_stops_tune_before_any_run(
    lm_config: Path, corpus: dict[str, Path], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus["train"].write_text("", encoding="utf-8")
    space = workdir / "space.yaml"
    params = {"model.hidden_size": {"int": [8, 12]}}
    space.write_text(yaml.safe_dump({"sampler": {"name": "random", "seed": 0}, "params": params}))
    capsys.readouterr()
    argv = ["tune", str(lm_config), "--space", str(space), "--n-trials", "2", "--study", "none"]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: data.train:") and "train.txt" in error, error
    store = workdir / "mlruns" / "mlflow.db"
    if store.exists():  # created by nothing but an earlier command: no run in it
        client = MlflowClient(f"sqlite:///{store}")
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []
