"""Behaviour tests for the cached prepare_data recipe, with a small task of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from pipeline.config import Config
from pipeline.data import Splits, load_text_splits
from pipeline.preparation import Encoded, prepare_cached, task_cache_key


class LetterTask:
    """Lines -> ids of their first letters; the 'vocabulary' (an artifact) is fitted on train."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.letters: list[str] | None = None
        self.calls: list[str] = []

    def cache_key(self) -> dict[str, Any]:
        return task_cache_key("letters", self.cfg, version=1)

    def read_splits(self) -> Splits[str]:
        self.calls.append("read")
        return load_text_splits(self.cfg.data, self.cfg.seed)

    def fit(self, splits: Splits[str]) -> None:
        if self.letters is None:
            self.letters = sorted({line[0] for line in splits.examples["train"]})

    def save_artifacts(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "letters.json").write_text(json.dumps(self.letters), encoding="utf-8")

    def load_artifacts(self, directory: Path) -> None:
        self.calls.append("load")
        self.letters = json.loads((directory / "letters.json").read_text(encoding="utf-8"))

    def encode(self, split: str, examples: list[str]) -> Encoded:
        assert self.letters is not None
        ids = [self.letters.index(line[0]) if line[0] in self.letters else -1 for line in examples]
        return Encoded({"ids": torch.tensor(ids)}, {f"{split}_lines": len(examples)})


def letters_config(tmp_path: Path, seed: int = 0) -> Config:
    train = tmp_path / "train.txt"
    train.write_text("".join(f"{'abc'[i % 3]} line {i}\n" for i in range(30)), encoding="utf-8")
    cfg = Config(seed=seed)
    cfg.data.train = str(train)
    return cfg


def test_first_call_builds_later_calls_reuse_the_folder(tmp_path: Path) -> None:
    cfg = letters_config(tmp_path)
    task = LetterTask(cfg)
    prepared = prepare_cached(task, tmp_path / "cache")
    assert task.calls == ["read", "load"] and task.letters == ["a", "b", "c"]
    assert set(prepared.tensors) == {"train", "val", "test"}
    assert prepared.sizes == {"train_lines": 24, "validation_lines": 3, "test_lines": 3}
    assert prepared.carved == ["validation", "test"]
    assert int(prepared.tensors["val"]["ids"].numel()) == 3
    facts = prepared.facts(extra={"data.letters": "abc"}, letters=3)
    assert facts.sizes == {"letters": 3, **prepared.sizes}
    assert facts.extra == {"data.carved": "validation,test", "data.letters": "abc"}

    again = LetterTask(cfg)
    reused = prepare_cached(again, tmp_path / "cache")
    assert again.calls == ["load"] and again.letters == task.letters  # no reading
    assert reused.directory == prepared.directory
    assert torch.equal(reused.tensors["test"]["ids"], prepared.tensors["test"]["ids"])


def test_loaded_artifacts_are_used_and_not_read_back(tmp_path: Path) -> None:
    task = LetterTask(letters_config(tmp_path, seed=1))
    task.letters = ["c", "b", "a"]  # e.g. from a finished run
    prepared = prepare_cached(task, tmp_path / "cache", loaded=True)
    assert task.calls == ["read"] and task.letters == ["c", "b", "a"]
    saved = json.loads((prepared.directory / "letters.json").read_text(encoding="utf-8"))
    assert saved == ["c", "b", "a"]


def test_cache_key_follows_seed_tokenizer_and_the_tasks_parts(tmp_path: Path) -> None:
    cfg = letters_config(tmp_path)
    key = task_cache_key("letters", cfg, version=1)
    assert key["task"] == "letters" and key["version"] == 1 and key["seed"] == 0
    assert task_cache_key("letters", letters_config(tmp_path, seed=2), version=1) != key
    cfg.tokenizer.vocab_size = 99
    assert task_cache_key("letters", cfg, version=1) != key
