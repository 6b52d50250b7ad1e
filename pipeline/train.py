"""``train(cfg) -> TrainResult``: the one training path of the CLI and of tuning."""

from __future__ import annotations

import logging
import os
import signal
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
)

from pipeline import config as config_module
from pipeline.atomic_checkpoint_io import AtomicCheckpointIO
from pipeline.checkpoints import check_run_id, log_checkpoint, run_folder_lock
from pipeline.components import Components
from pipeline.config import Config
from pipeline.initialization import initialize
from pipeline.interfaces import Task
from pipeline.logger import RunLogger
from pipeline.model import PipelineModule
from pipeline.plots import learning_curve
from pipeline.plugins import Registries, default_registries
from pipeline.runs import checkpoint_dir, fetch_run_files, local_dir, open_run, resume_checkpoint
from pipeline.tracking import Tracker, final_status

RUN_ID_ENV = "RNN_PIPELINE_RUN_ID"
"""Set by rank 0 before Lightning launches the other DDP ranks, so they share its run."""

RANK_ENVS = ("RANK", "GROUP_RANK", "NODE_RANK", "LOCAL_RANK", "SLURM_PROCID")
"""Set by torchrun, SLURM or a per-node launch (multi-node DDP) before the process starts."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # stop a training cleanly: run KILLED


@dataclass
class TrainResult:
    run_id: str
    tracking_uri: str
    metrics: dict[str, float]
    checkpoint: str | None


@dataclass
class RunSetup:
    """Everything one training run is made of, resolved before it starts."""

    cfg: Config
    task: Task
    components: Components
    registries: Registries
    tracker: Tracker
    run_id: str
    owner: bool
    """False in DDP ranks other than 0: they train but do not log the run's files."""
    resume: str | None = None
    callbacks: Sequence[Callback] = ()
    params: dict[str, Any] = field(default_factory=dict)


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
    """
    registries = registries or default_registries()
    task = registries.tasks.get(cfg.task.name)(cfg)
    components = Components(cfg.model, registries.cells)
    tracker = Tracker(cfg.tracking.uri)
    inherited = os.environ.get(RUN_ID_ENV)  # set: this is a DDP rank that rank 0 launched
    # A rank > 0 started by torchrun/SLURM/another node inherits nothing: it opens no run and
    # gets rank 0's id by broadcast once the process group exists (ShareRunId); "" until then.
    follower = bool(inherited) or started_as_nonzero_rank()
    # The run folder's lock: one process at a time writes a run's checkpoints. Taken before a
    # resumed run is reopened, so that one still training elsewhere is left untouched.
    held = ExitStack()
    if resume and not follower:
        tracker.get_run(check_run_id(resume))  # it exists, before a folder is made for it
        held.enter_context(run_folder_lock(checkpoint_dir(resume)))
    run_id = (
        (inherited or resume or "")
        if follower
        else open_run(tracker, cfg, registries, resume, tags)
    )
    if not resume and not follower:
        held.enter_context(run_folder_lock(checkpoint_dir(run_id)))
    setup = RunSetup(
        cfg,
        task,
        components,
        registries,
        tracker,
        run_id,
        not follower,
        resume,
        callbacks,
        params or {},
    )
    if not follower:
        os.environ[RUN_ID_ENV] = run_id
    status = nullcontext() if follower else final_status(tracker, run_id)
    on_interrupt = nullcontext() if follower else _log_last_checkpoint_on_interrupt(tracker, run_id)
    try:
        with held, status, _signals_as_interrupt(), on_interrupt:
            metrics, checkpoint = _train_run(setup)
    finally:
        if not inherited:
            os.environ.pop(RUN_ID_ENV, None)
    return TrainResult(setup.run_id, tracker.uri, metrics, checkpoint)


def started_as_nonzero_rank() -> bool:
    """True in a process that an external launcher started as a DDP rank other than 0."""
    return any(os.environ.get(name, "0").strip() not in ("", "0") for name in RANK_ENVS)


def _train_run(run: RunSetup) -> tuple[dict[str, float], str | None]:
    cfg, task, tracker = run.cfg, run.task, run.tracker
    _set_threads(cfg.trainer.threads)
    torch.set_float32_matmul_precision(cfg.trainer.float32_matmul_precision)
    _quiet_lightning()
    L.seed_everything(cfg.seed, verbose=False)
    if run.resume:
        task.load_artifacts(fetch_run_files(tracker, run.run_id, "task"))
    facts = task.prepare_data(Path(cfg.data.cache_dir))
    network = task.build_network(run.components)
    init_facts = initialize(
        network, cfg.init, run.registries.initializers, cfg.seed, task.vocabulary()
    )
    if run.owner and not run.resume:
        _log_run_inputs(run, facts, {**init_facts, **run.params}, network)
    module = PipelineModule(task, network, cfg.optim)
    directory = checkpoint_dir(run.run_id)
    trainer, best = _build_trainer(cfg, task, tracker, run, directory)
    resume_from = resume_checkpoint(tracker, run.run_id, directory) if run.resume else None
    _fit(trainer, module, resume_from)
    best_path = best.best_model_path or None
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k != "loss"}
    tested = trainer.test(module, ckpt_path=best_path or "last", verbose=False, weights_only=True)
    if best.best_model_score is not None:
        metrics[f"best_{task.monitor}"] = float(best.best_model_score)
    metrics.update({k: float(v) for k, v in (tested[0] if tested else {}).items()})
    if run.owner:
        _log_run_outputs(tracker, run.run_id, task, module.network, best_path, metrics)
    return metrics, best_path


def _log_run_inputs(
    run: RunSetup, facts: Any, extra: dict[str, Any], network: torch.nn.Module
) -> None:
    """Params (flattened config, data sizes, init facts, parameter count) and input artifacts."""
    cfg, task, tracker, run_id = run.cfg, run.task, run.tracker, run.run_id
    params = config_module.flatten(config_module.to_dict(cfg))
    params.update({f"data.size.{k}": v for k, v in facts.sizes.items()})
    params.update(facts.extra)
    params.update(extra)
    params["model.trainable_parameters"] = sum(
        p.numel() for p in network.parameters() if p.requires_grad
    )
    tracker.log_params(run_id, params)
    staging = local_dir(run_id) / "inputs"
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "config.yaml").write_text(config_module.dump_yaml(cfg), encoding="utf-8")
    task.save_artifacts(staging / "task")
    tracker.log_artifact(run_id, staging / "config.yaml")
    tracker.log_artifact(run_id, staging / "task", "task")


def _log_run_outputs(
    tracker: Tracker,
    run_id: str,
    task: Task,
    network: torch.nn.Module,
    best: str | None,
    metrics: dict[str, float],
) -> None:
    """Best metrics, checkpoints, the learning curve and the task's reports as artifacts."""
    tracker.log_metrics(run_id, {k: v for k, v in metrics.items() if k.startswith("best_")})
    for path in (Path(best) if best else None, checkpoint_dir(run_id) / "last.ckpt"):
        if path is not None and path.is_file():
            log_checkpoint(tracker, run_id, path)
    curve = learning_curve(
        tracker, run_id, list(task.metric_names), local_dir(run_id) / "learning_curve.png"
    )
    tracker.log_artifact(run_id, curve, "plots")
    reports = local_dir(run_id) / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    task.write_reports(network.eval(), reports)
    if any(reports.iterdir()):
        tracker.log_artifact(run_id, reports, "reports")


