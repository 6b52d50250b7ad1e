"""Runs on disk and in the store: who owns a run, opening, resuming, fetching files, loading.

Run ownership under DDP: rank 0 (or the only process) opens the MLflow run, hands its id to
the ranks Lightning launches through ``RNN_PIPELINE_RUN_ID`` and to ranks started by torchrun,
SLURM or another node by broadcast (PITFALLS: only rank 0 has the logger's run id), and ends it
FINISHED, KILLED or FAILED. Every rank logs nothing but through rank 0.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from torch import nn

from pipeline import config as config_module
from pipeline.checkpoints import (
    check_run_id,
    confined_run_dir,
    log_checkpoint,
    run_folder_lock,
    verified_checkpoint,
)
from pipeline.component_options import configured_image_encoder
from pipeline.components import Components
from pipeline.config import Config
from pipeline.heartbeat import heartbeat_tags, run_heartbeat, run_interval
from pipeline.interfaces import Task
from pipeline.logger import RunLogger
from pipeline.plugins import Registries
from pipeline.tracking import STORE_DIR, Tracker, final_status, git_commit

RUN_ID_ENV = "RNN_PIPELINE_RUN_ID"
"""Set by rank 0 before Lightning launches the other DDP ranks, so they share its run."""

RANK_ENVS = ("RANK", "GROUP_RANK", "NODE_RANK", "LOCAL_RANK", "SLURM_PROCID")
"""Set by torchrun, SLURM or a per-node launch (multi-node DDP) before the process starts."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # stop a training cleanly: run KILLED


@dataclass
class OwnedRun:
    """The MLflow run this process trains in, as ``owned_run`` hands it out."""

    tracker: Tracker
    run_id: str
    """Empty in a rank an external launcher started, until ``ShareRunId`` receives rank 0's."""
    owner: bool
    """True in the process that opened the run and logs its files (rank 0); False elsewhere."""
    resumed: bool

    @property
    def checkpoints(self) -> Path:
        return checkpoint_dir(self.run_id)


@contextmanager
def owned_run(
    tracker: Tracker,
    cfg: Config,
    registries: Registries,
    *,
    resume: str | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[OwnedRun]:
    """The run to train in, from opening (or reopening, to resume) to its final status.

    Rank 0 opens it, records its heartbeat while it runs (:mod:`pipeline.heartbeat`) and, on
    leaving, ends it FINISHED, KILLED (Ctrl-C, SIGTERM; its last checkpoint logged for
    ``--resume``) or FAILED (the error as a tag). Other ranks get its id and leave its status
    alone. In every rank SIGINT and SIGTERM raise KeyboardInterrupt inside.
    """
    if is_launched_rank():
        inherited = os.environ.get(RUN_ID_ENV)
        # A rank started by torchrun/SLURM/another node inherits nothing: ShareRunId
        # broadcasts rank 0's id once the process group exists.
        with _signals_as_interrupt():
            yield OwnedRun(tracker, inherited or resume or "", False, bool(resume))
        return
    interval = run_interval()
    with ExitStack() as stack:  # left in reverse: checkpoint, signals, beats, status, env, lock
        # The run folder's lock: one process at a time writes a run's checkpoints. Taken
        # before a resumed run is reopened, so one still training elsewhere is left untouched.
        if resume:
            tracker.get_run(check_run_id(resume))  # it exists, before a folder is made for it
            stack.enter_context(run_folder_lock(checkpoint_dir(resume)))
        beat = heartbeat_tags(interval)  # a new run is born beating: never stale at birth
        run_id = open_run(tracker, cfg, registries, resume, {**(tags or {}), **beat})
        if resume:
            tracker.set_tags(run_id, beat)
        else:
            stack.enter_context(run_folder_lock(checkpoint_dir(run_id)))
        run = OwnedRun(tracker, run_id, True, bool(resume))
        os.environ[RUN_ID_ENV] = run.run_id
        stack.callback(os.environ.pop, RUN_ID_ENV, None)
        stack.enter_context(final_status(tracker, run.run_id))
        stack.enter_context(run_heartbeat(tracker, run.run_id, interval))  # stops before that
        stack.enter_context(_signals_as_interrupt())
        stack.enter_context(_log_last_checkpoint_on_interrupt(run))
        yield run


def is_launched_rank() -> bool:
    """True in a DDP rank other than 0: launched by rank 0 (it set RUN_ID_ENV) or by torchrun,
    SLURM or another node. Such a rank trains in rank 0's run and leaves the store alone."""
    return bool(os.environ.get(RUN_ID_ENV)) or started_as_nonzero_rank()


def started_as_nonzero_rank() -> bool:
    """True in a process that an external launcher started as a DDP rank other than 0."""
    return any(os.environ.get(name, "0").strip() not in ("", "0") for name in RANK_ENVS)


class ShareRunId(Callback):
    """Every rank gets rank 0's run id once the process group exists (a no-op on one device).

    Lightning broadcasts ModelCheckpoint's dirpath from rank 0 the same way, so checkpoints
    land in rank 0's run folder.
    """

    def __init__(self, run: OwnedRun, logger: RunLogger) -> None:
        self.run, self.logger = run, logger

    def setup(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        run_id = trainer.strategy.broadcast(self.run.run_id, src=0)
        self.run.run_id = self.logger.run_id = run_id


@contextmanager
def _log_last_checkpoint_on_interrupt(run: OwnedRun) -> Iterator[None]:
    """On Ctrl-C, log the last checkpoint Lightning saved, so the run can be resumed anywhere."""
    try:
        yield
    except KeyboardInterrupt:
        last = run.checkpoints / "last.ckpt"
        if last.is_file():
            log_checkpoint(run.tracker, run.run_id, last)
        raise


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt, so the run ends KILLED, not RUNNING.

    SIGINT too: a process started as a background job of a non-interactive shell (scripts,
    CI) inherits SIGINT ignored, and Python then never installs its Ctrl-C handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def local_dir(run_id: str) -> Path:
    """Local files of a run: mlruns/local/RUN_ID/{checkpoints,inputs,downloaded}.

    Refused for a name that is not one plain folder name or resolves outside mlruns/local.
    """
    return confined_run_dir(Path.cwd() / STORE_DIR / "local", run_id)


def checkpoint_dir(run_id: str) -> Path:
    """Where Lightning writes the run's best.ckpt and last.ckpt."""
    return local_dir(run_id) / "checkpoints"


def run_name(cfg: Config) -> str:
    """Default run name, short and telling runs apart in the UI's table: ``gru-1x128-lr5e-3``.

    The task and everything else are params and tags; the name holds what varies most.
    """
    from pipeline.run_notes import short_number

    model = cfg.model
    shape = f"{model.num_layers}x{model.hidden_size}"
    direction = "-bi" if model.bidirectional else ""
    return f"{model.cell}{direction}-{shape}-lr{short_number(cfg.optim.lr)}"


def run_tags(cfg: Config, registries: Registries) -> dict[str, str]:
    """Task, cell, the distribution and version of every plugin the run uses, git commit."""
    used = {
        "tasks": [cfg.task.name],
        "cells": [cfg.model.cell],
        "initializers": [getattr(cfg.init, g) for g in config_module.INIT_GROUPS],
        "tokenizers": [cfg.tokenizer.kind],
        "image_encoders": [encoder[0]] if (encoder := configured_image_encoder(cfg)) else [],
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
    network = task.build_network(
        Components(cfg.model, registries.cells, registries.image_encoders, restoring=True)
    )
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
