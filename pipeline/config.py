"""Typed run configuration: YAML files, dotted overrides, validation that names the bad key.

A config file may start with ``extends: other.yaml`` (relative to the file); values are merged
over the schema defaults below, then over the extended file, then command-line overrides
``model.cell=gru``. Every problem is collected and reported at once, before any data is read.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from pipeline.component_options import INIT_GROUPS as INIT_GROUPS  # re-exported
from pipeline.component_options import component_problems, type_problem
from pipeline.errors import UserError
from pipeline.plugins import PluginError, Registries, unknown_name_message


class ConfigError(UserError, ValueError):
    """One or more config problems, each naming the key and what is allowed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid config:\n" + "\n".join(f"  - {p}" for p in problems))


def _range(low: float | None = None, high: float | None = None) -> dict[str, Any]:
    return {"min": low, "max": high}


@dataclass
class TaskConfig:
    name: str = "language_model"
    options: Any = None
    """The task's own ``Options`` dataclass; its fields are the ``task.<option>`` keys."""


@dataclass
class DataConfig:
    name: str | None = None
    """Hugging Face dataset name (or a local dataset directory) instead of files."""
    config: str | None = None
    text_column: str = "text"
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    encoding: str = "utf-8"
    encodings: dict[str, str] = field(default_factory=dict)
    """Per-split encodings over ``encoding``, e.g. ``{validation: latin-1}``."""
    validation_fraction: float = field(default=0.1, metadata=_range(0.0, 0.5))
    test_fraction: float = field(default=0.1, metadata=_range(0.0, 0.5))
    batch_size: int = field(default=20, metadata=_range(1))
    eval_batch_size: int = field(default=10, metadata=_range(1))
    num_workers: int = field(default=0, metadata=_range(0))
    cache_dir: str = ".cache/rnn-pipeline"


@dataclass
class TokenizerConfig:
    kind: str = "word"
    """A plugin of ``rnn_pipeline.tokenizers``: word, sentencepiece or a plugin's."""
    vocab_size: int = field(default=10000, metadata=_range(4))
    min_frequency: int = field(default=1, metadata=_range(1))
    lowercase: bool = False
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = field(default=1.0, metadata=_range(0.9, 1.0))
    options: dict[str, Any] = field(default_factory=dict)
    """The chosen tokenizer's own options (e.g. a vocabulary file of a plugin's)."""


@dataclass
class ModelConfig:
    cell: str = "lstm"
    cell_options: dict[str, Any] = field(default_factory=dict)
    embedding_size: int = field(default=200, metadata=_range(1))
    hidden_size: int = field(default=200, metadata=_range(1))
    num_layers: int = field(default=2, metadata=_range(1, 16))
    bidirectional: bool = False
    dropout: float = field(default=0.2, metadata=_range(0.0, 0.99))
    runner: Literal["auto", "fused", "compiled", "eager"] = "auto"
    """auto: torch's fused kernels when the cell offers them, else the torch.compile'd loop."""


