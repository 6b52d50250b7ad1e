"""`pipeline tune` when no trial completes: non-zero exit and one line summing up the failures."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from pipeline.cli import main

pytestmark = pytest.mark.slow


def test_every_trial_failing_on_a_user_error_exits_2_with_a_summary(
    lm_config: Path, corpus: dict[str, Path], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus["train"].write_text("", encoding="utf-8")  # every trial's data preparation fails
    space = workdir / "space.yaml"
    params = {"model.hidden_size": {"int": [8, 12]}}
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
