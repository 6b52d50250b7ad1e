"""Validation of loaded plugins against the contracts in :mod:`pipeline.interfaces`."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from pipeline.interfaces import FUSED_MODES, Cell, Task
from pipeline.plugins import PluginError


def _fail(kind: str, name: str, problem: str) -> PluginError:
    return PluginError(f"{kind} plugin {name!r} breaks the contract: {problem}")


def validate_cell(name: str, obj: Any) -> None:
    """A cell is a subclass of ``pipeline.interfaces.Cell`` with a valid fused mode."""
    if not (inspect.isclass(obj) and issubclass(obj, Cell)):
        raise _fail("cells", name, f"{obj!r} is not a subclass of pipeline.interfaces.Cell")
    if obj.fused_mode is not None and obj.fused_mode not in FUSED_MODES:
        raise _fail("cells", name, f"fused_mode {obj.fused_mode!r} not in {FUSED_MODES}")
    if not (isinstance(obj.state_size, int) and obj.state_size >= 1):
        raise _fail("cells", name, f"state_size must be an int >= 1, got {obj.state_size!r}")
    if obj.step is Cell.step:
        raise _fail("cells", name, "it does not implement step(p_t, state)")


def validate_initializer(name: str, obj: Any) -> None:
    """An initializer is a callable taking the tensor and a keyword-only ``generator``."""
    if not callable(obj):
        raise _fail("initializers", name, f"{obj!r} is not callable")
    parameters = inspect.signature(obj).parameters
    if "generator" not in parameters:
        raise _fail("initializers", name, "it has no keyword argument 'generator'")


def validate_task(name: str, obj: Any) -> None:
    """A task subclasses ``Task``, has dataclass Options and monitors a metric it logs."""
    if not (inspect.isclass(obj) and issubclass(obj, Task)):
        raise _fail("tasks", name, f"{obj!r} is not a subclass of pipeline.interfaces.Task")
    if not dataclasses.is_dataclass(obj.Options):
        raise _fail("tasks", name, "Options must be a dataclass of the task's options")
    logged = {f"{split}_{metric}" for split in ("val", "test") for metric in obj.metric_names}
    if obj.monitor not in logged:
        raise _fail("tasks", name, f"monitor {obj.monitor!r} is not one of {sorted(logged)}")
    if obj.monitor_mode not in ("min", "max"):
        raise _fail("tasks", name, f"monitor_mode must be 'min' or 'max', not {obj.monitor_mode!r}")


VALIDATORS = {"cells": validate_cell, "initializers": validate_initializer, "tasks": validate_task}