@dataclass
class InitConfig:
    embedding: str = "uniform"
    input: str = "xavier_uniform"
    recurrent: str = "orthogonal"
    bias: str = "zeros"
    output: str = "xavier_uniform"
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per group options, e.g. ``{embedding: {a: -0.05, b: 0.05}}``."""


@dataclass
class OptimConfig:
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = field(default=1.0, metadata=_range(1e-12))
    weight_decay: float = field(default=0.0, metadata=_range(0.0))
    momentum: float = field(default=0.0, metadata=_range(0.0, 1.0))
    schedule: Literal["none", "step", "plateau"] = "none"
    decay_factor: float = field(default=0.25, metadata=_range(1e-6, 1.0))
    """step: lr is multiplied by it every epoch from decay_start_epoch; plateau: on a plateau."""
    decay_start_epoch: int = field(default=1, metadata=_range(0))
    plateau_patience: int = field(default=0, metadata=_range(0))


@dataclass
class TrainerConfig:
    max_epochs: int = field(default=10, metadata=_range(1))
    max_minutes: float | None = field(default=None, metadata=_range(0.001))
    """A wall-clock budget of training: it stops after the batch that exceeds it, then the best
    checkpoint is tested as after the last epoch (Lightning's max_time; None: no budget)."""
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = field(default=1, metadata=_range(1))
    strategy: str = "auto"
    precision: str = "32-true"
    gradient_clip_val: float = field(default=0.25, metadata=_range(0.0))
    early_stopping_patience: int = field(default=3, metadata=_range(0))
    """Epochs without improvement of the task's monitored metric; 0 disables."""
    limit_train_batches: int | float = field(default=1.0, metadata=_range(0.0))
    limit_val_batches: int | float = field(default=1.0, metadata=_range(0.0))
    """Lightning's meaning: a float is a fraction (1.0 = all), an int that many batches."""
    log_every_n_steps: int = field(default=50, metadata=_range(1))
    progress_bar: bool = True
    threads: int = field(default=0, metadata=_range(0))
    """torch threads per process; 0 keeps torch's default (DDP on CPU: 1 each)."""
    float32_matmul_precision: Literal["highest", "high", "medium"] = "highest"
    """torch.set_float32_matmul_precision: "high" lets GPUs use TF32 tensor cores (faster,
    about 1e-3 relative error in float32 matrix products)."""


@dataclass
class TrackingConfig:
    uri: str | None = None
    """MLflow tracking URI; default MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db."""
    experiment: str = "rnn-pipeline"
    run_name: str | None = None
    study_experiment: str | None = None
    """Experiment of `pipeline tune`'s parent and trial runs; default: ``experiment``."""


@dataclass
class DiagnosticsConfig:
    gradient_flow: bool = False
    """Measure dL/dh_t per time step, gradient norms per parameter group and saturated units
    (``pipeline.diagnostics``), logged per epoch as metrics and a heatmap artifact."""
    every_n_batches: int = field(default=10, metadata=_range(1))
    """Training batches between two measurements (the first batch of an epoch is always one)."""


@dataclass
class Config:
    seed: int = 42
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)


MOVED_KEYS = {"data.label_column": "task.label_column (an option of the classification task)"}
"""Keys that moved: an old config naming one gets an error naming the new key."""

PLUGIN_KEYS = {"model.cell": "cells", "task.name": "tasks", "tokenizer.kind": "tokenizers"} | {
    f"init.{group}": "initializers" for group in INIT_GROUPS
}


# ----------------------------------------------------------------------------- reading


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float (PyYAML follows YAML 1.1 and reads a string)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text with the project's loader (safe, exponent floats)."""
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 (a SafeLoader subclass)


def read_yaml(path: Path, _seen: frozenset[Path] = frozenset()) -> dict[str, Any]:
    """A config file as a dict, following ``extends:`` chains (relative to each file)."""
    if path.resolve() in _seen:
        raise ConfigError([f"{path}: extends cycle through {', '.join(map(str, _seen))}"])
    if not path.is_file():
        raise ConfigError([f"config file {str(path)!r} does not exist"])
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: not valid UTF-8 YAML: {error}"]) from error
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of keys"])
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError([f"{path}: extends must be a file path, got {parent!r}"])
    return deep_merge(read_yaml(path.parent / parent, _seen | {path.resolve()}), raw)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """base with update's values laid over it, recursively for nested mappings."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and value and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["model.cell=gru", "optim.lr=0.5"]`` -> nested dict with YAML-typed values."""
    nested: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError([f"override {item!r} is not KEY=VALUE (e.g. model.cell=gru)"])
        node = nested
        *parents, leaf = key.strip().split(".")
        for depth, part in enumerate(parents, 1):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                above = ".".join(parents[:depth])
                raise ConfigError([f"override {item!r}: {above} was already set to a value"])
        node[leaf] = _override_value(item, text)
    return nested


def _override_value(item: str, text: str) -> Any:
    """The YAML value of one override's text (None when blank)."""
    if not text.strip():
        return None
    try:
        return load_yaml(text)
    except yaml.YAMLError as error:
        problem = str(error).splitlines()[0]
        raise ConfigError([f"override {item!r}: the value is not valid YAML ({problem})"]) from None


def load_config(
    path: str | Path | None,
    overrides: list[str] | None = None,
    registries: Registries | None = None,
) -> Config:
    """Read, merge and validate a config; raises ConfigError listing every problem."""
    raw = read_yaml(Path(path)) if path else {}
    raw = deep_merge(raw, parse_overrides(overrides or []))
    return build_config(raw, registries)


# ----------------------------------------------------------------------------- validation


