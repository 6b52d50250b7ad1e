"""Generated tiny inputs for checking the built-in plugins: task data, initializer and image
encoder options.

Shared by ``pipeline plugins check --deep`` and the test suite's conformance meta-test, so
both check the built-ins on the same data. A third-party task brings its own data to
:func:`pipeline.testing.check_task` in its tests.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config import Config
    from pipeline.plugins import Registries

__all__ = [
    "IMAGE_ENCODER_OPTIONS",
    "INITIALIZER_OPTIONS",
    "TASK_SETUPS",
    "TaskSetup",
    "tiny_config",
]

TINY_MODEL = {
    "cell": "lstm",
    "embedding_size": 16,
    "hidden_size": 16,
    "num_layers": 1,
    "dropout": 0.0,
    "runner": "eager",  # no compile time: the runner is the core's, checked with the cells
}


@dataclass
class TaskSetup:
    """A config pointing at tiny data, and raw texts to predict from."""

    cfg: Config
    texts: list[str]


def tiny_config(
    task: dict[str, Any], data: dict[str, Any], registries: Registries, **sections: Any
) -> Config:
    """A tiny model and optimizer for task on data (paths of train/validation/test)."""
    from pipeline.config import build_config

    raw = {
        "task": task,
        "data": {"batch_size": 8, "eval_batch_size": 4, **data},
        "tokenizer": {"vocab_size": 400},
        "model": TINY_MODEL,
        "optim": {"name": "adam", "lr": 0.01},
        "trainer": {"accelerator": "cpu", "devices": 1, "threads": 1, "progress_bar": False},
        **sections,
    }
    return build_config(raw, registries)


def language_model_setup(directory: Path, registries: Registries) -> TaskSetup:
    """A few hundred generated Spanish sentences."""
    from plugins.tasks.language_model.demo_corpus import write_demo_corpus

    paths = write_demo_corpus(directory / "corpus", n_train=400, n_valid=60, n_test=60, seed=1)
    data = {split: str(path) for split, path in paths.items()}
    cfg = tiny_config({"name": "language_model", "bptt": 10}, data, registries)
    return TaskSetup(cfg, ["El gobierno aprobó un"])


TOPICS = {"sport": ["goal", "match", "team"], "food": ["bread", "soup", "cheese"]}


def classification_setup(directory: Path, registries: Registries) -> TaskSetup:
    """CSV files of five-word texts about sport or food."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    paths = {}
    for split, count in (("train", 48), ("validation", 12), ("test", 12)):
        paths[split] = directory / f"{split}.csv"
        with paths[split].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for i in range(count):
                topic = list(TOPICS)[i % 2]
                words = rng.choices(TOPICS[topic], k=3) + rng.choices(["the", "a", "my"], k=2)
                writer.writerow([" ".join(rng.sample(words, len(words))), topic])
    data = {split: str(path) for split, path in paths.items()}
    cfg = tiny_config({"name": "classification"}, data, registries)
    return TaskSetup(cfg, ["the goal of the team", "hot soup"])


def tagging_setup(directory: Path, registries: Registries) -> TaskSetup:
    """CoNLL files of 'NAME vive en PLACE .' with PER and LOC tags."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    paths = {}
    for split, count in (("train", 40), ("validation", 10), ("test", 10)):
        lines = []
        for _ in range(count):
            name, place = rng.choice(["Ana", "Luis", "Rosa"]), rng.choice(["Lima", "Quito"])
            lines += [f"{name} B-PER", "vive O", "en O", f"{place} B-LOC", ". O", ""]
        paths[split] = directory / f"{split}.conll"
        paths[split].write_text("\n".join(lines), encoding="utf-8")
    data = {split: str(path) for split, path in paths.items()}
    cfg = tiny_config({"name": "tagging"}, data, registries)
    return TaskSetup(cfg, ["Ana vive en Lima ."])


def captioning_setup(directory: Path, registries: Registries) -> TaskSetup:
    """Generated Spanish shapes pictures of 16 pixels (JSON lines) and a two-block CNN."""
    from plugins.tasks.captioning.shapes import write_shapes

    paths = write_shapes(directory, n_train=40, n_validation=10, n_test=10, size=16)
    data = {split: str(path) for split, path in paths.items()}
    encoder = {"channels": 8, "blocks": 2, "image_size": 16}
    task = {"name": "captioning", "image_encoder_options": encoder, "beam_size": 3}
    cfg = tiny_config(task, data, registries)
    return TaskSetup(cfg, [str(directory / "images/test/00000.png")])


def long_range_setup(directory: Path, registries: Registries) -> TaskSetup:
    """The copy-memory problem over 5 symbols (generated from the seed: no files)."""
    task = {"name": "long_range", "problem": "copy", "length": 5, "train_size": 64}
    cfg = tiny_config({**task, "eval_size": 24}, {}, registries)
    return TaskSetup(cfg, ["1 2 3 4 5 6 7 8 1 2"])


def seq2seq_setup(directory: Path, registries: Registries) -> TaskSetup:
    """TSV pairs of a few symbols and their reversal in upper case ("b a" -> "A B")."""
    from plugins.tasks.seq2seq.toy_data import write_reversal_pairs

    paths = write_reversal_pairs(directory, {"train": 48, "validation": 12, "test": 12})
    data = {split: str(path) for split, path in paths.items()}
    cfg = tiny_config({"name": "seq2seq", "beam_size": 3}, data, registries)
    return TaskSetup(cfg, ["a b c", "d"])


TASK_SETUPS: dict[str, Callable[[Path, Registries], TaskSetup]] = {
    "language_model": language_model_setup,
    "classification": classification_setup,
    "tagging": tagging_setup,
    "captioning": captioning_setup,
    "long_range": long_range_setup,
    "seq2seq": seq2seq_setup,
}
"""Tiny data of each built-in task, written into a directory."""


def pretrained_options(directory: Path) -> dict[str, Any]:
    """A 12-dimensional vector file covering half of an 8-word vocabulary."""
    vocab = ["el", "gobierno", "aprobó", "un", "decreto", "la", "ministra", "anunció"]
    lines = ["4 12"] + [
        " ".join([word, *(f"{0.1 * (i + j):.2f}" for j in range(12))])
        for i, word in enumerate(vocab[:4])
    ]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "vectors.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"path": str(path), "vocab": vocab}


INITIALIZER_OPTIONS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "pretrained": pretrained_options
}
"""Options of the built-in initializers that have required ones, written into a directory."""

IMAGE_ENCODER_OPTIONS: dict[str, dict[str, Any]] = {
    "small_cnn": {"channels": 4, "blocks": 2, "image_size": 16},
    **{f"resnet{depth}": {"image_size": 32} for depth in (18, 34, 50)},
}
"""Small images for the built-in image encoders (their defaults, 64 and 224 pixels, are slow)."""
