"""The conformance kit we hand third parties (``pipeline.testing``) passes on every built-in
plugin: each entry point that the installed ``rnn-pipeline`` declares, found the way the
pipeline finds plugins (no hand-kept list), goes through its check; tasks with the DDP clause.

A built-in that needs inputs to be checked (an initializer with required options, every task's
tiny data) gets them from ``INITIALIZER_OPTIONS`` or ``TASK_SETUPS``; a new built-in without
one fails here, naming what to add.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from tiny import TINY_CONFIG

from pipeline.config import Config, build_config, load_config
from pipeline.plugins import GROUPS, Registries, default_registries
from pipeline.testing import check_cell, check_initializer, check_task

DIST = "rnn-pipeline"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def builtin_names(kind: str) -> list[str]:
    """Entry-point names of kind that the installed rnn-pipeline distribution declares."""
    return sorted(
        {
            entry_point.name
            for entry_point in metadata.entry_points(group=GROUPS[kind])
            if entry_point.dist is not None and entry_point.dist.metadata["Name"] == DIST
        }
    )


@pytest.fixture(scope="module")
def registries() -> Registries:
    return default_registries()


def declared_names(group: str) -> list[str]:
    """Names in pyproject.toml's ``[project.entry-points."group"]`` table (``name = "value"``
    lines; read by hand because tomllib needs Python 3.11)."""
    table = PYPROJECT.read_text(encoding="utf-8").split(f'[project.entry-points."{group}"]\n')[1]
    lines = table.split("\n[")[0].splitlines()
    return sorted(line.split("=")[0].strip() for line in lines if "=" in line)


def test_the_installed_entry_points_are_the_ones_pyproject_declares() -> None:
    for kind, group in GROUPS.items():
        assert builtin_names(kind) == declared_names(group), (
            f"the installed {DIST} is stale for {group}: reinstall it (pip install -e .)"
        )


# ----------------------------------------------------------------------------- cells


@pytest.mark.parametrize("name", builtin_names("cells"))
def test_builtin_cell_passes_check_cell(name: str, registries: Registries) -> None:
    # The compiled runner's clause compiles the runner for each cell, slow on CPU; the runner
    # is the core's, the same for every cell, and test_testing.py runs that clause on one.
    notes = check_cell(registries.cells.get(name), compile=False)
    assert "compile=False: compiled runner not checked" in notes


# ----------------------------------------------------------------------------- initializers


def pretrained_options(tmp_path: Path) -> dict[str, Any]:
    """A 12-dimensional vector file covering half of an 8-word vocabulary."""
    vocab = ["el", "gobierno", "aprobó", "un", "decreto", "la", "ministra", "anunció"]
    lines = ["4 12"] + [
        " ".join([word, *(f"{0.1 * (i + j):.2f}" for j in range(12))])
        for i, word in enumerate(vocab[:4])
    ]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"path": str(path), "vocab": vocab}


INITIALIZER_OPTIONS = {"pretrained": pretrained_options}
"""Options for built-in initializers that have required ones, from a tmp_path."""
TWO_D_ONLY = {"orthogonal", "pretrained"}
"""Initializers that decline 1-D tensors (their docs say so)."""


@pytest.mark.parametrize("name", builtin_names("initializers"))
def test_builtin_initializer_passes_check_initializer(
    name: str, registries: Registries, tmp_path: Path
) -> None:
    options = INITIALIZER_OPTIONS[name](tmp_path) if name in INITIALIZER_OPTIONS else None
    notes = check_initializer(registries.initializers.get(name), options=options)
    declined = [note for note in notes if note.startswith("declines 1-D tensors")]
    assert len(declined) == (name in TWO_D_ONLY) and len(notes) == len(declined), notes


# ----------------------------------------------------------------------------- tasks


@dataclass
class TaskSetup:
    """A config pointing at tiny data, and raw texts to predict from."""

    cfg: Config
    texts: list[str]


def tiny_raw(task: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """TINY_CONFIG's model and optimizer for task on data (eager runner: no compile time)."""
    return {
        **TINY_CONFIG,
        "task": task,
        "data": {**TINY_CONFIG["data"], **data},
        "model": {**TINY_CONFIG["model"], "runner": "eager"},
    }


@pytest.fixture
def language_model_setup(lm_config: Path, registries: Registries) -> TaskSetup:
    cfg = load_config(lm_config, ["model.runner=eager"], registries)
    return TaskSetup(cfg, ["El gobierno aprobó un"])


TOPICS = {"sport": ["goal", "match", "team"], "food": ["bread", "soup", "cheese"]}


@pytest.fixture
def classification_setup(workdir: Path, registries: Registries) -> TaskSetup:
    rng = random.Random(0)
    paths = {}
    for split, count in (("train", 48), ("validation", 12), ("test", 12)):
        paths[split] = workdir / f"{split}.csv"
        with paths[split].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for i in range(count):
                topic = list(TOPICS)[i % 2]
                words = rng.choices(TOPICS[topic], k=3) + rng.choices(["the", "a", "my"], k=2)
                writer.writerow([" ".join(rng.sample(words, len(words))), topic])
    raw = tiny_raw({"name": "classification"}, {k: str(v) for k, v in paths.items()})
    return TaskSetup(build_config(raw, registries), ["the goal of the team", "hot soup"])


@pytest.fixture
def tagging_setup(workdir: Path, registries: Registries) -> TaskSetup:
    rng = random.Random(0)
    paths = {}
    for split, count in (("train", 40), ("validation", 10), ("test", 10)):
        lines = []
        for _ in range(count):
            name, place = rng.choice(["Ana", "Luis", "Rosa"]), rng.choice(["Lima", "Quito"])
            lines += [f"{name} B-PER", "vive O", "en O", f"{place} B-LOC", ". O", ""]
        paths[split] = workdir / f"{split}.conll"
        paths[split].write_text("\n".join(lines), encoding="utf-8")
    raw = tiny_raw({"name": "tagging"}, {k: str(v) for k, v in paths.items()})
    return TaskSetup(build_config(raw, registries), ["Ana vive en Lima ."])


@pytest.fixture
def long_range_setup(workdir: Path, registries: Registries) -> TaskSetup:
    task = {"name": "long_range", "problem": "copy", "length": 5, "train_size": 64}
    raw = tiny_raw({**task, "eval_size": 24}, {})
    return TaskSetup(build_config(raw, registries), ["1 2 3 4 5 6 7 8 1 2"])


TASK_SETUPS = {
    "language_model": "language_model_setup",
    "classification": "classification_setup",
    "tagging": "tagging_setup",
    "long_range": "long_range_setup",
}
"""Fixture giving each built-in task its tiny data."""


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_names("tasks"))
def test_builtin_task_passes_check_task_with_ddp(
    name: str, registries: Registries, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if name not in TASK_SETUPS:
        pytest.fail(f"built-in task {name!r} has no tiny data here: add a fixture to TASK_SETUPS")
    setup: TaskSetup = request.getfixturevalue(TASK_SETUPS[name])
    task = registries.tasks.get(name)
    notes = check_task(task, setup.cfg, setup.texts, cache_dir=tmp_path / "check")
    assert not any("DDP" in note or "ddp" in note for note in notes), notes