def build_config(raw: dict[str, Any], registries: Registries | None = None) -> Config:
    """Typed Config from a nested dict; checks types, ranges, keys and plugin names."""
    problems: list[str] = []
    if raw.get("task") is not None and not isinstance(raw["task"], dict):
        problems.append(f"task: expected a mapping, got {raw['task']!r}")
    task_raw = dict(raw.get("task") or {}) if isinstance(raw.get("task"), dict) else {}
    task_name = task_raw.pop("name", TaskConfig.name)
    raw = {**raw, "task": {"name": task_name}}
    cfg = _build(Config, raw, "", problems)
    task_class = _task_class(task_name, registries, problems)
    if task_class is not None:
        cfg.task.options = _build(task_class.Options, task_raw, "task.", problems)
    if registries is not None:
        _check_plugins(cfg, registries, problems)
        problems.extend(component_problems(cfg, registries))
    if task_class is not None and cfg.task.options is not None:
        problems.extend(task_class.config_problems(cfg))
    _check_init_options(cfg, problems)
    if problems:
        raise ConfigError(problems)
    return cast(Config, cfg)


def _task_class(name: Any, registries: Registries | None, problems: list[str]) -> Any:
    if registries is None or not isinstance(name, str):
        return None
    try:
        return registries.tasks.get(name)
    except PluginError as error:
        problems.append(f"task.name: {error}")
        return None


def _build(cls: type, raw: Any, prefix: str, problems: list[str]) -> Any:
    """Instance of dataclass cls from raw, appending problems instead of raising."""
    if not isinstance(raw, dict):
        problems.append(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {raw!r}")
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw.keys() - fields.keys():
        if (moved := MOVED_KEYS.get(f"{prefix}{key}")) is not None:
            problems.append(f"{prefix}{key}: moved to {moved}; set that key instead")
            continue
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f"; did you mean {prefix}{close[0]}?" if close else "."
        section = prefix.rstrip(".") or "the top level"
        problems.append(
            f"{prefix}{key}: unknown key{hint} Allowed under {section}: {', '.join(sorted(fields))}"
        )
    values = {}
    for name, spec in fields.items():
        if name not in raw:
            continue
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            values[name] = _build(cast(type, kind), raw[name], f"{prefix}{name}.", problems)
        elif name == "options" and cls is TaskConfig:
            continue
        else:
            values[name] = _check_value(f"{prefix}{name}", raw[name], kind, spec, problems)
    return cls(**values)


def _check_value(
    key: str, value: Any, kind: Any, spec: dataclasses.Field[Any], problems: list[str]
) -> Any:
    error = type_problem(value, kind)
    if error:
        problems.append(f"{key}: {error}, got {value!r}")
        if spec.default is not dataclasses.MISSING:
            return spec.default
        return spec.default_factory()  # type: ignore[operator]  # every field has one of the two
    low, high = spec.metadata.get("min"), spec.metadata.get("max")
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric and ((low is not None and value < low) or (high is not None and value > high)):
        problems.append(f"{key}: {value!r} is out of range [{low}, {high}]")
    return float(value) if kind is float and isinstance(value, int) else value


def _check_plugins(cfg: Config, registries: Registries, problems: list[str]) -> None:
    kinds = registries.by_kind()
    for key, kind in PLUGIN_KEYS.items():
        if key == "task.name":
            continue  # already loaded to read its Options
        name = get_key(cfg, key)
        if name not in kinds[kind].names():
            problems.append(f"{key}: {unknown_name_message(kind, name, kinds[kind].names())}")


def _check_init_options(cfg: Config, problems: list[str]) -> None:
    for group, options in cfg.init.options.items():
        if group not in INIT_GROUPS:
            problems.append(
                f"init.options.{group}: unknown group; allowed: {', '.join(INIT_GROUPS)}"
            )
        elif not isinstance(options, dict):  # raw YAML: the annotation is not checked yet
            problems.append(  # type: ignore[unreachable]
                f"init.options.{group}: expected a mapping of option: value"
            )


# ----------------------------------------------------------------------------- output


def to_dict(cfg: Config) -> dict[str, Any]:
    """Nested plain dict of cfg; task options sit beside ``task.name`` as in the YAML."""
    data = dataclasses.asdict(dataclasses.replace(cfg, task=TaskConfig(cfg.task.name)))
    options = cfg.task.options
    data["task"] = {"name": cfg.task.name, **(dataclasses.asdict(options) if options else {})}
    return data


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"cell": "lstm"}}`` -> ``{"model.cell": "lstm"}`` (stable dotted names)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def get_key(cfg: Config, dotted: str) -> Any:
    """Value of a dotted key such as ``model.hidden_size`` (task options included)."""
    return flatten(to_dict(cfg))[dotted]


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)
