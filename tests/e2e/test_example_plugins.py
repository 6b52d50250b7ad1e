"""The example plugin distribution (examples/rnn-pipeline-extras), installed for real.

It is listed by ``pipeline plugins list``, passes the pipeline.testing conformance checks,
and each of its components trains through the CLI. ``nox -s tests`` installs it; by hand:
``pip install ./examples/rnn-pipeline-extras``.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
import yaml
from cli_json import run_json

from pipeline.config import load_config
from pipeline.plugins import default_registries
from pipeline.testing import check_cell, check_initializer, check_task

pytestmark = pytest.mark.slow
DIST = "rnn-pipeline-extras"
COMPONENTS = {
    ("mgu", "rnn_pipeline.cells"),
    ("chrono", "rnn_pipeline.initializers"),
    ("adding_problem", "rnn_pipeline.tasks"),
    ("language_id", "rnn_pipeline.tasks"),
}
FAST = ("trainer.max_epochs=1", "trainer.limit_train_batches=0.5", "model.runner=eager")
ADDING = {
    "task": {"name": "adding_problem", "length": 6, "train_size": 128, "eval_size": 32},
    "data": {"batch_size": 32, "eval_batch_size": 32},
    "model": {"cell": "gru", "hidden_size": 8, "num_layers": 1, "dropout": 0.0},
    "optim": {"name": "adam", "lr": 0.02},
    "trainer": {"max_epochs": 2, "progress_bar": False, "accelerator": "cpu", "devices": 1},
    "tracking": {"experiment": "tests"},
}


@pytest.fixture(autouse=True, scope="module")
def installed() -> None:
    try:
        metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{DIST} is not installed: run `pip install ./examples/rnn-pipeline-extras`")


@pytest.fixture
def adding_config(workdir: Path) -> Path:
    path = workdir / "adding.yaml"
    path.write_text("# pipeline train adding.yaml\n" + yaml.safe_dump(ADDING), encoding="utf-8")
    return path


def test_listed_with_its_distribution(capsys: pytest.CaptureFixture) -> None:
    rows = run_json(capsys, "plugins", "list")["plugins"]
    ours = {(row["name"], row["group"]) for row in rows if row["distribution"] == DIST}
    assert ours == COMPONENTS


def test_components_pass_the_conformance_checks(adding_config: Path) -> None:
    registries = default_registries()
    check_cell(registries.cells.get("mgu"), compile=False)
    check_initializer(registries.initializers.get("chrono"), shapes=[(16,)])
    cfg = load_config(adding_config, [], registries)
    check_task(registries.tasks.get("adding_problem"), cfg, texts=["0.3:0 0.5:1 0.9:0 0.1:1"])


def test_cell_trains_a_language_model(lm_config: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_json(capsys, "train", str(lm_config), *FAST, "model.cell=mgu")
    assert result["metrics"]["test_ppl"] > 1


def test_initializer_fills_lstm_biases(lm_config: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_json(
        capsys,
        "train",
        str(lm_config),
        *FAST,
        "init.bias=chrono",
        "init.options.bias.t_max=20",
        "init.options.bias.parts=2",
    )
    from mlflow.tracking import MlflowClient

    run = MlflowClient(result["tracking_uri"]).get_run(result["run_id"])
    assert run.data.params["init.bias"] == "chrono"
    assert run.data.tags["plugin.initializers.chrono"] == f"{DIST} {metadata.version(DIST)}"


def test_adding_task_trains_and_predicts(adding_config: Path, capsys) -> None:
    trained = run_json(capsys, "train", str(adding_config))
    assert {"test_loss", "test_mse"} <= set(trained["metrics"])
    result = run_json(capsys, "predict", "--run", trained["run_id"], "0.3:0 0.5:1 0.9:0 0.1:1")
    (prediction,) = result["predictions"]
    assert prediction["target"] == pytest.approx(0.6)
    assert isinstance(prediction["predicted"], float)


def test_language_id_trains_logs_no_tokenizer_params_and_predicts(
    workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    from mlflow.tracking import MlflowClient
    from rnn_pipeline_extras.langid_data import write_langid_files

    paths = write_langid_files(workdir / "langid")
    config = {
        "task": {"name": "language_id"},
        "data": {"batch_size": 16, "eval_batch_size": 8, **{k: str(v) for k, v in paths.items()}},
        "model": {"cell": "gru", "embedding_size": 8, "hidden_size": 16, "num_layers": 1},
        "optim": {"name": "adam", "lr": 0.02},
        "trainer": {"max_epochs": 2, "progress_bar": False, "accelerator": "cpu", "devices": 1},
        "tracking": {"experiment": "tests"},
    }
    path = workdir / "langid.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    trained = run_json(capsys, "train", str(path), "model.runner=eager")
    params = MlflowClient(trained["tracking_uri"]).get_run(trained["run_id"]).data.params
    assert params["task.name"] == "language_id" and params["data.size.train"] == "120"
    assert not [key for key in params if key.startswith("tokenizer.")]
    argv = ["predict", "--run", trained["run_id"], "--option", "top_k=2", "the new law"]
    (prediction,) = run_json(capsys, *argv)["predictions"]
    assert len(prediction["languages"]) == 2
