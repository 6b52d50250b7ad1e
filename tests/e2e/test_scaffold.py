"""``pipeline plugins new``: the written distribution installs, passes its own tests (which
call pipeline.testing) and is listed by ``pipeline plugins check``; its task trains and predicts.

Each distribution is installed with ``pip --target`` into tmp_path, never into this environment,
which other test runs share."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main

pytestmark = pytest.mark.slow
NAME = "rnn-pipeline-scaffold-probe"
COMPONENT = "rnn_pipeline_scaffold_probe"
REPOSITORY = Path(__file__).resolve().parents[2]
BITS = {  # the generated task, trained for seconds
    "task": {"name": "bit_tasks", "length": 6, "train_size": 64, "eval_size": 32},
    "data": {"batch_size": 32, "eval_batch_size": 32},
    "model": {"cell": "gru", "hidden_size": 8, "num_layers": 1, "runner": "eager"},
    "optim": {"name": "adam", "lr": 0.02},
    "trainer": {"max_epochs": 1, "progress_bar": False, "accelerator": "cpu", "devices": 1},
    "tracking": {"experiment": "tests"},
}


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
    )


def install(root: Path, site: Path) -> dict[str, str]:
    """Install the distribution into ``site``, a folder of its own (never this environment,
    which other runs share); the environment in which it and this repository import."""
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    installed = pip("install", "--no-deps", *isolation, "--target", str(site), str(root))
    assert installed.returncode == 0, installed.stderr
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "PYTHONPATH": os.pathsep.join([str(site), str(REPOSITORY)])}


def cli(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeline.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)


def own_tests(root: Path, env: dict[str, str]) -> str:
    """The distribution's own test suite, run in its folder: pytest's output."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    tests = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    return tests.stdout


def listed(env: dict[str, str], cwd: Path, distribution: str) -> list[tuple[str, str, str]]:
    """(name, group, status) of each plugin of ``distribution`` in ``pipeline plugins check``."""
    listing = cli(env, cwd, "plugins", "check", "--json")
    rows = json.loads(listing.stdout)["plugins"]
    return [(r["name"], r["group"], r["status"]) for r in rows if r["distribution"] == distribution]


def test_new_plugin_installs_passes_its_tests_and_is_listed(tmp_path: Path) -> None:
    root = tmp_path / NAME
    assert main(["plugins", "new", NAME, "--directory", str(root)]) == 0
    package = root / COMPONENT
    assert {p.name for p in package.iterdir()} >= {"cell.py", "initializer.py", "task.py"}
    assert '"rnn_pipeline.cells"' in (root / "pyproject.toml").read_text()
    env = install(root, tmp_path / "site")
    assert "3 passed" in own_tests(root, env)
    assert sorted(listed(env, tmp_path, NAME)) == [
        (COMPONENT, "rnn_pipeline.cells", "loaded"),
        (COMPONENT, "rnn_pipeline.initializers", "loaded"),
        (COMPONENT, "rnn_pipeline.tasks", "loaded"),
    ]


def test_new_task_declares_predict_options_and_no_tokenizer(tmp_path: Path) -> None:
    """The generated task trains, logs no tokenizer.* params, and its predict option is
    listed by --help-options, checked, and reaches predict."""
    from mlflow.tracking import MlflowClient

    root = tmp_path / "bit-tasks"
    assert main(["plugins", "new", "bit-tasks", "--task", "--directory", str(root)]) == 0
    env = install(root, tmp_path / "site")
    assert "1 passed" in own_tests(root, env)
    config = tmp_path / "bits.yaml"
    config.write_text(yaml.safe_dump(BITS), encoding="utf-8")
    trained = cli(env, tmp_path, "train", str(config), "--json")
    assert trained.returncode == 0, trained.stderr[-4000:]
    result = json.loads(trained.stdout.strip().splitlines()[-1])
    params = MlflowClient(result["tracking_uri"]).get_run(result["run_id"]).data.params
    assert params["task.name"] == "bit_tasks"
    assert not [key for key in params if key.startswith("tokenizer.")]

    predict = ["predict", "--run", result["run_id"]]
    listing = cli(env, tmp_path, *predict, "--help-options").stdout
    assert "threshold (float, default 0.5): mostly_ones when the predicted fraction" in listing
    fractions = set()
    for threshold in (0.0, 1.0):
        argv = [*predict, "--option", f"threshold={threshold}", "--json", "1 1 0 1 1 0"]
        done = cli(env, tmp_path, *argv)
        assert done.returncode == 0, done.stderr[-4000:]
        (prediction,) = json.loads(done.stdout)["predictions"]
        assert prediction["mostly_ones"] == (prediction["fraction"] > threshold)
        fractions.add(prediction["fraction"])
    assert len(fractions) == 1  # the option changes the verdict, never the network's output
    refused = cli(env, tmp_path, *predict, "--option", "threshold=2", "1 0")
    assert refused.returncode == 2 and "threshold must be between 0 and 1" in refused.stderr


def test_only_the_asked_kinds_and_refuses_a_non_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cells-only"
    assert main(["plugins", "new", "cells-only", "--cell", "--directory", str(root)]) == 0
    install_line = f"next: pip install -e '{root}[test]' && (cd {root} && pytest)"
    assert install_line in capsys.readouterr().out  # the test extra brings this env's pytest
    assert "pip install -e '.[test]'" in (root / "README.md").read_text()
    assert {p.name for p in (root / "cells_only").iterdir()} == {"__init__.py", "cell.py"}
    assert "rnn_pipeline.tasks" not in (root / "pyproject.toml").read_text()
    assert main(["plugins", "new", "cells-only", "--directory", str(root)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["plugins", "new", "9bad name", "--directory", str(tmp_path / "x")]) == 2


def test_new_image_encoder_passes_its_tests_and_is_listed(tmp_path: Path) -> None:
    root = tmp_path / "picture-encoders"
    argv = ["plugins", "new", "picture-encoders", "--image-encoder", "--directory", str(root)]
    assert main(argv) == 0
    assert {p.name for p in (root / "picture_encoders").iterdir()} == {
        "__init__.py",
        "image_encoder.py",
    }
    env = install(root, tmp_path / "site")
    assert "1 passed" in own_tests(root, env)
    assert listed(env, tmp_path, root.name) == [
        ("picture_encoders", "rnn_pipeline.image_encoders", "loaded")
    ]
