"""End to end through the CLI: train a captioner on generated shapes pictures, read its
reports, predict from an image file, evaluate; each data layout and an encoder by name."""

from __future__ import annotations

import json
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
from plugins.tasks.captioning.shapes import write_flickr8k_fake, write_shapes

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def captioning_config(workdir: Path, data: dict[str, str], **task: object) -> Path:
    settings = {
        "task": {
            "name": "captioning",
            "image_encoder": "small_cnn",
            "image_encoder_options": {"channels": 8, "blocks": 2, "image_size": 16},
            "beam_size": 3,
            "max_caption_length": 20,
            **task,
        },
        "data": {**data, "batch_size": 16, "eval_batch_size": 16},
        "model": {**TINY_CONFIG["model"], "embedding_size": 32, "hidden_size": 32},
        "optim": {"name": "adam", "lr": 0.01},
        "trainer": {**TINY_CONFIG["trainer"], "max_epochs": 3},
        "tracking": {"experiment": "tests"},
    }
    path = workdir / "captioning.yaml"
    path.write_text("# pipeline train captioning.yaml\n" + yaml.safe_dump(settings), "utf-8")
    return path


@pytest.fixture
def shapes(workdir: Path) -> dict[str, str]:
    paths = write_shapes(workdir / "shapes", n_train=80, n_validation=16, n_test=16, size=16)
    return {split: str(path) for split, path in paths.items()}


def test_train_reports_predict_evaluate(
    workdir: Path, shapes: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    config = captioning_config(workdir, shapes)
    trained = run_json(capsys, "train", str(config), "model.runner=eager")
    client = MlflowClient(tracking_uri())
    run = client.get_run(trained["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["task"] == "captioning"
    assert run.data.params["task.image_encoder"] == "small_cnn"
    assert run.data.params["data.size.test_images"] == "16"
    metrics = trained["metrics"]
    bleu = [metrics[f"test_bleu{n}"] for n in (1, 2, 3, 4)]
    assert 0.3 < bleu[0] <= 1 and bleu == sorted(bleu, reverse=True)  # BLEU-1 >= ... >= BLEU-4
    assert "train_bleu4" not in run.data.metrics  # training generates no captions
    assert metrics["test_ppl"] == pytest.approx(2.718281828 ** metrics["test_loss"], rel=1e-4)

    reports = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert {"reports/captions.png", "reports/captions.csv", "reports/attention_0.png"} <= reports
    png = Path(client.download_artifacts(run.info.run_id, "reports/attention_0.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    image = str(workdir / "shapes/images/test/00000.png")
    options = ["--option", "beam=3", "--option", "n_best=2"]
    result = run_json(capsys, "predict", "--run", trained["run_id"], *options, image)
    (prediction,) = result["predictions"]
    assert prediction["image"] == image and len(prediction["captions"]) == 2
    scores = [item["score"] for item in prediction["captions"]]
    assert scores == sorted(scores, reverse=True) and all(s < 0 for s in scores)

    assert main(["predict", "--run", trained["run_id"], image]) == 0
    text = capsys.readouterr().out
    assert image in text and "  1. " in text and "  2. " not in text

    assert main(["predict", "--run", trained["run_id"], str(workdir / "missing.png")]) == 2
    error = capsys.readouterr().err
    assert "missing.png" in error and "does not exist" in error

    evaluated = run_json(capsys, "evaluate", "--run", trained["run_id"])
    for name in ("test_bleu4", "test_bleu1", "test_loss"):
        assert evaluated["metrics"][name] == pytest.approx(metrics[name], rel=1e-5), name


def test_flickr8k_config_trains_on_a_fake_in_the_flickr8k_layout(
    workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    """conf/experiment/flickr8k.yaml as shipped, its ../shared/data/flickr8k paths pointed at a
    20-image fake (token file, split lists, JPEG folder); one epoch."""
    paths = write_flickr8k_fake(workdir / "flickr8k", n_images=20)
    overrides = [
        f"task.captions_file={paths['captions']}",
        f"task.image_root={paths['images']}",
        *(f"data.{split}={paths[split]}" for split in ("train", "validation", "test")),
        "trainer.max_epochs=1",
        "trainer.progress_bar=false",
        "trainer.threads=1",
        "model.runner=eager",
        "tracking.experiment=tests",
    ]
    trained = run_json(capsys, "train", str(ROOT / "conf/experiment/flickr8k.yaml"), *overrides)
    run = MlflowClient(tracking_uri()).get_run(trained["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["task.layout"] == "flickr"
    sizes = [
        run.data.params[f"data.size.{split}_images"] for split in ("train", "validation", "test")
    ]
    train = set(paths["train"].read_text(encoding="utf-8").split())
    tokens = paths["captions"].read_text(encoding="utf-8").splitlines()
    captions = sum(line.split("#")[0] in train for line in tokens)  # every reference kept
    assert sizes == ["12", "4", "4"] and run.data.params["data.size.train_captions"] == str(
        captions
    )
    assert 0 <= trained["metrics"]["test_bleu4"] <= 1


def test_ddp_test_bleu_equals_a_one_process_evaluation(
    workdir: Path, shapes: dict[str, str]
) -> None:
    """Two CPU ranks generate captions for their own shards; the logged BLEU, from n-gram
    counts summed across ranks, equals one process generating them all."""
    config = captioning_config(workdir, shapes)
    ddp = ["trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp"]
    command = [sys.executable, "-m", "pipeline.cli", "train", str(config), "--json", *ddp]
    command += ["trainer.threads=1", "trainer.max_epochs=1", "model.runner=eager"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    run_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    run = MlflowClient(tracking_uri()).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["trainer.devices"] == "2"
    one_process = evaluate(run_id, "test")
    for name in ("test_bleu1", "test_bleu4", "test_loss"):
        assert run.data.metrics[name] == pytest.approx(one_process[name], rel=1e-5), name
