"""Use a trained run: evaluate it on a split, predict from raw text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L

from pipeline.model import PipelineModule
from pipeline.plugins import Registries, default_registries
from pipeline.runs import TrainedRun, load_trained
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
    trained.task.prepare_data(Path(trained.cfg.data.cache_dir))
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


def predict(
    run_id: str,
    texts: Sequence[str],
    tracking_uri: str | None = None,
    registries: Registries | None = None,
    **options: Any,
) -> tuple[TrainedRun, list[dict[str, Any]]]:
    """The task's predictions for texts (options such as top_k pass through to the task)."""
    trained = load(run_id, tracking_uri, registries)
    return trained, trained.task.predict(trained.network, texts, **options)
