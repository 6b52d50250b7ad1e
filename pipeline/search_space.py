"""Search spaces for ``pipeline tune``: parse, validate against the config, sample a trial.

A space file (conf/tune/*.yaml)::

    objective: {metric: val_loss, direction: minimize}   # default: the task's monitor
    sampler: {name: tpe, seed: 0}                          # tpe | random | grid
    pruner: {name: median, n_startup_trials: 3, n_warmup_steps: 1}  # median | hyperband | none
    heartbeat: {interval: 10, grace: 30}                   # seconds; stale trials are retried
    on_divergence: prune                                   # prune | fail: a NaN/inf loss's trial
    params:
      model.hidden_size: {int: [32, 1024], log: true}
      optim.lr: {float: [1.0e-4, 1.0], log: true}
      model.cell: {choice: [rnn_tanh, rnn_sigmoid, lstm, gru]}
      model.cell_options.forget_bias: {float: [0.0, 2.0], when: {model.cell: lstm}}

``when`` samples a key only in the branch that uses it (:mod:`pipeline.space_conditions`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline import config as config_module
from pipeline.config import PLUGIN_KEYS, Config, ConfigError
from pipeline.plugins import Registries
from pipeline.space_conditions import (
    Condition,
    active,
    branch_problems,
    condition_problems,
    in_sampling_order,
    parse_when,
)

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = {
    "median": ("n_startup_trials", "n_warmup_steps", "interval_steps"),
    "hyperband": ("min_resource", "max_resource", "reduction_factor"),
    "none": (),
}
SECTIONS = ("objective", "sampler", "pruner", "heartbeat", "on_divergence", "params")
ON_DIVERGENCE = ("prune", "fail")
OPEN_PREFIXES = ("model.cell_options.", "init.options.", "tokenizer.options.")
"""Keys under these prefixes are free-form options, searchable though not in the schema."""


@dataclass(frozen=True)
class Param:
    key: str
    kind: str  # int | float | choice
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    when: tuple[Condition, ...] = ()
    """Sample only in trials where each named key has one of its values."""

    def suggest(self, trial: Any) -> Any:
        """This param's value for an Optuna trial."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            low, high = self.values()
            return trial.suggest_int(self.key, low, high, step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def values(self) -> list[Any]:
        """The choices, or the bounds of a range (what validation builds configs from)."""
        if self.kind == "choice":
            return list(self.choices)
        bounds = [float(self.low or 0), float(self.high or 0)]  # set for ranges (parsed)
        return [int(b) for b in bounds] if self.kind == "int" else bounds

    def allows(self, value: Any) -> bool:
        """Whether a trial can sample value."""
        if self.kind == "choice":
            return value in self.choices
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        whole = self.kind == "float" or isinstance(value, int)
        low, high = self.values()
        return number and whole and low <= value <= high


@dataclass
class SearchSpace:
    params: list[Param]
    metric: str
    direction: str  # minimize | maximize
    sampler: dict[str, Any] = field(default_factory=lambda: {"name": "tpe", "seed": 0})
    pruner: dict[str, Any] = field(default_factory=lambda: {"name": "median"})
    heartbeat: dict[str, int] = field(default_factory=lambda: {"interval": 10, "grace": 30})
    on_divergence: str = "prune"
    """A trial whose loss becomes NaN or infinite is PRUNED (the study goes on) or FAILED."""
    text: str = ""

    fixed: dict[str, Any] = field(default_factory=dict)
    """Config values of the keys that conditions name but the space does not search."""

    def sample(self, trial: Any) -> dict[str, Any]:
        """Suggest every param whose conditions hold: ``{"model.hidden_size": 256, ...}``.

        Params are in sampling order: a searched key comes before the conditions naming it.
        """
        values: dict[str, Any] = {}
        for param in self.params:
            if active(param.when, {**self.fixed, **values}):
                values[param.key] = param.suggest(trial)
        return values

    def grid(self) -> dict[str, list[Any]]:
        """The grid sampler's search space (every param a finite list)."""
        return {
            p.key: list(p.choices)
            if p.kind == "choice"
            else list(range(int(p.low or 0), int(p.high or 0) + 1, int(p.step or 1)))
            for p in self.params
        }

    def trial_cap(self) -> int | None:
        """How many distinct trials the sampler can give: the grid's points, else no cap."""
        if self.sampler["name"] != "grid":
            return None
        return math.prod(len(values) for values in self.grid().values())


def nested(values: dict[str, Any]) -> dict[str, Any]:
    """``{"model.cell": "gru"}`` -> ``{"model": {"cell": "gru"}}`` (to merge over a config)."""
    tree: dict[str, Any] = {}
    for key, value in values.items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def load_space(path: Path, base: dict[str, Any], registries: Registries) -> SearchSpace:
    """Read and validate a space file against the base config; every problem at once."""
    if not path.is_file():
        raise ConfigError([f"--space: file {str(path)!r} does not exist"])
    try:
        text = path.read_text(encoding="utf-8")
        raw = config_module.load_yaml(text) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError([f"--space: {path} is not valid UTF-8 YAML: {error}"]) from error
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: expected a mapping with objective, sampler, pruner, params"])
    problems: list[str] = []
    unknown = raw.keys() - set(SECTIONS)
    problems += [
        f"{path}: unknown section {k!r}; allowed: {', '.join(SECTIONS)}" for k in sorted(unknown)
    ]
    cfg = config_module.build_config(base, registries)
    task = registries.tasks.get(cfg.task.name)
    params = _parse_params(raw.get("params"), cfg, registries, problems)
    metric, direction = _objective(raw.get("objective") or {}, task, problems)
    space = SearchSpace(params, metric, direction, text=text)
    space.sampler = _sampler(raw.get("sampler") or {}, space, problems)
    space.pruner = _choice_section(
        raw.get("pruner") or {"name": "median"}, "pruner", PRUNERS, problems
    )
    space.heartbeat = {"interval": 10, "grace": 30, **(raw.get("heartbeat") or {})}
    space.on_divergence = raw.get("on_divergence", "prune")
    if space.on_divergence not in ON_DIVERGENCE:
        problems.append(
            f"on_divergence: {space.on_divergence!r}; allowed: {', '.join(ON_DIVERGENCE)}"
        )
    space.params = in_sampling_order(params, problems)
    configured = config_module.flatten(config_module.to_dict(cfg))
    when_problems, space.fixed = condition_problems(params, configured)
    problems += when_problems
    _check_values_build(space, base, registries, problems)
    if problems:
        raise ConfigError(problems)
    return space


def _parse_params(
    raw: Any, cfg: Config, registries: Registries, problems: list[str]
) -> list[Param]:
    if not isinstance(raw, dict) or not raw:
        problems.append("params: give at least one KEY: {int|float|choice: ...} to search")
        return []
    known = config_module.flatten(config_module.to_dict(cfg))
    params = []
    for key, spec in raw.items():
        if key not in known and not key.startswith(OPEN_PREFIXES):
            problems.append(
                f"params.{key}: not a config key; keys look like model.hidden_size, "
                "optim.lr, model.cell, init.embedding, task.<option>"
            )
            continue
        param = _parse_param(key, spec, problems)
        if param is not None:
            _check_plugin_choices(param, registries, problems)
            params.append(param)
    return params


def _parse_param(key: str, spec: Any, problems: list[str]) -> Param | None:
    kinds = [k for k in ("int", "float", "choice") if isinstance(spec, dict) and k in spec]
    if len(kinds) != 1:
        problems.append(
            f"params.{key}: give exactly one of int: [low, high], "
            "float: [low, high] or choice: [values]"
        )
        return None
    kind, bounds = kinds[0], spec[kinds[0]]
    extra = set(spec) - {kind, "log", "step", "when"}
    if extra:
        problems.append(f"params.{key}: unknown settings {sorted(extra)}; allowed: log, step, when")
    when = parse_when(key, spec["when"], problems) if "when" in spec else ()
    if kind == "choice":
        if not isinstance(bounds, list) or not bounds:
            problems.append(f"params.{key}: choice needs a non-empty list of values")
            return None
        return Param(key, kind, choices=tuple(bounds), when=when)
    param = _range_param(key, kind, bounds, spec, problems)
    return dataclasses.replace(param, when=when) if param else None


def _range_param(
    key: str, kind: str, bounds: Any, spec: dict[str, Any], problems: list[str]
) -> Param | None:
    numbers = (
        isinstance(bounds, list)
        and len(bounds) == 2
        and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    )
    if not numbers:
        problems.append(f"params.{key}: {kind} needs [low, high] numbers, got {bounds!r}")
        return None
    low, high = bounds
    log = bool(spec.get("log", False))
    if low > high:
        problems.append(f"params.{key}: low {low} > high {high}")
    if log and low <= 0:
        problems.append(f"params.{key}: log scale needs low > 0, got {low}")
    if log and spec.get("step") is not None:
        problems.append(f"params.{key}: step and log cannot be combined")
    return Param(key, kind, low, high, log, spec.get("step"))


def _check_plugin_choices(param: Param, registries: Registries, problems: list[str]) -> None:
    kind = PLUGIN_KEYS.get(param.key)
    if kind is None or param.kind != "choice":
        return
    names = registries.by_kind()[kind].names()
    for value in param.choices:
        if value not in names:
            problems.append(
                f"params.{param.key}: {value!r} is not a registered {kind} plugin; "
                f"available: {', '.join(names)}"
            )


def _objective(raw: dict[str, Any], task: Any, problems: list[str]) -> tuple[str, str]:
    allowed = [f"val_{name}" for name in task.metric_names]
    metric = raw.get("metric", task.monitor)
    default_direction = "minimize" if task.monitor_mode == "min" else "maximize"
    direction = raw.get("direction", default_direction if metric == task.monitor else None)
    if metric not in allowed:
        problems.append(
            f"objective.metric: {metric!r} is not logged by task "
            f"{task.__name__} per epoch; allowed: {', '.join(allowed)}"
        )
    if direction not in ("minimize", "maximize"):
        problems.append(f"objective.direction: give minimize or maximize for {metric!r}")
    return metric, direction or "minimize"


def _sampler(raw: dict[str, Any], space: SearchSpace, problems: list[str]) -> dict[str, Any]:
    sampler = {"name": "tpe", "seed": 0, **raw}
    if sampler["name"] not in SAMPLERS:
        problems.append(f"sampler.name: {sampler['name']!r}; allowed: {', '.join(SAMPLERS)}")
    if sampler["name"] == "grid":
        for param in space.params:
            if param.when:
                problems.append(
                    f"params.{param.key}.when: the grid sampler samples every key in every "
                    "trial; use sampler tpe or random for conditional keys"
                )
            if param.kind == "float" or (param.kind == "int" and param.log):
                problems.append(
                    f"params.{param.key}: the grid sampler needs choice or int ranges without log"
                )
    return sampler


def _choice_section(
    raw: dict[str, Any], section: str, allowed: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    name = raw.get("name")
    if name not in allowed:
        problems.append(f"{section}.name: {name!r}; allowed: {', '.join(allowed)}")
        return dict(raw)
    extra = set(raw) - {"name", *allowed[name]}
    if extra:
        problems.append(
            f"{section}: unknown settings {sorted(extra)} for {name}; allowed: "
            f"{', '.join(allowed[name]) or 'none'}"
        )
    return dict(raw)


def _check_values_build(
    space: SearchSpace, base: dict[str, Any], registries: Registries, problems: list[str]
) -> None:
    """Each bound and choice must make a valid config (types, ranges, plugin names, options)
    in every branch where it is sampled (:func:`pipeline.space_conditions.branch_problems`)."""
    if problems:
        return

    def build(values: dict[str, Any]) -> list[str]:
        try:
            trial_config(base, values, registries)
        except ConfigError as error:
            return error.problems
        return []

    problems.extend(branch_problems(space.params, build))


def trial_config(base: dict[str, Any], values: dict[str, Any], registries: Registries) -> Config:
    """The config of one trial: the base config with the trial's sampled values laid over it."""
    return config_module.build_config(config_module.deep_merge(base, nested(values)), registries)
