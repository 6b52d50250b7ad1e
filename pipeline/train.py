"""``train(cfg) -> TrainResult``: the one training path of the CLI and of tuning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from pipeline import config as config_module
from pipeline.checkpoints import log_checkpoint
from pipeline.components import Components
from pipeline.config import Config
from pipeline.initialization import initialize
from pipeline.interfaces import DataFacts, Task
from pipeline.model import PipelineModule
from pipeline.plots import learning_curve
from pipeline.plugins import Registries, default_registries
from pipeline.preflight import preflight
from pipeline.resume import check_resume
from pipeline.runs import OwnedRun, fetch_run_files, local_dir, owned_run
from pipeline.tracking import Tracker
from pipeline.trainer import build_trainer, fit, set_up_process, tested_metrics


@dataclass
class TrainResult:
    run_id: str
    tracking_uri: str
    metrics: dict[str, float]
    checkpoint: str | None
    owner: bool = True
    """False in DDP ranks other than 0: they trained in rank 0's run, which reports it."""


def train(
    cfg: Config,
    *,
    registries: Registries | None = None,
    resume: str | None = None,
    callbacks: Sequence[Callback] = (),
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> TrainResult:
    """Train cfg's task, log everything to one MLflow run, test the best checkpoint.

    ``tags`` and ``params`` are added to the run's own (tuning nests trials this way).
    ``resume`` continues that run from its last usable checkpoint (:mod:`pipeline.resume`).
    """
    registries = registries or default_registries()
    preflight(cfg)
    task = registries.tasks.get(cfg.task.name)(cfg)
    tracker = Tracker(cfg.tracking.uri)
    # Checked before the run is reopened: a refused resume leaves it as it was.
    last = check_resume(tracker, cfg, registries, resume) if resume else None
    with owned_run(tracker, cfg, registries, resume=resume, tags=tags) as run:
        set_up_process(cfg)
        if run.resumed:
            task.load_artifacts(fetch_run_files(tracker, run.run_id, "task"))
        facts = task.prepare_data(Path(cfg.data.cache_dir))
        network = task.build_network(
            Components(cfg.model, registries.cells, registries.image_encoders)
        )
        init_facts = initialize(
            network, cfg.init, registries.initializers, cfg.seed, task.vocabulary()
        )
        if run.owner and not run.resumed:
            _log_inputs(run, cfg, task, facts, {**init_facts, **(params or {})}, network)
        module = PipelineModule(task, network, cfg.optim)
        trainer, best = build_trainer(cfg, task, run, callbacks)
        fit(trainer, module, str(last) if last else None)
        metrics, best_path = tested_metrics(trainer, module, best, task.monitor)
        if run.owner:
            _log_outputs(run, task, network, best_path, metrics)
    return TrainResult(run.run_id, tracker.uri, metrics, best_path, run.owner)


def _log_inputs(
    run: OwnedRun,
    cfg: Config,
    task: Task,
    facts: DataFacts,
    extra: dict[str, Any],
    network: torch.nn.Module,
) -> None:
    """Params (flattened config, data sizes, init facts, parameter count) and input artifacts."""
    params = config_module.flatten(config_module.to_dict(cfg))
    if not task.uses_tokenizer:  # the section does not apply: logging it would mislead
        params = {k: v for k, v in params.items() if not k.startswith("tokenizer.")}
    params.update({f"data.size.{k}": v for k, v in facts.sizes.items()})
    params.update(facts.extra)
    params.update(extra)
    params["model.trainable_parameters"] = sum(
        p.numel() for p in network.parameters() if p.requires_grad
    )
    run.tracker.log_params(run.run_id, params)
    staging = local_dir(run.run_id) / "inputs"
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "config.yaml").write_text(config_module.dump_yaml(cfg), encoding="utf-8")
    task.save_artifacts(staging / "task")
    run.tracker.log_artifact(run.run_id, staging / "config.yaml")
    run.tracker.log_artifact(run.run_id, staging / "task", "task")


def _log_outputs(
    run: OwnedRun,
    task: Task,
    network: torch.nn.Module,
    best: str | None,
    metrics: dict[str, float],
) -> None:
    """Best metrics, checkpoints, the learning curve and the task's reports as artifacts."""
    tracker, run_id = run.tracker, run.run_id
    tracker.log_metrics(run_id, {k: v for k, v in metrics.items() if k.startswith("best_")})
    for path in (Path(best) if best else None, run.checkpoints / "last.ckpt"):
        if path is not None and path.is_file():
            log_checkpoint(tracker, run_id, path)
    curve = learning_curve(
        tracker, run_id, list(task.metric_names), local_dir(run_id) / "learning_curve.png"
    )
    tracker.log_artifact(run_id, curve)  # at the root: the compare view shows it
    reports = local_dir(run_id) / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    task.write_reports(network.eval(), reports)
    if any(reports.iterdir()):
        tracker.log_artifact(run_id, reports, "reports")
