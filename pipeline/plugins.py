"""Plugins through entry points: find (no import) -> load (errors keep the cause) -> validate.

Registries are built by a function and passed around; nothing is discovered at import time,
so tests build their own from real ``importlib.metadata.EntryPoint`` objects.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from pipeline.errors import UserError

GROUPS = {
    "cells": "rnn_pipeline.cells",
    "initializers": "rnn_pipeline.initializers",
    "tasks": "rnn_pipeline.tasks",
    "tokenizers": "rnn_pipeline.tokenizers",
    "image_encoders": "rnn_pipeline.image_encoders",
}
BLOCK_ENV = "RNN_PIPELINE_BLOCK_PLUGINS"
"""Comma-separated plugin names (``name`` or ``kind:name``, e.g. ``cells:lstm``) to ignore."""


class PluginError(UserError):
    """A plugin cannot be used: unknown, blocked, broken, conflicting or breaking its contract."""


@dataclass(frozen=True)
class PluginRecord:
    """One entry point, found without importing it."""

    kind: str
    name: str
    value: str
    dist: str
    version: str

    @property
    def origin(self) -> str:
        return f"{self.dist} {self.version} ({self.value})"


@dataclass
class Registry:
    """Plugins of one kind: ``names()``, ``get(name)``, ``register(name, obj)``."""

    kind: str
    records: dict[str, PluginRecord] = field(default_factory=dict)
    conflicts: dict[str, tuple[PluginRecord, ...]] = field(default_factory=dict)
    blocked: frozenset[str] = frozenset()
    validator: Callable[[str, Any], None] | None = None
    _loaded: dict[str, Any] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Names a config may use (blocked ones excluded), sorted; imports nothing."""
        return sorted(n for n in {*self.records, *self.conflicts} if n not in self.blocked)

    def register(self, name: str, obj: Any, record: PluginRecord | None = None) -> None:
        """Add an already imported component (tests, notebooks); duplicate names are rejected."""
        if name in self.records or name in self._loaded:
            raise PluginError(f"{self.kind} plugin {name!r} is already registered")
        self.records[name] = record or PluginRecord(self.kind, name, repr(obj), "<local>", "-")
        self._loaded[name] = obj

    def get(self, name: str) -> Any:
        """Import, validate and return the component called name, or raise PluginError."""
        if name in self.blocked:
            raise PluginError(f"{self.kind} plugin {name!r} is blocked by {BLOCK_ENV}")
        if name in self._loaded:
            return self._loaded[name]
        self._check_usable(name)
        record = self.records[name]
        try:
            obj = metadata.EntryPoint(record.name, record.value, GROUPS[self.kind]).load()
        except Exception as error:
            raise PluginError(
                f"{self.kind} plugin {name!r} from {record.origin} failed to import: "
                f"{type(error).__name__}: {error}. Fix or reinstall {record.dist}, or block "
                f"it with {BLOCK_ENV}={self.kind}:{name}"
            ) from error
        self._validate(name, obj, record)
        self._loaded[name] = obj
        return obj

    def _validate(self, name: str, obj: Any, record: PluginRecord) -> None:
        """Run the contract's validator; its ContractError (or any failure) becomes one
        PluginError that adds the origin and how to block the plugin."""
        if self.validator is None:
            return
        try:
            self.validator(name, obj)
        except Exception as error:
            raise PluginError(
                f"{error} (plugin from {record.origin}; block it with "
                f"{BLOCK_ENV}={self.kind}:{name})"
            ) from error

    def _check_usable(self, name: str) -> None:
        if name in self.blocked:
            raise PluginError(f"{self.kind} plugin {name!r} is blocked by {BLOCK_ENV}")
        if name in self.conflicts:
            origins = " and ".join(r.origin for r in self.conflicts[name])
            raise PluginError(
                f"{self.kind} plugin name {name!r} is claimed by two distributions: {origins}. "
                "Uninstall one of them."
            )
        if name not in self.records:
            raise PluginError(unknown_name_message(self.kind, name, self.names()))


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """'unknown cells plugin 'lstn'; did you mean 'lstm'? available: ...' with where to add."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"Unknown {kind} plugin {name!r}.{hint} Available: {', '.join(known) or '(none)'}. "
        f"New ones are entry points in the group {GROUPS[kind]!r} of an installed distribution."
    )


def blocked_names(kind: str, spec: str | None = None) -> frozenset[str]:
    """Names of kind blocked by ``RNN_PIPELINE_BLOCK_PLUGINS`` (or the given spec)."""
    spec = os.environ.get(BLOCK_ENV, "") if spec is None else spec
    names = set()
    for item in filter(None, (part.strip() for part in spec.split(","))):
        prefix, _, name = item.rpartition(":")
        if not prefix or prefix == kind:
            names.add(name)
    return frozenset(names)


def _record(kind: str, entry_point: metadata.EntryPoint) -> PluginRecord:
    dist = entry_point.dist
    name, version = (dist.metadata["Name"], dist.version) if dist else ("<unknown>", "-")
    return PluginRecord(kind, entry_point.name, entry_point.value, name, version)


def discover(
    kind: str,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
    validator: Callable[[str, Any], None] | None = None,
    blocked: frozenset[str] | None = None,
) -> Registry:
    """Build the registry of kind from entry points (the installed ones by default)."""
    if entry_points is None:
        entry_points = metadata.entry_points(group=GROUPS[kind])
    claims: dict[str, dict[tuple[str, str], PluginRecord]] = {}
    for entry_point in entry_points:
        record = _record(kind, entry_point)
        # Editable installs can list one entry point twice (setuptools#3649): same dist and
        # value is the same plugin, not a conflict.
        claims.setdefault(record.name, {})[(record.dist, record.value)] = record
    registry = Registry(kind, validator=validator)
    registry.blocked = blocked_names(kind) if blocked is None else blocked
    for name, records in claims.items():
        if len(records) == 1:
            registry.records[name] = next(iter(records.values()))
        else:
            registry.conflicts[name] = tuple(records.values())
    return registry


@dataclass
class Registries:
    """The registries a run needs, one per kind of GROUPS (tokenizers and image encoders: the
    installed ones unless given)."""

    cells: Registry
    initializers: Registry
    tasks: Registry
    tokenizers: Registry = field(default_factory=lambda: default_registry("tokenizers"))
    image_encoders: Registry = field(default_factory=lambda: default_registry("image_encoders"))

    def by_kind(self) -> dict[str, Registry]:
        return {kind: getattr(self, kind) for kind in GROUPS}


def _contract(kind: str) -> Callable[[str, Any], None]:
    """Validator for kind that imports the contracts (and torch) only when a plugin loads."""

    def validate(name: str, obj: Any) -> None:
        from pipeline import contracts

        contracts.VALIDATORS[kind](name, obj)

    return validate


def default_registry(kind: str) -> Registry:
    """The registry of kind from the installed distributions, with its contract's validator."""
    return discover(kind, validator=_contract(kind))


def default_registries() -> Registries:
    """Registries of the installed distributions, with the contracts' validators."""
    return Registries(*(default_registry(kind) for kind in GROUPS))
