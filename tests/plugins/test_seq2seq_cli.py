"""The seq2seq task end to end through the CLI: a small model learns to reverse generated
sentences exactly (test BLEU 100 with beam search), then predict, predict --json with
--beam/--n-best, and evaluate, which recomputes the logged test BLEU."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_json import run_json
from tiny import TINY_CONFIG

from pipeline.cli import main
from plugins.tasks.seq2seq.toy_data import write_reversal_pairs

pytestmark = pytest.mark.slow


def reversal_config(directory: Path) -> Path:
    """A config that learns the reversal data of directory exactly in well under a minute."""
    paths = write_reversal_pairs(
        directory / "data", {"train": 1200, "validation": 100, "test": 100}, seed=3
    )
    config = {
        **TINY_CONFIG,
        "task": {"name": "seq2seq", "beam_size": 3, "val_bleu_sentences": 50},
        "data": {
            "train": str(paths["train"]),
            "validation": str(paths["validation"]),
            "test": str(paths["test"]),
            "batch_size": 16,
            "eval_batch_size": 50,
        },
        "tokenizer": {"vocab_size": 100},
        "model": {
            "cell": "gru",
            "bidirectional": True,
            "embedding_size": 32,
            "hidden_size": 64,
            "num_layers": 1,
            "dropout": 0.0,
            "runner": "eager",
        },
        "trainer": {**TINY_CONFIG["trainer"], "max_epochs": 14},
    }
    path = directory / "reversal.yaml"
    path.write_text("# pipeline train reversal.yaml\n" + yaml.safe_dump(config), "utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One trained run shared by the tests (cwd: a fresh project folder)."""
    directory = tmp_path_factory.mktemp("seq2seq")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["train", str(reversal_config(directory)), "--json"]) == 0
        yield {**json.loads(out.getvalue()), "directory": directory}


@pytest.fixture
def in_run_folder(trained: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(trained["directory"])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return trained


def test_a_small_model_learns_the_reversal_exactly(in_run_folder: dict[str, Any]) -> None:
    metrics = in_run_folder["metrics"]
    assert metrics["test_bleu"] == pytest.approx(100.0)
    assert metrics["test_chrf"] == pytest.approx(100.0)
    assert metrics["val_bleu"] == pytest.approx(100.0)
    assert metrics["test_ppl"] < 1.1
    assert "train_bleu" not in metrics  # nothing is generated while training


def test_the_run_reports_hypotheses_samples_and_attention(in_run_folder: dict[str, Any]) -> None:
    reports = Path("mlruns/local") / in_run_folder["run_id"] / "reports"
    hypotheses = (reports / "test_hypotheses.txt").read_text("utf-8").splitlines()
    test = Path(in_run_folder["directory"], "data", "test.tsv").read_text("utf-8").splitlines()
    assert hypotheses == [line.split("\t")[1] for line in test[1:]]
    assert "| source | reference | hypothesis |" in (reports / "samples.md").read_text("utf-8")
    assert sorted(path.name for path in reports.glob("attention_*.png")) == [
        f"attention_{i}.png" for i in range(4)
    ]


def test_predict_prints_the_translation(
    in_run_folder: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", "--run", in_run_folder["run_id"], "a b c d"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("a b c d\n  1. D C B A  (score ")


def test_predict_json_gives_n_best_translations_with_scores(
    in_run_folder: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run = in_run_folder["run_id"]
    result = run_json(
        capsys, "predict", "--run", run, "--beam", "4", "--n-best", "3", "f e a", "b d"
    )
    first, second = result["predictions"]
    assert [item["translation"] for item in first["translations"]][0] == "A E F"
    assert second["translations"][0]["translation"] == "D B"
    for prediction in (first, second):
        scores = [item["score"] for item in prediction["translations"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert all(item["log_prob"] <= 0 for item in prediction["translations"])
    greedy = run_json(capsys, "predict", "--run", run, "--beam", "1", "f e a")
    assert [item["translation"] for item in greedy["predictions"][0]["translations"]] == ["A E F"]


def test_evaluate_recomputes_the_logged_test_bleu(
    in_run_folder: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_json(capsys, "evaluate", "--run", in_run_folder["run_id"])
    logged = in_run_folder["metrics"]
    for name in ("test_bleu", "test_chrf", "test_loss"):
        assert result["metrics"][name] == pytest.approx(logged[name], rel=1e-6), name


def test_a_bad_predict_option_names_it(
    in_run_folder: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", "--run", in_run_folder["run_id"], "--n-best", "0", "a"]) == 2
    assert "n_best must be at least 1, got 0" in capsys.readouterr().err
