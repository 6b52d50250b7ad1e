"""Seeded initialisation of a network by parameter group, with the configured initializers.

Options come from ``init.options.<group>``; besides ``generator``, an initializer gets the
context its signature names (``vocab``: the token of each embedding row), whatever its name.
Groups: ``embedding`` (nn.Embedding weights), ``input``/``recurrent``/``bias`` (as each Cell
and ImageEncoder sorts its parameters: an encoder's convolution weights are ``input``),
``output`` (nn.Linear weights of heads; their biases go to ``bias``).
A parameter shared by two modules (tied weights) is initialised once, by its first group.
Parameters of other modules, and those a Cell or ImageEncoder does not list, keep their own init.

A module may declare initial values it set itself with ``own_init()`` (names of its own
parameters, see ``Cell.own_init``): such a parameter keeps them unless the user chose its
group's initializer explicitly (a name other than the default, or options), because a
component's option (``model.cell_options.forget_bias``) is as much the user's word as
``init.bias``, and the default ``init.bias=zeros`` is nobody's.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pipeline.component_options import context_arguments, initializer_option_problems
from pipeline.config import INIT_GROUPS, ConfigError, InitConfig
from pipeline.errors import UserError
from pipeline.interfaces import Cell, ImageEncoder
from pipeline.plugins import PluginError, Registry


def parameter_groups(network: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The network's parameters sorted into the initializer groups, each parameter once."""
    groups: dict[str, list[nn.Parameter]] = {group: [] for group in INIT_GROUPS}
    seen: set[int] = set()

    def add(group: str, parameter: Tensor | None) -> None:
        if isinstance(parameter, nn.Parameter) and id(parameter) not in seen:
            seen.add(id(parameter))
            groups[group].append(parameter)

    for module in network.modules():
        if isinstance(module, nn.Embedding):
            add("embedding", module.weight)
        elif isinstance(module, Cell | ImageEncoder):
            for group, parameters in module.parameter_groups().items():
                for parameter in parameters:
                    add(group, parameter)
            seen.update(id(p) for p in module.parameters())  # unlisted: keep their own init
        elif isinstance(module, nn.Linear):
            add("output", module.weight)
            add("bias", module.bias)
    return groups


def initialize(
    network: nn.Module,
    init: InitConfig,
    initializers: Registry,
    seed: int,
    vocabulary: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Fill every grouped parameter with its group's initializer; returns facts to log.

    Every group's options are checked first, so a bad option changes no parameter.
    """
    chosen = {group: initializers.get(getattr(init, group)) for group in INIT_GROUPS}
    problems = [
        problem
        for group, initializer in chosen.items()
        for problem in initializer_option_problems(
            initializer, init.options.get(group, {}), group, getattr(init, group)
        )
    ]
    if problems:
        raise ConfigError(problems)
    generator = torch.Generator().manual_seed(seed)
    context = {"vocab": list(vocabulary or [])}
    declared = declared_parameters(network)
    facts: dict[str, Any] = {}
    for group, grouped in parameter_groups(network).items():
        parameters = _to_fill(group, grouped, declared, init, facts)
        initializer = chosen[group]
        options = {**init.options.get(group, {}), **context_arguments(initializer, context)}
        for parameter in parameters:
            facts.update(_fill(parameter, initializer, generator, options, f"init.{group}"))
    return facts


def _to_fill(
    group: str,
    parameters: list[nn.Parameter],
    declared: dict[int, str],
    init: InitConfig,
    facts: dict[str, Any],
) -> list[nn.Parameter]:
    """The group's parameters its initializer fills: all when the user chose the group,
    else those no module declared (counted in ``init.<group>.kept_own_init``)."""
    kept = [p for p in parameters if id(p) in declared]
    if not kept:
        return parameters
    if group in explicit_groups(init):
        _warn_overwritten(group, getattr(init, group), [declared[id(p)] for p in kept])
        return parameters
    facts[f"init.{group}.kept_own_init"] = len(kept)
    return [p for p in parameters if id(p) not in declared]


def declared_parameters(network: nn.Module) -> dict[int, str]:
    """Parameters whose module declares its own initial values (``own_init()``), by id.

    Values are qualified names such as ``encoder.cells.0.bias_ih`` (for messages).
    """
    declared: dict[int, str] = {}
    for prefix, module in network.named_modules():
        own_init = getattr(module, "own_init", None)
        if not callable(own_init):
            continue
        own = dict(module.named_parameters(recurse=False))
        for name in own_init():
            if name not in own:
                raise PluginError(
                    f"{type(module).__name__}.own_init() names {name!r}, which is not one of "
                    f"its own parameters ({', '.join(own) or 'none'})"
                )
            declared.setdefault(id(own[name]), f"{prefix}.{name}" if prefix else name)
    return declared


def explicit_groups(init: InitConfig) -> set[str]:
    """Groups whose initializer the user chose: a name other than the default, or options.

    Judged by value, not by where the value came from, so a run's saved config (which spells
    out every key) means the same when it is loaded again.
    """
    defaults = InitConfig()
    return {
        group
        for group in INIT_GROUPS
        if getattr(init, group) != getattr(defaults, group) or init.options.get(group)
    }


def _warn_overwritten(group: str, name: str, parameters: list[str]) -> None:
    more = len(parameters) - 3
    shown = ", ".join(parameters[:3]) + (f" and {more} more" if more > 0 else "")
    warnings.warn(
        f"init.{group}={name} is set explicitly, so it overwrites the initial values that "
        f"{shown} declare for themselves (e.g. model.cell_options.forget_bias); leave "
        f"init.{group} and init.options.{group} at their defaults to keep them",
        stacklevel=4,
    )


def _fill(
    parameter: nn.Parameter,
    initializer: Any,
    generator: torch.Generator,
    options: dict[str, Any],
    key: str,
) -> dict[str, Any]:
    """Run one initializer on a CPU copy (the generator lives on the CPU) and copy back.

    Options were bound beforehand, so only a value the initializer rejects for this tensor
    (e.g. its shape) is the user's to fix; anything else is a bug and propagates.
    """
    values = torch.empty_like(parameter, device="cpu")
    try:
        result = initializer(values, generator=generator, **options)
    except (UserError, ValueError) as error:
        option_key = key.replace("init.", "init.options.")
        raise ConfigError([f"{key} / {option_key}: {error}"]) from error
    with torch.no_grad():
        parameter.copy_(values)
    return {f"{key}.{fact}": value for fact, value in (result or {}).items()}
