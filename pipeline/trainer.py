"""The Lightning side of a training run: process settings, the Trainer and its callbacks, fit."""

from __future__ import annotations

import logging
import signal
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
)

from pipeline.atomic_checkpoint_io import AtomicCheckpointIO
from pipeline.checkpoints import record_local_checksum
from pipeline.config import Config, TrainerConfig
from pipeline.diagnostics import GradientFlowCallback
from pipeline.divergence import Diverged, DivergenceCheck
from pipeline.errors import UserError
from pipeline.interfaces import Task
from pipeline.logger import LearningRate, RunLogger
from pipeline.model import PipelineModule
from pipeline.progress import TimedProgressBar
from pipeline.random_states import RandomStates
from pipeline.runs import OwnedRun, ShareRunId
from pipeline.storage_errors import storage_error


class TrainerSettingsError(UserError):
    """trainer.* values that Lightning refuses (unknown strategy, no GPU, devices=abc, ...)."""


def set_up_process(cfg: Config) -> None:
    """Threads, matmul precision, quiet Lightning and the run's seed, before anything is built."""
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    torch.set_float32_matmul_precision(cfg.trainer.float32_matmul_precision)
    _quiet_lightning()
    L.seed_everything(cfg.seed, verbose=False)


class SaveOnException(Callback):
    """Write last.ckpt when training stops on Ctrl-C, SIGTERM or an error, for --resume.

    Not before the first optimizer step: a fit that failed to start (or to restore a resumed
    checkpoint) has nothing to save and must not replace a last.ckpt with untrained weights.
    (Lightning's OnExceptionCheckpoint also turns every fresh ``fit`` into ``ckpt_path="last"``.)
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(
        self, trainer: L.Trainer, module: L.LightningModule, error: BaseException
    ) -> None:
        if isinstance(error, Diverged):  # its weights are NaN: keep the last good checkpoint
            return
        if storage_error(error, None) is not None:  # a full disk: a save would fail again
            return
        if trainer.state.fn == "fit" and trainer.global_step > 0:
            trainer.save_checkpoint(self.path)


def build_trainer(
    cfg: Config, task: Task, run: OwnedRun, extra: Sequence[Callback] = ()
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Trainer that logs into run, and its best-checkpoint callback (``best.ckpt``)."""
    settings, logger, directory = cfg.trainer, RunLogger(run.tracker, run.run_id), run.checkpoints
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
        DivergenceCheck(cfg.optim.lr),
        RandomStates(),  # a resumed run continues as if never stopped
        *([LearningRate()] if cfg.optim.schedule != "none" else []),
        *([TimedProgressBar()] if settings.progress_bar else []),
        *(
            [GradientFlowCallback(task, cfg.diagnostics, run)]
            if cfg.diagnostics.gradient_flow
            else []
        ),
        *extra,
    ]
    if settings.early_stopping_patience > 0:
        callbacks.append(
            EarlyStopping(
                task.monitor, patience=settings.early_stopping_patience, mode=task.monitor_mode
            )
        )
    with _lightning_checks(settings):
        trainer = _trainer(settings, logger, callbacks, directory, _checkpoint_io(run))
    return trainer, best


def check_trainer_settings(settings: TrainerConfig) -> None:
    """Raise TrainerSettingsError if Lightning refuses the hardware settings (accelerator,
    devices, strategy, precision), by building a Trainer that is never used: before a run opens."""
    _quiet_lightning()
    with _lightning_checks(settings):
        L.Trainer(
            accelerator=settings.accelerator,
            devices=settings.devices,
            num_nodes=settings.num_nodes,
            strategy=settings.strategy,
            precision=settings.precision,  # type: ignore[arg-type]  # checked here
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )


@contextmanager
def _lightning_checks(settings: TrainerConfig) -> Iterator[None]:
    """Lightning's refusals of trainer settings as one TrainerSettingsError naming them."""
    try:
        yield
    except (TypeError, ValueError, MisconfigurationException) as error:
        raise TrainerSettingsError(
            f"Lightning refuses the trainer settings (accelerator={settings.accelerator!r}, "
            f"devices={settings.devices!r}, strategy={settings.strategy!r}, precision="
            f"{settings.precision!r}): {error}; fix the trainer.* keys in the config"
        ) from error


def _checkpoint_io(run: OwnedRun) -> AtomicCheckpointIO:
    """Atomic saves (a crash or a full disk never leaves half a file), each one's checksum
    recorded in the run so that --resume trusts the newest local file."""

    def record(path: Path, digest: str) -> None:
        record_local_checksum(run.tracker, run.run_id, path, digest)

    return AtomicCheckpointIO(record if run.owner else None)


def _trainer(
    settings: TrainerConfig,
    logger: RunLogger,
    callbacks: list[Callback],
    directory: Path,
    checkpoint_io: AtomicCheckpointIO,
) -> L.Trainer:
    return L.Trainer(
        max_epochs=settings.max_epochs,
        max_time=None if settings.max_minutes is None else timedelta(minutes=settings.max_minutes),
        accelerator=settings.accelerator,
        devices=settings.devices,
        num_nodes=settings.num_nodes,
        strategy=settings.strategy,
        precision=settings.precision,  # type: ignore[arg-type]  # checked by Lightning: a UserError
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
        plugins=[checkpoint_io],
    )


def fit(trainer: L.Trainer, module: PipelineModule, ckpt_path: str | None) -> None:
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


def tested_metrics(
    trainer: L.Trainer, module: PipelineModule, best: ModelCheckpoint, monitor: str
) -> tuple[dict[str, float], str | None]:
    """Metrics of the fit, ``best_<monitor>`` and the test metrics of the best checkpoint."""
    best_path = best.best_model_path or None
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k != "loss"}
    tested = trainer.test(module, ckpt_path=best_path or "last", verbose=False, weights_only=True)
    if best.best_model_score is not None:
        metrics[f"best_{monitor}"] = float(best.best_model_score)
    metrics.update({k: float(v) for k, v in (tested[0] if tested else {}).items()})
    return metrics, best_path


def _quiet_lightning() -> None:
    """Silence Lightning's start-up chatter (tips, 'GPU available') and known-noise warnings."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    for message in (
        r".*isinstance\(treespec, LeafSpec\)",
        r".*exists and is not empty",
        r".*does not have many workers",
    ):
        warnings.filterwarnings("ignore", message=message)
