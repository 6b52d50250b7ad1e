"""docs/plugins.md repeats the contracts of pipeline/interfaces.py word for word: every
signature and docstring of Cell, Initializer, Task, Tokenizer and ImageEncoder appears in the
guide, so they cannot drift apart. Edit both together."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from pipeline.interfaces import Cell, ImageEncoder, Initializer, Task, Tokenizer

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
IMAGE_ENCODER_METHODS = (
    "forward",
    "grid_shape",
    "normalize",
    "freeze",
    "train",
    "parameter_groups",
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
    (ImageEncoder, None),
    *((ImageEncoder, name) for name in IMAGE_ENCODER_METHODS),
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


# ----------------------------------------------------------------------------- tutorials

EXTRAS = GUIDE.parents[1] / "examples" / "rnn-pipeline-extras"


def section(guide: str, title: str) -> str:
    """The text of the ``## title`` section, up to the next ``## `` heading."""
    return guide.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def import_code(code: str, name: str, directory: Path, monkeypatch: pytest.MonkeyPatch):
    """The tutorial's code as an importable module (check_task's processes import by name)."""
    (directory / f"{name}.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(directory))
    import importlib

    return importlib.import_module(name)


def test_cell_tutorial_code_passes_check_cell(
    guide: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.testing import check_cell

    [code] = [
        c
        for c in code_blocks(section(guide, "Tutorial: a cell in ten minutes"), "python")
        if "class SigmoidElmanCell" in c
    ]
    module = import_code(code, "tutorial_cells", tmp_path, monkeypatch)
    check_cell(module.SigmoidElmanCell, compile=False)


def test_text_tutorial_shows_the_example_task_and_its_entry_point(guide: str) -> None:
    text = section(guide, "Tutorial: a text task")
    module = (EXTRAS / "rnn_pipeline_extras" / "langid.py").read_text(encoding="utf-8")
    assert module in code_blocks(text, "python"), "the tutorial's module differs from langid.py"
    [toml] = code_blocks(text, "toml")
    pyproject = (EXTRAS / "pyproject.toml").read_text(encoding="utf-8")
    assert all(line in pyproject for line in toml.splitlines() if line)


def test_text_tutorial_code_passes_check_task(
    guide: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnn_pipeline_extras.langid_data import write_langid_files

    from pipeline.config import build_config
    from pipeline.plugins import default_registries
    from pipeline.testing import check_task

    [code] = [
        c
        for c in code_blocks(section(guide, "Tutorial: a text task"), "python")
        if "class LangIdTask" in c
    ]
    module = import_code(code, "tutorial_langid", tmp_path, monkeypatch)
    paths = write_langid_files(tmp_path / "data")
    raw = {
        "task": {"name": "language_id"},
        "data": {"batch_size": 16, "eval_batch_size": 8, **{k: str(v) for k, v in paths.items()}},
        "model": {"cell": "gru", "embedding_size": 8, "hidden_size": 16, "runner": "eager"},
        "optim": {"name": "adam", "lr": 0.02},
    }
    cfg = build_config(raw, default_registries())
    notes = check_task(module.LangIdTask, cfg, ["the new law"], cache_dir=tmp_path, ddp=False)
    assert notes == ["ddp=False: sharding and metric reduction under DDP not checked"]
