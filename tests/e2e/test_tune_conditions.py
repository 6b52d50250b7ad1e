"""`pipeline tune` with a conditional key: real Optuna storage, MLflow store and training.

The LSTM's ``forget_bias`` is searched only in trials that choose the LSTM; every trial
completes, each child run logs exactly the options of its cell, and a space that searches the
option for every cell fails before any trial, naming the ``when`` that fixes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipeline.cli import main
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow
FAST = ["trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.limit_val_batches=2"]
FORGET_BIAS = "model.cell_options.forget_bias"


def write_space(path: Path, params: dict) -> Path:
    space = {"sampler": {"name": "random", "seed": 5}, "pruner": {"name": "none"}, "params": params}
    path.write_text("# pipeline tune tiny.yaml --space space.yaml\n" + yaml.safe_dump(space))
    return path


def test_the_option_is_tuned_only_for_its_cell(lm_config: Path, workdir: Path, capsys) -> None:
    space = write_space(
        workdir / "space.yaml",
        {
            "model.cell": {"choice": ["lstm", "gru"]},
            FORGET_BIAS: {"float": [0.5, 1.5], "when": {"model.cell": "lstm"}},
        },
    )
    capsys.readouterr()
    argv = ["tune", str(lm_config), *FAST, "--space", str(space), "--n-trials", "4", "--json"]
    assert main([*argv, "--study", "branches"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["counts"] == {"COMPLETE": 4}
    study = optuna.load_study(study_name=facts["study"], storage=facts["storage"])
    assert {t.params["model.cell"] for t in study.trials} == {"lstm", "gru"}
    client = MlflowClient(tracking_uri())
    for trial in study.trials:
        params = client.get_run(trial.user_attrs["mlflow_run_id"]).data.params
        assert params["model.cell"] == trial.params["model.cell"]
        if trial.params["model.cell"] == "lstm":
            assert float(params[FORGET_BIAS]) == pytest.approx(trial.params[FORGET_BIAS])
        else:
            assert FORGET_BIAS not in trial.params and FORGET_BIAS not in params


def test_an_option_searched_for_every_cell_fails_before_any_trial(
    lm_config: Path, workdir: Path, capsys
) -> None:
    space = write_space(
        workdir / "space.yaml",
        {"model.cell": {"choice": ["lstm", "gru"]}, FORGET_BIAS: {"float": [0.5, 1.5]}},
    )
    capsys.readouterr()
    assert main(["tune", str(lm_config), "--space", str(space), "--n-trials", "2"]) == 2
    error = capsys.readouterr().err
    assert "model.cell=gru takes no options" in error
    assert "add when: {model.cell: ['lstm']}" in error
    assert not (workdir / "mlruns" / "optuna.db").exists()
