"""A task's ``predict`` options: declared as the dataclass ``Task.PredictOptions``, given on the
command line as ``--option KEY=VALUE`` (or a named flag such as ``--top-k``), checked here.

Each field is one option: its type annotation (int, float, bool or str) and default say what
it takes; ``field(metadata={"help": ...})`` describes it for ``pipeline predict --help-options``.
The task's ``__post_init__`` may check ranges by raising ValueError.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from pipeline.errors import OptionError, UserError
from pipeline.interfaces import Task

__all__ = ["options_help", "parse_option_items", "predict_options"]

TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "str": (str,),
}


def _fields(task_class: type[Task]) -> dict[str, dataclasses.Field[Any]]:
    declared = task_class.PredictOptions
    if not dataclasses.is_dataclass(declared):
        return {}
    return {field.name: field for field in dataclasses.fields(declared)}


def _type_name(field: dataclasses.Field[Any]) -> str:
    annotation = field.type
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "?")


def parse_option_items(items: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; VALUE is read as YAML (``3``, ``0.7``, ``true``)."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--option {item!r}: expected KEY=VALUE, e.g. --option top_k=3")
        parsed[key.strip()] = yaml.safe_load(text) if text else ""
    return parsed


def predict_options(task_class: type[Task], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every predict option of the task (defaults filled in), checked; the keyword arguments
    the core passes to ``Task.predict``. Raises OptionError naming the option at fault."""
    fields = _fields(task_class)
    name = getattr(task_class, "__name__", "task")
    for key, value in given.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(fields) or "none"
            raise OptionError(f"{name} has no predict option {key!r}{hint} (options: {known})")
        kind = _type_name(fields[key])
        allowed = TYPES.get(kind)  # other annotations are left to the dataclass
        wrong_bool = isinstance(value, bool) and allowed is not None and bool not in allowed
        if allowed is not None and (not isinstance(value, allowed) or wrong_bool):
            raise OptionError(
                f"predict option {key!r} of {name} must be of type {kind}, got {value!r}"
            )
    if not fields:
        return {}
    try:
        options = task_class.PredictOptions(**given)
    except ValueError as error:
        raise OptionError(f"predict options of {name}: {error}") from error
    return dataclasses.asdict(options)


def options_help(task_class: type[Task]) -> str:
    """One line per predict option: ``--option KEY=VALUE  (type, default): help``."""
    fields = _fields(task_class)
    name = getattr(task_class, "__name__", "task")
    if not fields:
        return f"{name} has no predict options."
    lines = [f"predict options of {name} (--option KEY=VALUE):"]
    for key, field in fields.items():
        default = "" if field.default is dataclasses.MISSING else f", default {field.default!r}"
        text = field.metadata.get("help", "")
        lines.append(f"  {key} ({_type_name(field)}{default}){': ' + text if text else ''}")
    return "\n".join(lines)
