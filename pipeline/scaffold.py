"""``pipeline plugins new NAME``: write a new plugin distribution that works from the start.

The distribution has a pyproject.toml declaring the entry points, one module per component
(a tanh RNN cell, a uniform initializer, a "fraction of ones" regression task, and on request
a two-block convolutional image encoder) whose methods carry the contract's docstrings from
:mod:`pipeline.interfaces`, tests that call
:mod:`pipeline.testing`, and a README. Install it with its test extra, as
:func:`next_steps` prints: ``pip install -e 'DIR[test]'``.
"""

from __future__ import annotations

import inspect
import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from string import Template

from pipeline.errors import UserError
from pipeline.scaffold_templates import (
    CELL,
    ENTRY_POINTS,
    IMAGE_ENCODER,
    INITIALIZER,
    PYPROJECT,
    README,
    TASK,
    TEST_HEADER,
    TESTS,
    USAGE,
)

KINDS = ("cell", "initializer", "task", "image_encoder")
DEFAULT_KINDS = ("cell", "initializer", "task")
"""Kinds written when none is asked for (an image encoder only matters to image tasks)."""
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Names:
    """Every name the templates use, derived from the distribution's NAME."""

    dist: str
    package: str
    component: str
    camel: str

    @classmethod
    def of(cls, name: str) -> Names:
        if not NAME_PATTERN.match(name):
            raise UserError(
                f"plugin name {name!r}: use letters, digits, '-' and '_', starting with a letter"
            )
        package = name.lower().replace("-", "_")
        camel = "".join(part.capitalize() for part in package.split("_") if part)
        return cls(dist=name, package=package, component=package, camel=camel)


def _doc(obj: object, indent: int = 8) -> str:
    """The contract's docstring of obj, indented for a method body (without the quotes)."""
    text = inspect.getdoc(obj) or ""
    first, _, rest = text.partition("\n")
    if not rest:
        return first
    return first + "\n" + textwrap.indent(rest, " " * indent) + "\n" + " " * indent


def _contract_docs() -> dict[str, str]:
    from pipeline.interfaces import Cell, ImageEncoder, Initializer, Task

    docs = {
        "cell_doc": _doc(Cell, 4),
        "project_doc": _doc(Cell.project),
        "step_doc": _doc(Cell.step),
        "init_doc": _doc(Initializer, 4),
        "task_doc": _doc(Task, 4),
        "image_encoder_doc": _doc(ImageEncoder, 4),
        "image_forward_doc": _doc(ImageEncoder.forward),
        "image_grid_shape_doc": _doc(ImageEncoder.grid_shape),
    }
    for method in (
        "prepare_data", "save_artifacts", "load_artifacts", "build_network",
        "dataloader", "metrics", "step", "predict",
    ):  # fmt: skip
        docs[f"task_{method}_doc"] = _doc(getattr(Task, method))
    return docs


def create(
    name: str, kinds: tuple[str, ...] = DEFAULT_KINDS, directory: str | Path | None = None
) -> list[Path]:
    """Write the distribution NAME with the given component kinds (none: DEFAULT_KINDS);
    returns the files written."""
    names = Names.of(name)
    kinds = tuple(kind for kind in KINDS if kind in kinds) or DEFAULT_KINDS
    root = Path(directory) if directory is not None else Path(name)
    if root.exists() and any(root.iterdir()):
        raise UserError(f"{root} exists and is not empty; pick another --directory")
    values = {**vars(names), **_contract_docs(), "kinds": ", ".join(kinds)}
    values["entry_points"] = "".join(
        "\n" + Template(ENTRY_POINTS[kind]).substitute(values) for kind in kinds
    )
    values["usage"] = "".join(Template(USAGE[kind]).substitute(values) for kind in kinds)
    modules = {"cell": CELL, "initializer": INITIALIZER, "task": TASK}
    modules["image_encoder"] = IMAGE_ENCODER
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{names.package}/__init__.py": f'"""{name}: rnn-pipeline plugins."""\n',
        "tests/test_contracts.py": TEST_HEADER + "".join(TESTS[kind] for kind in kinds),
        **{f"{names.package}/{kind}.py": modules[kind] for kind in kinds},
    }
    written = []
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(values), encoding="utf-8")
        written.append(path)
    return written


def next_steps(root: Path) -> str:
    """The commands that install the new distribution with its test extra, test and list it.

    Without the ``test`` extra, ``pytest`` may be another environment's, which cannot import
    ``pipeline``.
    """
    install = f"pip install -e {shlex.quote(f'{root}[test]')}"
    return f"{install} && (cd {shlex.quote(str(root))} && pytest) && pipeline plugins list"
