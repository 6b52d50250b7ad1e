"""Runs on disk and in the store: opening, resuming, fetching files, loading a trained model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from pipeline import config as config_module
from pipeline.checkpoints import check_run_id, confined_run_dir, verified_checkpoint
from pipeline.components import Components
from pipeline.config import Config
from pipeline.interfaces import Task
from pipeline.plugins import Registries
from pipeline.tracking import STORE_DIR, Tracker, git_commit


def local_dir(run_id: str) -> Path:
    """Local files of a run: mlruns/local/RUN_ID/{checkpoints,inputs,downloaded}.

    Refused for a name that is not one plain folder name or resolves outside mlruns/local.
    """
    return confined_run_dir(Path.cwd() / STORE_DIR / "local", run_id)


def checkpoint_dir(run_id: str) -> Path:
    """Where Lightning writes the run's best.ckpt and last.ckpt."""
    return local_dir(run_id) / "checkpoints"


def run_name(cfg: Config) -> str:
    """Default run name, e.g. ``language_model-lstm-2x200``."""
    model = cfg.model
    direction = "-bi" if model.bidirectional else ""
    return f"{cfg.task.name}-{model.cell}{direction}-{model.num_layers}x{model.hidden_size}"


def run_tags(cfg: Config, registries: Registries) -> dict[str, str]:
    """Task, cell, the distribution and version of every plugin the run uses, git commit."""
    used = {
        "tasks": [cfg.task.name],
        "cells": [cfg.model.cell],
        "initializers": [getattr(cfg.init, g) for g in config_module.INIT_GROUPS],
    }
    tags = {"task": cfg.task.name, "cell": cfg.model.cell}
    for kind, names in used.items():
        registry = registries.by_kind()[kind]
        for name in names:
            record = registry.records[name]
            tags[f"plugin.{kind}.{name}"] = f"{record.dist} {record.version}"
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def open_run(
    tracker: Tracker,
    cfg: Config,
    registries: Registries,
    resume: str | None,
    tags: dict[str, str] | None = None,
) -> str:
    """A new run for cfg, or the run to resume (set RUNNING again), returning its id."""
    if resume:
        tracker.get_run(resume)
        tracker.reopen(resume)
        return resume
    all_tags = {**run_tags(cfg, registries), **(tags or {})}
    return tracker.create_run(
        cfg.tracking.experiment, cfg.tracking.run_name or run_name(cfg), all_tags
    )


def fetch_run_files(tracker: Tracker, run_id: str, artifact_path: str) -> Path:
    """A run artifact as a local path: staged copy when present, else downloaded."""
    staged = local_dir(run_id) / "inputs" / artifact_path
    if staged.exists():
        return staged
    destination = local_dir(run_id) / "downloaded"
    destination.mkdir(parents=True, exist_ok=True)
    return tracker.download(run_id, artifact_path, destination)


def resume_checkpoint(tracker: Tracker, run_id: str, directory: Path) -> str:
    """Path of the run's last checkpoint (local, else its logged copy), verified (checksum,
    tensors and plain data only) before Lightning gets it."""
    path, _ = verified_checkpoint(
        tracker, run_id, directory / "last.ckpt", local_dir(run_id) / "downloaded"
    )
    return str(path)


@dataclass
class TrainedRun:
    """A finished run brought back: its config, task (with artifacts) and trained network."""

    run_id: str
    cfg: Config
    task: Task
    network: nn.Module


def load_trained(tracker: Tracker, run_id: str, registries: Registries) -> TrainedRun:
    """Rebuild run_id's network from its logged config and task files, with its best weights."""
    tracker.get_run(check_run_id(run_id))  # before any path is built from it
    config_path = fetch_run_files(tracker, run_id, "config.yaml")
    raw = config_module.load_yaml(config_path.read_text(encoding="utf-8"))
    cfg = config_module.build_config(raw, registries)
    task = registries.tasks.get(cfg.task.name)(cfg)
    task.load_artifacts(fetch_run_files(tracker, run_id, "task"))
    network = task.build_network(Components(cfg.model, registries.cells))
    network.load_state_dict(_network_weights(tracker, run_id))
    network.eval()
    return TrainedRun(run_id, cfg, task, network)


def best_checkpoint(tracker: Tracker, run_id: str) -> Path:
    """The run's best checkpoint, verified (local when usable, else its logged copy)."""
    return _best(tracker, run_id)[0]


def _network_weights(tracker: Tracker, run_id: str) -> dict[str, Any]:
    """The network's tensors from the run's best checkpoint (loaded with weights_only=True)."""
    prefix = "network."
    return {
        k.removeprefix(prefix): v
        for k, v in _best(tracker, run_id)[1]["state_dict"].items()
        if k.startswith(prefix)
    }


def _best(tracker: Tracker, run_id: str) -> tuple[Path, dict[str, Any]]:
    local = checkpoint_dir(run_id) / "best.ckpt"
    return verified_checkpoint(tracker, run_id, local, local_dir(run_id) / "downloaded")
