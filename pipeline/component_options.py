"""Options of a configured component, checked against its signature before any data is read.

A cell is built as ``Cell(input_size, hidden_size, **model.cell_options)`` and an initializer
called as ``fn(tensor, *, generator, **init.options.<group>)``; the parameters after those the
core passes are the component's options. :func:`option_problems` reports every option that is
unknown (with "did you mean"), missing or of the wrong annotated type, then runs the
component's own ``validate_options`` (see :func:`validated_by`) on the bound options.

Besides ``generator``, an initializer may ask for context the core holds by naming a keyword
parameter listed in :data:`INITIALIZER_CONTEXT` (``vocab``: the token of each embedding row).
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pipeline.errors import UserError
from pipeline.plugins import (
    PluginError,
    Registries,
    Registry,
    default_registry,
    unknown_name_message,
)

if TYPE_CHECKING:
    from pipeline.config import Config

INIT_GROUPS = ("embedding", "input", "recurrent", "bias", "output")
"""Parameter groups with an initializer each (``init.<group>``), see pipeline.initialization."""
INITIALIZER_CONTEXT = ("generator", "vocab")
"""Keyword parameters of an initializer that the core fills in; a config may not set them."""
TOKENIZER_SETTINGS = (
    "vocab_size",
    "min_frequency",
    "lowercase",
    "model_type",
    "character_coverage",
)
"""``tokenizer.*`` keys passed to a tokenizer's ``__init__`` when it names them (not options)."""
IMAGE_ENCODER_KEYS = ("image_encoder", "image_encoder_options")
"""Fields of a task's Options naming its image encoder and the encoder's options: the config
checks them with the run's registries (see :func:`configured_image_encoder`)."""

Component = TypeVar("Component", bound=Callable[..., Any])


def validated_by(check: Callable[..., None]) -> Callable[[Component], Component]:
    """Decorator attaching ``check`` as the component's ``validate_options``.

    The config calls ``check(**options)`` with every option bound to the component's signature
    (defaults filled in) before any data is read; it raises ``ValueError`` (or a ``UserError``
    such as ``pipeline.errors.OptionError``) naming the component, the option and what is
    allowed. Call it from the component too, so direct calls are checked the same way.
    """

    def attach(component: Component) -> Component:
        setattr(component, "validate_options", check)  # noqa: B010 (keeps the type for mypy)
        return component

    return attach


def component_problems(cfg: Config, registries: Registries) -> list[str]:
    """Problems of the configured cell's and initializers' options (names already checked)."""
    problems: list[str] = []
    cell = _component(registries.cells, cfg.model.cell, "model.cell", problems)
    if cell is not None:
        problems += cell_option_problems(cell, cfg.model.cell_options, cfg.model.cell)
        if cfg.model.runner == "fused" and cell.fused_mode is None:
            problems.append(
                f"model.runner: fused, but cell {cfg.model.cell!r} has no fused path; "
                "use auto, compiled or eager"
            )
    tokenizer = _component(registries.tokenizers, cfg.tokenizer.kind, "tokenizer.kind", problems)
    if tokenizer is not None:
        problems += tokenizer_option_problems(tokenizer, cfg.tokenizer.options, cfg.tokenizer.kind)
    for group in INIT_GROUPS:
        name = getattr(cfg.init, group)
        options = cfg.init.options.get(group, {})
        initializer = _component(registries.initializers, name, f"init.{group}", problems)
        if initializer is not None and isinstance(options, dict):  # else reported by config
            problems += initializer_option_problems(initializer, options, group, name)
    encoder = configured_image_encoder(cfg)
    if encoder is not None:
        problems += image_encoder_option_problems(*encoder, registries.image_encoders)
    return problems


def configured_image_encoder(cfg: Config) -> tuple[str, Mapping[str, Any]] | None:
    """``(task.image_encoder, task.image_encoder_options)`` when the task's Options has both
    fields (:data:`IMAGE_ENCODER_KEYS`), else None."""
    options = cfg.task.options
    if options is None or not all(hasattr(options, key) for key in IMAGE_ENCODER_KEYS):
        return None
    name, encoder_options = (getattr(options, key) for key in IMAGE_ENCODER_KEYS)
    return name, encoder_options if isinstance(encoder_options, Mapping) else {}


def _component(registry: Registry, name: str, key: str, problems: list[str]) -> Any:
    """The plugin called name, or None when it is unknown (reported already) or broken."""
    if name not in registry.names():
        return None
    try:
        return registry.get(name)
    except PluginError as error:
        problems.append(f"{key}: {error}")
        return None


def option_problems(
    component: Callable[..., Any],
    options: Mapping[str, Any],
    *,
    key: str,
    label: str,
    positional: int,
    supplied: tuple[str, ...] = (),
) -> list[str]:
    """Problems of ``options`` for ``component``, each starting with the config key.

    ``positional``: leading parameters the core passes (2 for a cell, 1 for an initializer);
    ``supplied``: keyword parameters the core fills in. ``label`` names the choice in messages
    (``init.embedding=uniform``).
    """
    signature, evaluated = _signature(component)
    parameters = list(signature.parameters.values())[positional:]
    named = {
        p.name: p
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in supplied
    }
    open_ended = any(p.kind is p.VAR_KEYWORD for p in parameters)
    problems = [
        _unknown(key, label, name, named, supplied)
        for name in options
        if name in supplied or (name not in named and not open_ended)
    ]
    problems += [
        f"{key}.{name}: required by {label}; set it in the config"
        for name, p in named.items()
        if p.default is p.empty and name not in options
    ]
    if evaluated:
        problems += _type_problems(key, options, named)
    if not problems:
        problems += _own_check(component, options, named, key, label)
    return problems


