"""A project folder with two tiny runs (lstm vs gru) and a 3-trial study, made with the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from tiny import TINY_CONFIG

from plugins.tasks.language_model.demo_corpus import write_demo_corpus

FAST = ["trainer.max_epochs=2", "trainer.limit_train_batches=4", "trainer.limit_val_batches=2"]
SPACE = {
    "sampler": {"name": "random", "seed": 3},
    "pruner": {"name": "none"},
    "params": {
        "model.hidden_size": {"int": [8, 24]},
        "optim.lr": {"float": [1.0e-3, 3.0e-2], "log": True},
    },
}


def pipeline(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def make_project(folder: Path) -> None:
    """Two `pipeline train` runs and a `pipeline tune` study, as three processes at once."""
    corpus = write_demo_corpus(folder / "corpus", n_train=400, n_valid=60, n_test=60, seed=1)
    config = {
        **TINY_CONFIG,
        "data": {**TINY_CONFIG["data"], **{k: str(v) for k, v in corpus.items()}},
    }
    config["tracking"] = {"experiment": "compare"}
    (folder / "tiny.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (folder / "space.yaml").write_text(yaml.safe_dump(SPACE), encoding="utf-8")
    commands = [
        pipeline("train", "tiny.yaml", "model.cell=lstm", *FAST),
        pipeline("train", "tiny.yaml", "model.cell=gru", *FAST),
        pipeline("tune", "tiny.yaml", "--space", "space.yaml", "--n-trials", "3", *FAST),
    ]
    # The store first, from one process: fresh SQLite stores race on their schema (PITFALLS).
    subprocess.run(pipeline("runs", "list"), cwd=folder, capture_output=True, check=False)
    running = [
        subprocess.Popen(c, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    for process in running:
        out, err = process.communicate()
        assert process.returncode == 0, err[-2000:]


def screenshots() -> Path:
    """Where screenshots go: the nox session's folder (RNN_PIPELINE_SCREENSHOTS), else /tmp."""
    default = Path(tempfile.gettempdir()) / "rnn-pipeline-screenshots"  # outside nox -s e2e
    folder = Path(os.environ.get("RNN_PIPELINE_SCREENSHOTS") or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