class SaveOnException(Callback):
    """Write last.ckpt when training stops on Ctrl-C, SIGTERM or an error, for --resume.

    (Lightning's OnExceptionCheckpoint also turns every fresh ``fit`` into ``ckpt_path="last"``.)
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(
        self, trainer: L.Trainer, module: L.LightningModule, error: BaseException
    ) -> None:
        if trainer.state.fn == "fit":
            trainer.save_checkpoint(self.path)


class ShareRunId(Callback):
    """Every rank gets rank 0's run id once the process group exists (a no-op on one device).

    Ranks launched by torchrun, SLURM or on other nodes did not inherit it through RUN_ID_ENV
    (PITFALLS: only rank 0 has the logger's run id). Lightning broadcasts ModelCheckpoint's
    dirpath from rank 0 the same way, so checkpoints land in rank 0's run folder.
    """

    def __init__(self, run: RunSetup, logger: RunLogger) -> None:
        self.run, self.logger = run, logger

    def setup(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        run_id = trainer.strategy.broadcast(self.run.run_id, src=0)
        self.run.run_id = self.logger.run_id = run_id


def _build_trainer(
    cfg: Config, task: Task, tracker: Tracker, run: RunSetup, directory: Path
) -> tuple[L.Trainer, ModelCheckpoint]:
    settings, logger = cfg.trainer, RunLogger(tracker, run.run_id)
    best = ModelCheckpoint(
        dirpath=directory,
        filename="best",
        monitor=task.monitor,
        mode=task.monitor_mode,
        save_last=True,
        enable_version_counter=False,
    )
    callbacks: list[Callback] = [
        ShareRunId(run, logger),
        best,
        SaveOnException(directory / "last.ckpt"),
        LearningRateMonitor("epoch"),
        *run.callbacks,
    ]
    if settings.early_stopping_patience > 0:
        callbacks.append(
            EarlyStopping(
                task.monitor, patience=settings.early_stopping_patience, mode=task.monitor_mode
            )
        )
    trainer = L.Trainer(
        max_epochs=settings.max_epochs,
        accelerator=settings.accelerator,
        devices=settings.devices,
        num_nodes=settings.num_nodes,
        strategy=settings.strategy,
        precision=settings.precision,
        gradient_clip_val=settings.gradient_clip_val or None,
        limit_train_batches=settings.limit_train_batches,
        limit_val_batches=settings.limit_val_batches,
        log_every_n_steps=settings.log_every_n_steps,
        enable_progress_bar=settings.progress_bar,
        enable_model_summary=False,
        logger=logger,
        callbacks=callbacks,
        use_distributed_sampler=False,  # tasks shard their own data (LM streams per rank)
        default_root_dir=str(directory),
        plugins=[AtomicCheckpointIO()],
    )
    return trainer, best


def _fit(trainer: L.Trainer, module: PipelineModule, ckpt_path: str | None) -> None:
    """trainer.fit, with Lightning's exit after Ctrl-C/SIGTERM turned into KeyboardInterrupt."""
    previous = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(module, ckpt_path=ckpt_path, weights_only=True)  # never unpickle code
    except SystemExit as error:  # Lightning calls sys.exit(1) after a graceful Ctrl-C shutdown
        if trainer.interrupted:
            raise KeyboardInterrupt("training interrupted; last checkpoint saved") from error
        raise
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)  # Lightning leaves SIGINT ignored
    if trainer.interrupted:
        raise KeyboardInterrupt("training interrupted; last checkpoint saved")


@contextmanager
def _log_last_checkpoint_on_interrupt(tracker: Tracker, run_id: str) -> Iterator[None]:
    """On Ctrl-C, log the last checkpoint Lightning saved, so the run can be resumed anywhere."""
    try:
        yield
    except KeyboardInterrupt:
        last = checkpoint_dir(run_id) / "last.ckpt"
        if last.is_file():
            log_checkpoint(tracker, run_id, last)
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

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _quiet_lightning() -> None:
    """Silence Lightning's start-up chatter (tips, 'GPU available') and known-noise warnings."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    for message in (
        r".*isinstance\(treespec, LeafSpec\)",
        r".*exists and is not empty",
        r".*does not have many workers",
    ):
        warnings.filterwarnings("ignore", message=message)


def _set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)
