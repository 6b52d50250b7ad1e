"""Validation of loaded plugins against the contracts in :mod:`pipeline.interfaces`.

Raises :class:`ContractError`; :mod:`pipeline.plugins` imports this module only when a plugin
loads and wraps the error with the plugin's origin, so neither module imports the other at
import time.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from pipeline.errors import UserError
from pipeline.interfaces import FUSED_MODES, Cell, ImageEncoder, Task, Tokenizer


class ContractError(UserError):
    """A loaded plugin breaks its contract (names the kind, the plugin and the clause)."""

    def __init__(self, kind: str, name: str, problem: str) -> None:
        super().__init__(f"{kind} plugin {name!r} breaks the contract: {problem}")


def validate_cell(name: str, obj: Any) -> None:
    """A cell is a subclass of ``pipeline.interfaces.Cell`` with a valid fused mode."""
    if not (inspect.isclass(obj) and issubclass(obj, Cell)):
        raise ContractError("cells", name, f"{obj!r} is not a subclass of pipeline.interfaces.Cell")
    if obj.fused_mode is not None and obj.fused_mode not in FUSED_MODES:
        raise ContractError("cells", name, f"fused_mode {obj.fused_mode!r} not in {FUSED_MODES}")
    if not (isinstance(obj.state_size, int) and obj.state_size >= 1):
        raise ContractError(
            "cells", name, f"state_size must be an int >= 1, got {obj.state_size!r}"
        )
    if obj.step is Cell.step:
        raise ContractError("cells", name, "it does not implement step(p_t, state)")


def validate_initializer(name: str, obj: Any) -> None:
    """An initializer is a callable taking the tensor and a keyword-only ``generator``."""
    if not callable(obj):
        raise ContractError("initializers", name, f"{obj!r} is not callable")
    parameters = inspect.signature(obj).parameters
    if "generator" not in parameters:
        raise ContractError("initializers", name, "it has no keyword argument 'generator'")


def validate_task(name: str, obj: Any) -> None:
    """A task subclasses ``Task``, has dataclass Options, monitors a metric it logs and
    implements every abstract method of ``Task``."""
    if not (inspect.isclass(obj) and issubclass(obj, Task)):
        raise ContractError("tasks", name, f"{obj!r} is not a subclass of pipeline.interfaces.Task")
    if not dataclasses.is_dataclass(obj.Options):
        raise ContractError("tasks", name, "Options must be a dataclass of the task's options")
    logged = {f"{split}_{metric}" for split in ("val", "test") for metric in obj.metric_names}
    if obj.monitor not in logged:
        raise ContractError(
            "tasks", name, f"monitor {obj.monitor!r} is not one of {sorted(logged)}"
        )
    if obj.monitor_mode not in ("min", "max"):
        raise ContractError(
            "tasks", name, f"monitor_mode must be 'min' or 'max', not {obj.monitor_mode!r}"
        )
    missing = sorted(getattr(obj, "__abstractmethods__", ()))
    if missing:
        methods = ", ".join(f"{method}()" for method in missing)
        raise ContractError(
            "tasks", name, f"it does not implement {methods} (required by pipeline.interfaces.Task)"
        )


def validate_tokenizer(name: str, obj: Any) -> None:
    """A tokenizer subclasses ``Tokenizer``, saves the kind it is registered under and
    implements every abstract method of ``Tokenizer``."""
    if not (inspect.isclass(obj) and issubclass(obj, Tokenizer)):
        raise ContractError(
            "tokenizers", name, f"{obj!r} is not a subclass of pipeline.interfaces.Tokenizer"
        )
    if obj.kind != name:
        raise ContractError(
            "tokenizers",
            name,
            f"kind is {obj.kind!r}; set it to the entry-point name {name!r} (a saved tokenizer "
            "records its kind so that loading finds this plugin)",
        )
    missing = sorted(getattr(obj, "__abstractmethods__", ()))
    if missing:
        methods = ", ".join(f"{method}()" for method in missing)
        raise ContractError(
            "tokenizers",
            name,
            f"it does not implement {methods} (required by pipeline.interfaces.Tokenizer)",
        )


def validate_image_encoder(name: str, obj: Any) -> None:
    """An image encoder subclasses ``ImageEncoder``, implements ``forward`` and
    ``grid_shape`` and has 3 channel means and 3 positive standard deviations."""
    if not (inspect.isclass(obj) and issubclass(obj, ImageEncoder)):
        raise ContractError(
            "image_encoders", name, f"{obj!r} is not a subclass of pipeline.interfaces.ImageEncoder"
        )
    for method in ("forward", "grid_shape"):
        if getattr(obj, method) is getattr(ImageEncoder, method):
            raise ContractError("image_encoders", name, f"it does not implement {method}()")
    for attribute in ("mean", "std"):
        values = getattr(obj, attribute)
        numbers = isinstance(values, tuple) and len(values) == 3
        if not (numbers and all(isinstance(v, int | float) for v in values)):
            raise ContractError(
                "image_encoders", name, f"{attribute} must be 3 numbers (R, G, B), got {values!r}"
            )
    if min(obj.std) <= 0:
        raise ContractError("image_encoders", name, f"std must be > 0, got {obj.std!r}")


VALIDATORS: dict[str, Callable[[str, Any], None]] = {
    "cells": validate_cell,
    "initializers": validate_initializer,
    "tasks": validate_task,
    "tokenizers": validate_tokenizer,
    "image_encoders": validate_image_encoder,
}
