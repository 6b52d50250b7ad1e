"""Shared fixtures: a tiny generated corpus and a small language-model config in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.demo_corpus import write_demo_corpus

TINY_CONFIG = {
    "task": {"name": "language_model", "bptt": 10},
    "data": {"batch_size": 8, "eval_batch_size": 4},
    "tokenizer": {"vocab_size": 400},
    "model": {
        "cell": "lstm",
        "embedding_size": 16,
        "hidden_size": 16,
        "num_layers": 1,
        "dropout": 0.0,
    },
    "optim": {"name": "adam", "lr": 0.01},
    "trainer": {
        "max_epochs": 2,
        "progress_bar": False,
        "accelerator": "cpu",
        "devices": 1,
        "early_stopping_patience": 0,
        "threads": 1,  # one torch thread: on 2 shared cores, 2 threads ran ~10x slower
    },
    "tracking": {"experiment": "tests"},
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as cwd: mlruns/ and the cache land here, not in the repo."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RNN_PIPELINE_BLOCK_PLUGINS", raising=False)
    return tmp_path


@pytest.fixture
def corpus(workdir: Path) -> dict[str, Path]:
    """A few hundred generated Spanish sentences split into train/valid/test files."""
    return write_demo_corpus(workdir / "corpus", n_train=400, n_valid=60, n_test=60, seed=1)


@pytest.fixture
def lm_config(workdir: Path, corpus: dict[str, Path]) -> Path:
    """A language-model config that trains in seconds on the tiny corpus."""
    config = {
        **TINY_CONFIG,
        "data": {
            **TINY_CONFIG["data"],
            "train": str(corpus["train"]),
            "validation": str(corpus["validation"]),
            "test": str(corpus["test"]),
        },
    }
    path = workdir / "tiny.yaml"
    path.write_text("# pipeline train tiny.yaml\n" + yaml.safe_dump(config), encoding="utf-8")
    return path
