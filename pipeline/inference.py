"""Use a trained run: evaluate it on a split, predict from raw text."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L

from pipeline.checkpoints import check_run_id
from pipeline.interfaces import Task
from pipeline.model import PipelineModule
from pipeline.plugins import Registries, default_registries
from pipeline.predict_options import predict_options
from pipeline.runs import TrainedRun, load_trained, logged_config
from pipeline.tracking import Tracker


def load(
    run_id: str, tracking_uri: str | None = None, registries: Registries | None = None
) -> TrainedRun:
    return load_trained(Tracker(tracking_uri), run_id, registries or default_registries())


def evaluate(
    run_id: str,
    split: str = "test",
    tracking_uri: str | None = None,
    registries: Registries | None = None,
) -> dict[str, float]:
    """The task's metrics of the run's best weights on split (``val`` or ``test``)."""
    trained = load(run_id, tracking_uri, registries)
    cache = Path(trained.cfg.data.cache_dir).expanduser()
    if writable(cache):
        trained.task.prepare_data(cache)
    else:  # e.g. a relative cache_dir in a read-only folder: encode the data in a scratch one
        with tempfile.TemporaryDirectory(prefix="rnn-pipeline-cache-") as scratch:
            trained.task.prepare_data(Path(scratch))
    module = PipelineModule(trained.task, trained.network, trained.cfg.optim)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    run = trainer.test if split == "test" else trainer.validate
    results = run(module, verbose=False)
    return {key: float(value) for key, value in results[0].items()}


def writable(folder: Path) -> bool:
    """Whether folder, or its nearest existing parent that would hold it, can be written."""
    existing = next(p for p in [folder, *folder.resolve().parents] if p.exists())
    return os.access(existing, os.W_OK)


def predict(
    run_id: str,
    texts: Sequence[str],
    tracking_uri: str | None = None,
    registries: Registries | None = None,
    **options: Any,
) -> tuple[TrainedRun, list[dict[str, Any]]]:
    """The task's predictions for texts; options (e.g. top_k) are checked against the task's
    ``PredictOptions`` and passed to ``Task.predict`` with the defaults of the others."""
    trained = load(run_id, tracking_uri, registries)
    checked = predict_options(type(trained.task), options)
    return trained, trained.task.predict(trained.network, texts, **checked)


def run_task_class(
    run_id: str, tracking_uri: str | None = None, registries: Registries | None = None
) -> type[Task]:
    """The task class of a run, from its logged config (no weights loaded)."""
    registries = registries or default_registries()
    tracker = Tracker(tracking_uri)
    tracker.get_run(check_run_id(run_id))
    with tempfile.TemporaryDirectory(prefix="rnn-pipeline-run-") as downloads:
        cfg = logged_config(tracker, run_id, registries, Path(downloads))
    task_class: type[Task] = registries.tasks.get(cfg.task.name)
    return task_class
