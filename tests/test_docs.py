"""docs/plugins.md repeats the contracts of pipeline/interfaces.py word for word: every
signature and docstring of Cell, Initializer and Task appears in the guide, so they cannot
drift apart. Edit both together."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from pipeline.interfaces import Cell, Initializer, Task, Tokenizer

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
CELL_METHODS = ("init_state", "project", "step", "forward", "parameter_groups", "own_init")
TASK_METHODS = (
    "config_problems",
    "prepare_data",
    "save_artifacts",
    "load_artifacts",
    "vocabulary",
    "build_network",
    "dataloader",
    "metrics",
    "step",
    "predict",
    "describe",
    "write_reports",
)
TOKENIZER_METHODS = (
    "fit",
    "encode",
    "tokens",
    "decode",
    "id_to_token",
    "token_to_id",
    "state",
    "from_state",
    "save_files",
    "encode_lines",
    "encode_batch",
    "save",
    "load",
)
CONTRACT = [
    (Cell, None),
    *((Cell, name) for name in CELL_METHODS),
    (Initializer, None),
    (Initializer, "__call__"),
    (Task, None),
    *((Task, name) for name in TASK_METHODS),
    (Tokenizer, None),
    *((Tokenizer, name) for name in TOKENIZER_METHODS),
]


def words(text: str) -> str:
    return " ".join(text.split())


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def function(cls: type, name: str):
    member = inspect.getattr_static(cls, name)
    return member.__func__ if isinstance(member, classmethod) else member


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("cls", "name"), CONTRACT, ids=[f"{c.__name__}.{n or 'class'}" for c, n in CONTRACT]
)
def test_guide_repeats_the_docstring(guide: str, cls: type, name: str | None) -> None:
    doc = inspect.getdoc(cls if name is None else function(cls, name))
    if name == "__call__":
        doc = inspect.getdoc(Initializer)  # the protocol documents its call on the class
    assert words(doc) in words(guide), f"docs/plugins.md lacks the docstring of {cls} {name}"


@pytest.mark.parametrize(
    ("cls", "name"),
    [(c, n) for c, n in CONTRACT if n is not None],
    ids=[f"{c.__name__}.{n}" for c, n in CONTRACT if n is not None],
)
def test_guide_repeats_the_signature(guide: str, cls: type, name: str) -> None:
    signature = str(inspect.signature(function(cls, name))).replace("'", "")
    line = f"def {name}{signature}"
    assert no_space(line) in no_space(guide), f"docs/plugins.md lacks `{line}`"


def test_guide_names_the_groups_tags_and_block_variable(guide: str) -> None:
    from pipeline.plugins import BLOCK_ENV, GROUPS

    for group in GROUPS.values():
        assert f'"{group}"' in guide
    assert BLOCK_ENV in guide and "plugin.<kind>.<name>" in guide
