"""End to end through the CLI: train, predict, evaluate, resume on a real MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_json import run_json
from mlflow.tracking import MlflowClient

from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(lm_config: Path, capsys: pytest.CaptureFixture) -> dict:
    return run_json(capsys, "train", str(lm_config))


def client() -> MlflowClient:
    return MlflowClient(tracking_uri())


def test_train_writes_finished_run_with_params_metrics_artifacts(trained: dict) -> None:
    run = client().get_run(trained["run_id"])
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["model.cell"] == "lstm" and params["model.hidden_size"] == "16"
    assert params["optim.lr"] == "0.01" and params["task.bptt"] == "10"
    assert params["init.embedding"] == "uniform"
    assert int(params["model.trainable_parameters"]) > 0
    assert int(params["data.size.train_tokens"]) > 1000
    metrics = run.data.metrics
    for name in ("train_loss", "train_ppl", "val_loss", "val_ppl", "test_loss", "test_ppl"):
        assert name in metrics and metrics[name] > 0
    assert "lr" not in metrics and "epoch" not in metrics  # constants get no chart
    assert len(client().get_metric_history(run.info.run_id, "val_ppl")) == 2  # one per epoch
    tags = run.data.tags
    assert tags["task"] == "language_model" and tags["cell"] == "lstm"
    assert tags["plugin.cells.lstm"].startswith("rnn-pipeline ")
    assert tags["plugin.tokenizers.word"].startswith("rnn-pipeline ")
    artifacts = {a.path for a in client().list_artifacts(run.info.run_id)}
    assert {"config.yaml", "task", "checkpoints", "learning_curve.png"} <= artifacts
    nested = {a.path for a in client().list_artifacts(run.info.run_id, "checkpoints")}
    assert "checkpoints/best.ckpt" in nested
    assert trained["metrics"]["test_ppl"] == pytest.approx(metrics["test_ppl"])
    assert trained["tracking_uri"].startswith("sqlite:///")


def test_the_run_tells_itself_apart_in_the_ui(trained: dict) -> None:
    """Short name with what varies, the command as description, per-epoch steps, its link."""
    run_id = trained["run_id"]
    run = client().get_run(run_id)
    assert run.info.run_name == "lstm-1x16-lr1e-2"
    assert "pipeline train" in run.data.tags["mlflow.note.content"]
    assert [m.step for m in client().get_metric_history(run_id, "val_ppl")] == [1, 2]
    assert [m.step for m in client().get_metric_history(run_id, "test_ppl")] == [0]
    link = f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run_id}"
    assert trained["ui_link"] == link


def test_a_schedule_logs_the_learning_rate_per_epoch(lm_config: Path, capsys) -> None:
    result = run_json(capsys, "train", str(lm_config), "optim.schedule=step", "optim.lr=0.01")
    history = client().get_metric_history(result["run_id"], "lr")
    assert [(m.step, m.value) for m in history] == [(1, pytest.approx(0.01)), (2, 0.0025)]


def test_learning_improves_over_uniform(trained: dict) -> None:
    """Two epochs on structured text beat a uniform guess over the vocabulary by far."""
    run = client().get_run(trained["run_id"])
    assert trained["metrics"]["test_ppl"] < 0.5 * float(run.data.params["data.size.vocabulary"])


def test_predict_returns_k_sorted_probabilities(trained: dict, capsys) -> None:
    result = run_json(
        capsys,
        "predict",
        "--run",
        trained["run_id"],
        "--top-k",
        "4",
        "El gobierno aprobó un",
        "La ministra",
    )
    assert len(result["predictions"]) == 2
    for prediction in result["predictions"]:
        probabilities = [item["probability"] for item in prediction["next"]]
        assert len(probabilities) == 4
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(0 < p <= 1 for p in probabilities)


def test_evaluate_reproduces_logged_test_perplexity(trained: dict, capsys) -> None:
    result = run_json(capsys, "evaluate", "--run", trained["run_id"])
    assert result["metrics"]["test_ppl"] == pytest.approx(trained["metrics"]["test_ppl"], rel=1e-4)


def test_resume_continues_the_same_run(lm_config: Path, capsys) -> None:
    first = run_json(capsys, "train", str(lm_config), "trainer.max_epochs=1")
    resumed = run_json(
        capsys, "train", str(lm_config), "trainer.max_epochs=2", "--resume", first["run_id"]
    )
    assert resumed["run_id"] == first["run_id"]
    history = client().get_metric_history(first["run_id"], "val_loss")
    assert len(history) == 2
    assert client().get_run(first["run_id"]).info.status == "FINISHED"
    runs = client().search_runs([client().get_experiment_by_name("tests").experiment_id])
    assert len(runs) == 1
    tokenised = list(Path(".cache/rnn-pipeline").glob("*/.complete"))
    assert len(tokenised) == 1  # the second run reused the cached token ids


def test_a_time_budget_stops_training_and_tests_the_best_checkpoint(lm_config: Path, capsys):
    """trainer.max_minutes ends a run that max_epochs would keep going, as a FINISHED run."""
    result = run_json(
        capsys, "train", str(lm_config), "trainer.max_epochs=500", "trainer.max_minutes=0.05"
    )
    assert client().get_run(result["run_id"]).info.status == "FINISHED"
    epochs = len(client().get_metric_history(result["run_id"], "train_loss"))
    assert 1 <= epochs < 500 and result["metrics"]["test_ppl"] > 1


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.cell=rnn_sigmoid", "model.runner=eager"],
        ["tokenizer.kind=sentencepiece", "tokenizer.vocab_size=200", "model.cell=gru"],
        [
            "model.cell=rnn_tanh",
            "model.num_layers=2",
            "optim.name=sgd",
            "optim.lr=1.0",
            "optim.schedule=step",
            "task.tie_weights=true",
        ],
    ],
)
def test_other_cells_tokenizers_and_optimizers_train(lm_config: Path, capsys, overrides) -> None:
    result = run_json(capsys, "train", str(lm_config), "trainer.max_epochs=1", *overrides)
    assert client().get_run(result["run_id"]).info.status == "FINISHED"
    assert result["metrics"]["test_ppl"] > 1


def test_pretrained_vectors_initialise_the_embedding(lm_config: Path, workdir: Path, capsys):
    """GloVe-style vectors fill the rows of the words they cover; coverage is logged."""
    vectors = workdir / "vectors.txt"
    words = ["gobierno", "aprobó", "decreto", "ley", "plan", "palabra_ausente"]
    vectors.write_text("".join(f"{w} {' '.join(['0.5'] * 16)}\n" for w in words), "utf-8")
    result = run_json(
        capsys,
        "train",
        str(lm_config),
        "trainer.max_epochs=1",
        "init.embedding=pretrained",
        f"init.options.embedding.path={vectors}",
    )
    params = client().get_run(result["run_id"]).data.params
    # five words are in the corpus (capitalised forms match through the lowercase fallback)
    assert int(params["init.embedding.pretrained_covered"]) >= 5
    assert float(params["init.embedding.pretrained_coverage"]) > 0
