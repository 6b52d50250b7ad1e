"""Run the conformance checks on installed plugins (``pipeline plugins check --deep``).

Each plugin is loaded through its registry (so its contract's validator runs), then goes
through the check of its kind; a task gets generated data from :mod:`pipeline.testing.fixtures`
when it is a built-in, and is reported as not checked otherwise.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.plugins import GROUPS, PluginError, PluginRecord, Registries, unknown_name_message

__all__ = ["DeepOptions", "Outcome", "check_installed", "select"]

CLAUSE_PREFIX = "contract clause broken: "
UNCHECKABLE = {
    "tasks": "a task needs data to be checked and none is generated for it: call "
    "pipeline.testing.check_task in its own tests",
    "initializers": "it has required options and none are generated for it: call "
    "pipeline.testing.check_initializer(fn, options=...) in its own tests",
    "image_encoders": "it has required options and none are generated for it: call "
    "pipeline.testing.check_image_encoder(Encoder, **options) in its own tests",
}


@dataclass(frozen=True)
class DeepOptions:
    """Which slow clauses run: the DDP clause of tasks, the compiled runner of cells."""

    ddp: bool = True
    compile: bool = False


@dataclass(frozen=True)
class Outcome:
    """One plugin's result: status ``ok``, ``failed`` or ``not checked``, and why."""

    kind: str
    name: str
    dist: str
    version: str
    status: str
    detail: str

    def line(self) -> str:
        head = f"{self.status:<11}  {self.kind}:{self.name} ({self.dist} {self.version})"
        return f"{head}: {self.detail}" if self.detail else head


def select(registries: Registries, names: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, name) of every plugin, or of the given ``name``/``kind:name`` ones, sorted.

    Raises UserError naming an unknown plugin, with close matches."""
    every = [
        (kind, name)
        for kind, registry in registries.by_kind().items()
        for name in sorted({*registry.records, *registry.conflicts} - registry.blocked)
    ]
    wanted = list(names)
    if not wanted:
        return every
    chosen: list[tuple[str, str]] = []
    for spec in wanted:
        kind, _, name = spec.rpartition(":")
        found = [(k, n) for k, n in every if n == name and kind in ("", k)]
        if kind and kind not in GROUPS:
            raise UserError(f"unknown plugin kind {kind!r} in {spec!r}: use one of {list(GROUPS)}")
        if not found:
            known = sorted({n for k, n in every if kind in ("", k)})
            raise UserError(unknown_name_message(kind or "plugins", name, known))
        chosen += [pair for pair in found if pair not in chosen]
    return chosen


def check_installed(
    registries: Registries, chosen: Iterable[tuple[str, str]], options: DeepOptions
) -> list[Outcome]:
    """Check each chosen plugin; never raises for a plugin's fault."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="rnn-pipeline-deep-") as name:
        for index, (kind, plugin) in enumerate(chosen):
            directory = Path(name) / str(index)
            outcomes.append(_outcome(registries, kind, plugin, directory, options))
    return outcomes


def _record(registries: Registries, kind: str, name: str) -> PluginRecord:
    registry = registries.by_kind()[kind]
    if name in registry.records:
        return registry.records[name]
    return registry.conflicts[name][0]


def _outcome(
    registries: Registries, kind: str, name: str, directory: Path, options: DeepOptions
) -> Outcome:
    record = _record(registries, kind, name)

    def result(status: str, detail: str) -> Outcome:
        return Outcome(kind, name, record.dist, record.version, status, detail)

    try:
        plugin = registries.by_kind()[kind].get(name)
    except PluginError as error:
        return result("failed", str(error).splitlines()[0])
    try:
        notes = _check(registries, kind, name, plugin, directory, options)
    except AssertionError as error:
        return result("failed", _clause(str(error)))
    except Exception as error:  # a plugin's bug is this check's finding, not a crash
        first = str(error).splitlines()[0] if str(error) else ""
        return result("failed", f"raised {type(error).__name__}: {first}".rstrip(": "))
    if notes is None:
        return result("not checked", UNCHECKABLE[kind])
    return result("ok", "; ".join(notes))


def _clause(message: str) -> str:
    """``contract clause broken: C\\n expected: E\\n actual: A`` on one line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return "assertion failed"
    head = lines[0].removeprefix(CLAUSE_PREFIX)
    return f"{head} ({', '.join(lines[1:])})" if len(lines) > 1 else head


def _check(
    registries: Registries,
    kind: str,
    name: str,
    plugin: Any,
    directory: Path,
    options: DeepOptions,
) -> list[str] | None:
    """The check's notes, or None when the plugin cannot be checked here."""
    from pipeline.testing import (
        check_cell,
        check_image_encoder,
        check_initializer,
        check_task,
        check_tokenizer,
    )
    from pipeline.testing.fixtures import IMAGE_ENCODER_OPTIONS, INITIALIZER_OPTIONS, TASK_SETUPS

    if kind == "cells":
        return check_cell(plugin, compile=options.compile)
    if kind == "initializers":
        if name in INITIALIZER_OPTIONS:
            return check_initializer(plugin, options=INITIALIZER_OPTIONS[name](directory))
        return None if _required_options(plugin) else check_initializer(plugin)
    if kind == "tokenizers":
        return check_tokenizer(plugin)
    if kind == "image_encoders":
        if name in IMAGE_ENCODER_OPTIONS:
            return check_image_encoder(plugin, **IMAGE_ENCODER_OPTIONS[name])
        return None if _required_options(plugin, 0) else check_image_encoder(plugin)
    if name not in TASK_SETUPS or _record(registries, kind, name).dist != "rnn-pipeline":
        return None
    setup = TASK_SETUPS[name](directory / "data", registries)
    return check_task(
        plugin,
        setup.cfg,
        setup.texts,
        cache_dir=directory / "check",
        registries=registries,
        ddp=options.ddp,
    )


def _required_options(component: Any, positional: int = 1) -> list[str]:
    """Parameters after the ``positional`` ones the core passes (an initializer's tensor),
    other than ``generator``, that have no default."""
    parameters = list(inspect.signature(component).parameters.values())[positional:]
    return [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.name != "generator"
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
