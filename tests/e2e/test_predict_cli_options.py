"""`pipeline predict --option KEY=VALUE` and `--help-options` on a trained language model."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_json import run_json

from pipeline.cli import main

pytestmark = pytest.mark.slow


def test_predict_options_of_the_runs_task(lm_config: Path, capsys: pytest.CaptureFixture) -> None:
    run = run_json(capsys, "train", str(lm_config))["run_id"]
    capsys.readouterr()
    assert main(["predict", "--run", run, "--help-options"]) == 0
    assert "  top_k (int, default 5): how many ranked next tokens" in capsys.readouterr().out

    argv = ["predict", "--run", run, "--option", "top_k=2", "--option", "sample=3"]
    first = run_json(capsys, *argv, "--option", "seed=7", "El gobierno")["predictions"][0]
    again = run_json(capsys, *argv, "--option", "seed=7", "El gobierno")["predictions"][0]
    assert len(first["next"]) == 2 and first == again  # seeded sampling repeats
    named = run_json(capsys, "predict", "--run", run, "--top-k", "3", "El gobierno")
    assert len(named["predictions"][0]["next"]) == 3

    assert main(["predict", "--run", run, "--option", "tempratur=0.5", "El"]) == 2
    assert "did you mean 'temperature'?" in capsys.readouterr().err
