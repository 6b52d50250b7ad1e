"""Name the plugin behind an exception: one line for the CLI instead of a core traceback.

The plugin is found from the traceback's frames: the innermost frame whose module is the
module of an installed entry point's value (or a module below it, or beside it in the same
package) belongs to that plugin. The contract clause is named when known: a broken clause
reported by :mod:`pipeline.testing`, or the contract method (``Task.step``, ``Cell.step``...)
the plugin was running.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType

from pipeline.plugins import GROUPS, PluginRecord, discover

__all__ = ["PluginFailure", "describe", "find_plugin"]

CLAUSE_PREFIX = "contract clause broken: "
CONTRACTS = {"cells": "Cell", "tasks": "Task", "tokenizers": "Tokenizer"}
"""Contract class in pipeline.interfaces of each kind (an initializer is a plain function)."""


@dataclass(frozen=True)
class PluginFailure:
    """The plugin an exception came from, and the hook it was in (``""`` when unknown)."""

    record: PluginRecord
    function: str


def installed_records() -> list[PluginRecord]:
    """Every installed entry point of every group (imports nothing)."""
    records: list[PluginRecord] = []
    for kind in GROUPS:
        registry = discover(kind, blocked=frozenset())
        records += registry.records.values()
        for claims in registry.conflicts.values():
            records += claims
    return records


def _frames(traceback: TracebackType | None) -> Iterator[tuple[str, str]]:
    """(module, function) of each frame, outermost first."""
    while traceback is not None:
        frame = traceback.tb_frame
        yield str(frame.f_globals.get("__name__", "")), frame.f_code.co_name
        traceback = traceback.tb_next


def _owner(module: str, records: Iterable[PluginRecord]) -> PluginRecord | None:
    """The record whose entry-point module is module (or contains it), else one of the same
    package; the core's own modules belong to no plugin."""
    if module == "pipeline" or module.startswith("pipeline."):
        return None
    by_module = [(record.value.split(":")[0], record) for record in records]
    for target, record in by_module:
        if module == target or module.startswith(target + "."):
            return record
    for target, record in by_module:
        package = target.rpartition(".")[0]
        if package and module.startswith(package + "."):
            return record
    return None


def find_plugin(
    error: BaseException, records: Iterable[PluginRecord] | None = None
) -> PluginFailure | None:
    """The plugin whose code raised error (innermost plugin frame), with the function the core
    called to enter it (the hook), or None."""
    known = list(installed_records() if records is None else records)
    found: PluginFailure | None = None
    inside = False
    for module, function in _frames(error.__traceback__):
        record = _owner(module, known)
        if record is None:
            inside = False
        elif not inside or found is None or found.record != record:
            found, inside = PluginFailure(record, function), True
    return found


def plugin_in_use(
    error: BaseException, records: Iterable[PluginRecord] | None = None
) -> PluginRecord | None:
    """The plugin object the core was running when it failed (the innermost core frame whose
    ``self`` is, or directly holds, a plugin's module): e.g. a cell whose ``step`` returned a
    state the runner cannot use. None when no frame holds one."""
    known = list(installed_records() if records is None else records)
    traceback, frames = error.__traceback__, []
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    for frame in reversed(frames):
        owner = frame.f_locals.get("self")
        children = getattr(owner, "_modules", None)
        held = list(children.values()) if isinstance(children, dict) else []
        for candidate in (owner, *held):
            record = _owner(type(candidate).__module__, known) if candidate is not None else None
            if record is not None:
                return record
    return None


def _clause(error: BaseException, failure: PluginFailure) -> str:
    message = str(error)
    if message.startswith(CLAUSE_PREFIX):
        return message[len(CLAUSE_PREFIX) :].splitlines()[0]
    contract = CONTRACTS.get(failure.record.kind)
    if contract is None:
        return ""
    from pipeline import interfaces

    if not hasattr(getattr(interfaces, contract), failure.function):
        return ""
    return f"in {contract}.{failure.function}()"


def describe(error: BaseException, records: Iterable[PluginRecord] | None = None) -> str | None:
    """One line naming the plugin, its distribution and version, and the clause; None when
    no plugin's code is in the traceback (a bug of the core keeps its traceback)."""
    known = list(installed_records() if records is None else records)
    failure: PluginFailure | None = None
    cause: BaseException | None = error
    while failure is None and cause is not None:  # also a cause the core wrapped
        failure = find_plugin(cause, known)
        if failure is None:
            cause = cause.__cause__ or cause.__context__
        else:
            error = cause
    if failure is None:
        return _in_use_line(error, known)
    record = failure.record
    clause = _clause(error, failure)
    first = str(error).splitlines()[0] if str(error) else ""
    if first.startswith(CLAUSE_PREFIX):
        first = ""
    problem = f"{type(error).__name__}: {first}" if first else type(error).__name__
    where = f" ({clause})" if clause else ""
    return (
        f"plugin {record.name!r} ({record.kind}) of {record.dist} {record.version} "
        f"raised {problem}{where}"
    )


def _in_use_line(error: BaseException, known: list[PluginRecord]) -> str | None:
    record = plugin_in_use(error, known)
    if record is None:
        return None
    first = str(error).splitlines()[0] if str(error) else ""
    problem = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return (
        f"the core failed on what plugin {record.name!r} ({record.kind}) of {record.dist} "
        f"{record.version} gave it: {problem} (`pipeline plugins check --deep "
        f"{record.kind}:{record.name}` names the contract clause)"
    )
