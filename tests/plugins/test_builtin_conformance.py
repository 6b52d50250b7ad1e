"""The conformance kit we hand third parties (``pipeline.testing``) passes on every built-in
plugin: each entry point that the installed ``rnn-pipeline`` declares, found the way the
pipeline finds plugins (no hand-kept list), goes through its check; tasks with the DDP clause.

A built-in that needs inputs to be checked (an initializer with required options, every task's
tiny data, small images for an image encoder) gets them from ``INITIALIZER_OPTIONS``,
``TASK_SETUPS`` or ``IMAGE_ENCODER_OPTIONS`` of
``pipeline.testing.fixtures`` (which ``pipeline plugins check --deep`` uses too); a new
built-in without one fails here, naming what to add.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
import torch

from pipeline.plugins import GROUPS, Registries, default_registries
from pipeline.testing import (
    check_cell,
    check_image_encoder,
    check_initializer,
    check_task,
    check_tokenizer,
)
from pipeline.testing.fixtures import IMAGE_ENCODER_OPTIONS, INITIALIZER_OPTIONS, TASK_SETUPS

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


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_names("tasks"))
def test_builtin_task_passes_check_task_with_ddp(
    name: str, registries: Registries, workdir: Path
) -> None:
    if name not in TASK_SETUPS:
        pytest.fail(
            f"built-in task {name!r} has no tiny data: add it to pipeline.testing.fixtures"
            ".TASK_SETUPS"
        )
    setup = TASK_SETUPS[name](workdir / "data", registries)
    task = registries.tasks.get(name)
    notes = check_task(task, setup.cfg, setup.texts, cache_dir=workdir / "check")
    assert not any("DDP" in note or "ddp" in note for note in notes), notes


# ----------------------------------------------------------------------------- tokenizers


@pytest.mark.parametrize("name", builtin_names("tokenizers"))
def test_builtin_tokenizer_passes_check_tokenizer(name: str, registries: Registries) -> None:
    assert check_tokenizer(registries.tokenizers.get(name)) == []


# ----------------------------------------------------------------------------- image encoders


@pytest.mark.parametrize("name", builtin_names("image_encoders"))
def test_builtin_image_encoder_passes_check_image_encoder(
    name: str, registries: Registries
) -> None:
    if name not in IMAGE_ENCODER_OPTIONS:
        pytest.fail(
            f"built-in image encoder {name!r} has no small options: add it to "
            "pipeline.testing.fixtures.IMAGE_ENCODER_OPTIONS"
        )
    encoder = registries.image_encoders.get(name)
    notes = check_image_encoder(encoder, **IMAGE_ENCODER_OPTIONS[name])
    expected = (
        [] if torch.cuda.is_available() else ["no CUDA device: .to(device) checked for dtype only"]
    )
    if not name.startswith("resnet"):  # the resnets' weights option is checked
        expected.append("no 'weights' option: loading a weights file not checked")
    assert notes == expected
