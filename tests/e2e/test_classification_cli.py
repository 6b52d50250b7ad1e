"""End to end through the CLI: train a classifier, read its reports, predict, evaluate."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_json import run_json
from mlflow.tracking import MlflowClient
from tiny import TINY_CONFIG

from pipeline.cli import main
from pipeline.inference import evaluate
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow

TOPICS = {
    "sport": ["goal", "match", "team", "coach", "league", "score"],
    "food": ["recipe", "spicy", "bread", "cheese", "soup", "oven"],
    "tech": ["laptop", "software", "chip", "server", "code", "robot"],
}
FILLER = ["the", "a", "very", "today", "new", "big", "my", "and", "with", "about", "was"]


def sentences(count: int, seed: int) -> list[tuple[str, str]]:
    """(text, topic) pairs: two or three topic words among filler words; separable by words."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        topic = list(TOPICS)[i % len(TOPICS)]
        words = rng.choices(TOPICS[topic], k=rng.randint(2, 3)) + rng.choices(FILLER, k=4)
        rng.shuffle(words)
        rows.append((" ".join(words), topic))
    return rows


def write_splits(folder: Path) -> dict[str, Path]:
    """Train as CSV, validation as JSON lines, test as TSV (task.format=auto reads each)."""
    folder.mkdir()
    paths = {
        s: folder / f"{s}.{e}" for s, e in [("train", "csv"), ("val", "jsonl"), ("test", "tsv")]
    }
    with paths["train"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence", "topic"])
        writer.writerows(sentences(240, seed=1))
    lines = [json.dumps({"sentence": t, "topic": y}) for t, y in sentences(60, seed=2)]
    paths["val"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ["sentence\ttopic"] + [f"{t}\t{y}" for t, y in sentences(60, seed=3)]
    paths["test"].write_text("\n".join(rows) + "\n", encoding="utf-8")
    return paths


@pytest.fixture
def config(workdir: Path) -> Path:
    paths = write_splits(workdir / "topics")
    settings = {
        "task": {"name": "classification", "pooling": "mean", "label_column": "topic"},
        "data": {
            "train": str(paths["train"]),
            "validation": str(paths["val"]),
            "test": str(paths["test"]),
            "text_column": "sentence",
            "batch_size": 16,
            "eval_batch_size": 32,
        },
        "model": {
            "cell": "lstm",
            "bidirectional": True,
            "embedding_size": 16,
            "hidden_size": 16,
            "num_layers": 1,
            "dropout": 0.0,
        },
        "optim": {"name": "adam", "lr": 0.02},
        "trainer": {**TINY_CONFIG["trainer"], "max_epochs": 4},
        "tracking": {"experiment": "tests"},
    }
    path = workdir / "topics.yaml"
    path.write_text("# pipeline train topics.yaml\n" + yaml.safe_dump(settings), encoding="utf-8")
    return path


def test_train_reports_predict_evaluate(config: Path, capsys: pytest.CaptureFixture) -> None:
    trained = run_json(capsys, "train", str(config))
    client = MlflowClient(tracking_uri())
    run = client.get_run(trained["run_id"])
    params = run.data.params
    assert run.info.status == "FINISHED" and run.data.tags["task"] == "classification"
    assert run.data.params["task.pooling"] == "mean" and run.data.params["data.size.classes"] == "3"
    assert run.data.params["task.label_column"] == "topic" and "data.label_column" not in params
    metrics = trained["metrics"]
    assert metrics["val_accuracy"] > 0.9 and metrics["test_accuracy"] > 0.9  # chance: 1/3
    assert metrics["test_macro_f1"] > 0.9 and metrics["test_loss"] > 0
    assert metrics["test_accuracy"] == pytest.approx(run.data.metrics["test_accuracy"])

    reports = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert {"reports/confusion_matrix.png", "reports/per_class.csv"} <= reports
    table = Path(client.download_artifacts(run.info.run_id, "reports/per_class.csv"))
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert [row["label"] for row in rows] == ["food", "sport", "tech"]
    assert sum(int(row["support"]) for row in rows) == 60
    png = Path(client.download_artifacts(run.info.run_id, "reports/confusion_matrix.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    result = run_json(
        capsys, "predict", "--run", trained["run_id"], "--top-k", "5", "spicy soup", "the robot"
    )
    first, second = result["predictions"]
    assert (first["label"], second["label"]) == ("food", "tech")
    for prediction in result["predictions"]:
        probabilities = [item["probability"] for item in prediction["probabilities"]]
        assert len(probabilities) == 3  # top_k capped at the number of classes
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)

    evaluated = run_json(capsys, "evaluate", "--run", trained["run_id"])
    assert evaluated["metrics"]["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert evaluated["metrics"]["test_loss"] == pytest.approx(metrics["test_loss"], rel=1e-4)

    assert main(["predict", "--run", trained["run_id"], "--top-k", "2", "my new laptop"]) == 0
    text = capsys.readouterr().out
    assert "-> tech" in text and "  2. " in text and "  3. " not in text


def test_other_pooling_cells_and_tokenizers_train(config: Path, capsys) -> None:
    overrides = [
        "trainer.max_epochs=1",
        "task.pooling=last",
        "model.cell=gru",
        "model.bidirectional=false",
        "tokenizer.kind=sentencepiece",
        "tokenizer.vocab_size=50",
    ]
    result = run_json(capsys, "train", str(config), *overrides)
    run = MlflowClient(tracking_uri()).get_run(result["run_id"])
    assert run.info.status == "FINISHED" and 0 <= result["metrics"]["test_accuracy"] <= 1


def test_unseen_test_label_fails_the_run_naming_label_and_file(config: Path, capsys) -> None:
    test = config.parent / "topics" / "test.tsv"
    test.write_text("sentence\ttopic\nthe goal\tsport\nsome poem\tpoetry\n", encoding="utf-8")
    assert main(["train", str(config), "--json"]) == 2
    error = capsys.readouterr().err
    assert "label 'poetry'" in error and "test.tsv" in error and "line 3" in error
    (run,) = MlflowClient(tracking_uri()).search_runs(
        [MlflowClient(tracking_uri()).get_experiment_by_name("tests").experiment_id]
    )
    assert run.info.status == "FAILED"


def test_ddp_metrics_and_reports_cover_the_test_split_once(config: Path) -> None:
    """Two CPU ranks: the logged test metrics, reduced across ranks, equal a one-process
    evaluation, and rank 0's reports count every test text once."""
    ddp = ["trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp"]
    command = [sys.executable, "-m", "pipeline.cli", "train", str(config), "--json", *ddp]
    command += ["trainer.threads=1", "trainer.max_epochs=1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    run_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    client = MlflowClient(tracking_uri())
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["trainer.devices"] == "2"
    one_process = evaluate(run_id, "test")
    for name in ("test_accuracy", "test_macro_f1", "test_loss"):
        assert run.data.metrics[name] == pytest.approx(one_process[name], rel=1e-5), name
    table = Path(client.download_artifacts(run_id, "reports/per_class.csv"))
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert sum(int(row["support"]) for row in rows) == 60


def test_headerless_csv_with_joined_text_columns_trains(workdir: Path, capsys) -> None:
    """AG News's layout: class,title,description rows without a header."""
    train = workdir / "ag.csv"
    with train.open("w", newline="", encoding="utf-8") as handle:
        rows = sentences(120, seed=4)
        csv.writer(handle).writerows((y, t.split()[0], " ".join(t.split()[1:])) for t, y in rows)
    settings = {
        "task": {"name": "classification", "header": False, "label_column": 0},
        "data": {"train": str(train), "batch_size": 16},
        "model": {"embedding_size": 8, "hidden_size": 8, "num_layers": 1, "dropout": 0.0},
        "trainer": {**TINY_CONFIG["trainer"], "max_epochs": 1},
        "tracking": {"experiment": "tests"},
    }
    config = workdir / "ag.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    trained = run_json(capsys, "train", str(config), "task.text_columns=[1, 2]")
    run = MlflowClient(tracking_uri()).get_run(trained["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["data.size.classes"] == "3"
    assert run.data.params["task.header"] == "False"
    assert run.data.params["task.text_columns"] == "[1, 2]"
