"""Conditional parameters of a tune space: a key sampled only in the branch that uses it.

::

    params:
      model.cell: {choice: [lstm, gru]}
      model.cell_options.forget_bias: {float: [0.0, 2.0], when: {model.cell: lstm}}

``when`` maps keys to a value or a list of values; the parameter is sampled in a trial only
when every such key has one of them. A key named in ``when`` is a searched key (sampled first)
or a config key (then the condition is fixed for the whole study). An option of a component
(``model.cell_options.*``, ``init.options.<group>.*``, ``tokenizer.options.*``, ``task.*``)
is checked against every choice of its component that its branch allows, so an option one
cell lacks is reported before the first trial, with the ``when`` that fixes it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

Condition = tuple[str, tuple[Any, ...]]
"""A key and the values it must have for the conditional parameter to be sampled."""


class Conditional(Protocol):
    """What the checks need of a search-space parameter (``pipeline.search_space.Param``)."""

    @property
    def key(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def choices(self) -> tuple[Any, ...]: ...

    @property
    def when(self) -> tuple[Condition, ...]: ...

    def allows(self, value: Any) -> bool: ...

    def values(self) -> Sequence[Any]: ...


def parse_when(key: str, raw: Any, problems: list[str]) -> tuple[Condition, ...]:
    """The conditions of ``params.<key>.when``: ``{KEY: VALUE | [VALUES]}``."""
    if not isinstance(raw, dict) or not raw:
        problems.append(f"params.{key}.when: give a mapping KEY: VALUE, e.g. {{model.cell: lstm}}")
        return ()
    conditions = []
    for other, wanted in raw.items():
        values = tuple(wanted) if isinstance(wanted, list) else (wanted,)
        if other == key or not values:
            problems.append(f"params.{key}.when.{other}: a condition names another key and a value")
            continue
        conditions.append((str(other), values))
    return tuple(conditions)


def active(when: Iterable[Condition], values: Mapping[str, Any]) -> bool:
    """Whether every condition holds for the values known so far (sampled or configured)."""
    return all(key in values and values[key] in wanted for key, wanted in when)


P = TypeVar("P", bound=Conditional)


def in_sampling_order(params: list[P], problems: list[str]) -> list[P]:
    """params with every searched key before the parameters whose conditions name it."""
    by_key = {param.key: param for param in params}
    ordered: list[P] = []
    visiting: set[str] = set()

    def visit(param: P) -> None:
        if param in ordered:
            return
        if param.key in visiting:
            problems.append(f"params.{param.key}.when: the conditions form a cycle")
            return
        visiting.add(param.key)
        for key, _ in param.when:
            if key in by_key:
                visit(by_key[key])
        visiting.discard(param.key)
        ordered.append(param)

    for param in params:
        visit(param)
    return ordered


def condition_problems(
    params: Sequence[Conditional], configured: Mapping[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """Problems of every ``when``, and the configured values of the keys they name.

    ``configured``: the base config's flattened keys. A named key must be searched (and its
    value one the search can sample) or a config key; a config key whose value never meets
    the condition would leave the parameter unsampled in every trial.
    """
    searched = {param.key: param for param in params}
    problems: list[str] = []
    fixed: dict[str, Any] = {}
    for param in params:
        for key, wanted in param.when:
            where = f"params.{param.key}.when.{key}"
            if key in searched:
                problems += [
                    f"{where}: {value!r} is never sampled for {key} ({_describe(searched[key])})"
                    for value in wanted
                    if not searched[key].allows(value)
                ]
            elif key in configured:
                fixed[key] = configured[key]
                if configured[key] not in wanted:
                    problems.append(
                        f"{where}: {key} is {configured[key]!r} in the config and not searched, "
                        f"so {param.key} would never be sampled; search {key} or drop the when"
                    )
            else:
                problems.append(f"{where}: {key!r} is neither a searched key nor a config key")
    return problems, fixed


def _describe(param: Conditional) -> str:
    if param.kind == "choice":
        return "choices: " + ", ".join(map(str, param.choices))
    low, high = param.values()
    return f"{param.kind} in [{low}, {high}]"


def owner_key(key: str) -> str | None:
    """The component key whose options ``key`` sets (``model.cell_options.x`` -> model.cell)."""
    if key.startswith("model.cell_options."):
        return "model.cell"
    if key.startswith("init.options."):
        return "init." + key.split(".")[2]
    if key.startswith("tokenizer.options."):
        return "tokenizer.kind"
    if key.startswith("task.") and key != "task.name":
        return "task.name"
    return None


def branches(param: Conditional, params: Sequence[Conditional]) -> list[dict[str, Any]]:
    """The assignments of searched keys under which param is sampled and must build.

    Each allowed value of a searched key its conditions name, times each choice of the
    searched component it is an option of (unless a condition already fixes it).
    """
    searched = {p.key: p for p in params}
    axes = {key: wanted for key, wanted in param.when if key in searched}
    owner = owner_key(param.key)
    if owner in searched and owner not in axes and searched[owner].kind == "choice":
        axes[owner] = searched[owner].choices
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def branch_problems(
    params: Sequence[Conditional], build: Callable[[dict[str, Any]], list[str]]
) -> list[str]:
    """Config problems of each parameter's bounds or choices in each of its branches.

    ``build(values)`` returns the problems of the base config with values laid over it.
    """
    problems: list[str] = []
    for param in params:
        failing: dict[str, list[str]] = {}
        for value in param.values():
            for branch in branches(param, params):
                where = ", ".join(f"{k}={v!r}" for k, v in branch.items())
                scope = f" (with {where})" if where else ""
                for problem in build({**branch, param.key: value}):
                    failing.setdefault(repr(branch), []).append(
                        f"params.{param.key}={value!r}{scope}: {problem}"
                    )
        problems += [p for found in failing.values() for p in found]
        problems += _hint(param, params, failing)
    return list(dict.fromkeys(problems))


def _hint(
    param: Conditional, params: Sequence[Conditional], failing: Mapping[str, list[str]]
) -> list[str]:
    """For an unconditional option that fails with some choices of its component: the when."""
    owner = owner_key(param.key)
    searched = {p.key: p for p in params}
    if param.when or not failing or owner not in searched:
        return []
    good = [c for c in searched[owner].choices if repr({owner: c}) not in failing]
    if not good:
        return []
    return [f"params.{param.key}: sample it only where it applies: add when: {{{owner}: {good}}}"]
