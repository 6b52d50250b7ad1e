"""Seeded initialisation of a network by parameter group, with the configured initializers.

Options come from ``init.options.<group>``; besides ``generator``, an initializer gets the
context its signature names (``vocab``: the token of each embedding row), whatever its name.
Groups: ``embedding`` (nn.Embedding weights), ``input``/``recurrent``/``bias`` (as each Cell
sorts its parameters), ``output`` (nn.Linear weights of heads; their biases go to ``bias``).
A parameter shared by two modules (tied weights) is initialised once, by its first group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from pipeline.component_options import context_arguments, initializer_option_problems
from pipeline.config import INIT_GROUPS, ConfigError, InitConfig
from pipeline.errors import UserError
from pipeline.interfaces import Cell
from pipeline.plugins import Registry


def parameter_groups(network: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The network's parameters sorted into the initializer groups, each parameter once."""
    groups: dict[str, list[nn.Parameter]] = {group: [] for group in INIT_GROUPS}
    seen: set[int] = set()

    def add(group: str, parameter: nn.Parameter | None) -> None:
        if parameter is not None and id(parameter) not in seen:
            seen.add(id(parameter))
            groups[group].append(parameter)

    for module in network.modules():
        if isinstance(module, nn.Embedding):
            add("embedding", module.weight)
        elif isinstance(module, Cell):
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
    facts: dict[str, Any] = {}
    for group, parameters in parameter_groups(network).items():
        initializer = chosen[group]
        options = {**init.options.get(group, {}), **context_arguments(initializer, context)}
        for parameter in parameters:
            facts.update(_fill(parameter, initializer, generator, options, f"init.{group}"))
    return facts


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