def cell_option_problems(cell: type, options: Mapping[str, Any], name: str) -> list[str]:
    """Problems of ``model.cell_options`` for the cell class registered as ``name``."""
    label = f"model.cell={name}"
    return option_problems(cell, options, key="model.cell_options", label=label, positional=2)


def tokenizer_option_problems(tokenizer: type, options: Mapping[str, Any], kind: str) -> list[str]:
    """Problems of ``tokenizer.options`` for the tokenizer registered as ``kind``."""
    return option_problems(
        tokenizer,
        options,
        key="tokenizer.options",
        label=f"tokenizer.kind={kind}",
        positional=0,
        supplied=TOKENIZER_SETTINGS,
    )


def image_encoder_option_problems(
    name: str,
    options: Mapping[str, Any],
    registry: Registry | None = None,
    *,
    key: str = "task.image_encoder",
    options_key: str = "task.image_encoder_options",
) -> list[str]:
    """Problems of the image encoder registered as ``name`` and its ``options``: an unknown
    or broken plugin (at ``key``), then the options as for a cell (at ``options_key``).

    ``registry``: the installed image encoders unless given. The config already runs this,
    with the run's registries, for a task whose Options has the fields ``image_encoder`` and
    ``image_encoder_options``; a task naming them otherwise calls it in ``config_problems``.
    """
    registry = registry or default_registry("image_encoders")
    if name not in registry.names():
        return [f"{key}: {unknown_name_message('image_encoders', name, registry.names())}"]
    problems: list[str] = []
    encoder = _component(registry, name, key, problems)
    if encoder is None:
        return problems
    label = f"{key}={name}"
    return option_problems(encoder, options, key=options_key, label=label, positional=0)


def initializer_option_problems(
    initializer: Callable[..., Any], options: Mapping[str, Any], group: str, name: str
) -> list[str]:
    """Problems of ``init.options.<group>`` for the initializer registered as ``name``."""
    return option_problems(
        initializer,
        options,
        key=f"init.options.{group}",
        label=f"init.{group}={name}",
        positional=1,
        supplied=INITIALIZER_CONTEXT,
    )


def context_arguments(
    component: Callable[..., Any], available: Mapping[str, Any]
) -> dict[str, Any]:
    """The entries of ``available`` that the component's signature names as parameters."""
    parameters = _signature(component)[0].parameters
    return {name: value for name, value in available.items() if name in parameters}


def _signature(component: Callable[..., Any]) -> tuple[inspect.Signature, bool]:
    """The signature with evaluated annotations, or (when they cannot be) the raw one."""
    try:
        return inspect.signature(component, eval_str=True), True
    except (NameError, TypeError, SyntaxError):
        return inspect.signature(component), False


def _unknown(
    key: str,
    label: str,
    name: str,
    named: Mapping[str, inspect.Parameter],
    supplied: tuple[str, ...],
) -> str:
    if name in supplied:
        return f"{key}.{name}: the pipeline supplies {name!r} to {label}; remove it"
    if not named:
        return f"{key}.{name}: unknown option; {label} takes no options"
    close = difflib.get_close_matches(str(name), list(named), n=1)
    hint = f"; did you mean {key}.{close[0]}?" if close else "."
    return f"{key}.{name}: unknown option of {label}{hint} Options: {', '.join(named)}"


def _type_problems(
    key: str, options: Mapping[str, Any], named: Mapping[str, inspect.Parameter]
) -> list[str]:
    problems = []
    for name, value in options.items():
        parameter = named.get(name)
        if parameter is None or parameter.annotation is parameter.empty:
            continue
        error = type_problem(value, parameter.annotation)
        if error:
            problems.append(f"{key}.{name}: {error}, got {value!r}")
    return problems


def _own_check(
    component: Callable[..., Any],
    options: Mapping[str, Any],
    named: Mapping[str, inspect.Parameter],
    key: str,
    label: str,
) -> list[str]:
    """Run the component's ``validate_options`` on its options with defaults filled in."""
    check = getattr(component, "validate_options", None)
    if check is None:
        return []
    bound = {name: p.default for name, p in named.items()} | dict(options)
    try:
        check(**bound)
    except (UserError, ValueError) as error:
        return [f"{key} (for {label}): {error}"]
    return []


def type_problem(value: Any, kind: Any) -> str | None:
    """None when value fits the annotation kind, else what was expected (e.g. "expected int")."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is Literal:
        return None if value in args else f"expected one of {', '.join(map(str, args))}"
    if origin in (typing.Union, types.UnionType):
        errors = [type_problem(value, arg) for arg in args]
        return None if None in errors else " or ".join(e for e in errors if e)
    if kind is type(None):
        return None if value is None else "expected null"
    if kind is Any or isinstance(kind, (str, TypeVar)):
        return None  # unevaluated or generic: nothing to check against
    base = origin or kind
    if base is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif base is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        try:
            ok = isinstance(value, base)
        except TypeError:  # e.g. a Protocol that is not runtime-checkable
            return None
    return None if ok else f"expected {getattr(base, '__name__', base)}"
