"""Shared fixtures: a tiny generated corpus and a small language-model config in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tiny import TINY_CONFIG

from plugins.tasks.language_model.demo_corpus import write_demo_corpus


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
