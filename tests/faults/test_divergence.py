"""A diverging training (optim.lr=1e6 with SGD) stops at once: one message, the run FAILED and
tagged ``failure.reason=diverged``, no NaN checkpoint; in tuning the trial is PRUNED or FAILED
as the space's ``on_divergence`` says, and the study goes on."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from pipeline.cli import main
from pipeline.runs import REASON_TAG, checkpoint_dir
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow
DIVERGING = ["optim.name=sgd", "optim.lr=1e6", "trainer.gradient_clip_val=0"]


def runs() -> list:
    client = MlflowClient(tracking_uri())
    experiment = client.get_experiment_by_name("tests")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_a_diverging_run_stops_failed_with_its_reason(lm_config: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["train", str(lm_config), *DIVERGING, "trainer.max_epochs=5"]) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert error.count("error: ") == 1 and "error: training diverged: " in error
    assert "lower optim.lr (now 1e+06)" in error
    (run,) = runs()
    assert run.info.status == "FAILED"
    assert run.data.tags[REASON_TAG] == "diverged"
    history = MlflowClient(tracking_uri()).get_metric_history(run.info.run_id, "val_loss")
    assert len(history) <= 1, "stopped at the first validation, not after 5 epochs"
    for path in checkpoint_dir(run.info.run_id).glob("*.ckpt"):  # none saved with NaN weights
        state = torch.load(path, weights_only=True)["state_dict"]
        assert all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())


def test_a_stable_run_is_left_alone(lm_config: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["train", str(lm_config), "trainer.max_epochs=1"]) == 0
    (run,) = runs()
    assert run.info.status == "FINISHED" and REASON_TAG not in run.data.tags


@pytest.mark.parametrize(("policy", "state"), [(None, "PRUNED"), ("fail", "FAIL")])
def test_a_diverging_trial_is_pruned_or_failed_and_the_study_goes_on(
    lm_config: Path, workdir: Path, capsys, policy: str | None, state: str
) -> None:
    space = {
        "sampler": {"name": "random", "seed": 0},  # samples 0.01, then 1e6
        "params": {"optim.lr": {"choice": [1.0e6, 0.01]}},
        **({"on_divergence": policy} if policy else {}),
    }
    (workdir / "space.yaml").write_text(yaml.safe_dump(space), encoding="utf-8")
    argv = ["tune", str(lm_config), "optim.name=sgd", "trainer.gradient_clip_val=0"]
    argv += ["trainer.max_epochs=1", "--space", str(workdir / "space.yaml")]
    capsys.readouterr()
    assert main([*argv, "--n-trials", "2", "--study", "lr"]) == 0
    study = optuna.load_study(study_name="lr", storage=f"sqlite:///{workdir}/mlruns/optuna.db")
    by_lr = {trial.params["optim.lr"]: trial for trial in study.trials}
    assert by_lr[1.0e6].state == TrialState[state]
    assert "training diverged" in str(by_lr[1.0e6].user_attrs)
    assert by_lr[0.01].state == TrialState.COMPLETE
    diverged = [r for r in runs() if r.data.tags.get(REASON_TAG) == "diverged"]
    assert [r.info.status for r in diverged] == ["FAILED"]


def test_on_divergence_takes_prune_or_fail(lm_config: Path, workdir: Path, capsys) -> None:
    space = {"on_divergence": "retry", "params": {"optim.lr": {"choice": [0.01]}}}
    (workdir / "space.yaml").write_text(yaml.safe_dump(space), encoding="utf-8")
    capsys.readouterr()
    assert main(["tune", str(lm_config), "--space", str(workdir / "space.yaml")]) == 2
    assert "on_divergence: 'retry'; allowed: prune, fail" in capsys.readouterr().err
