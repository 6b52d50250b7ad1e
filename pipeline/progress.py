"""A progress bar that redraws by time, not at every batch, and never waits for the device.

Lightning's TQDMProgressBar redraws at every batch and fetches the logged loss with it (a
device-to-host copy, and on a GPU a wait for the queued work); for a small model the redraw
costs as much as a good part of the training step (see benchmarks/README.md, "cli_epoch").
This bar keeps the last training loss as a tensor and reads it only when it redraws, at
most every ``interval`` seconds, so a batch costs one clock read. It works for every task
(it reads the loss a training step returns) and for tuning trials (they train through
``train()``); under DDP only rank 0 draws.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar
from torch import Tensor
from tqdm import tqdm

REFRESH_SECONDS = 0.25
"""Redraw a few times a second: smooth to the eye, negligible next to any training step."""


class TimedProgressBar(ProgressBar):
    """Epoch, validation, sanity-check and test bars (tqdm), redrawn at most every interval."""

    def __init__(self, interval: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self.interval = interval
        self.enabled = True
        self._bars: dict[str, tqdm[Any]] = {}
        self._next_draw = 0.0
        self._loss: Tensor | None = None
        self._epoch_metrics: dict[str, float] = {}

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Print above the bars without breaking them."""
        tqdm.write(sep.join(map(str, args)), file=sys.stdout, **kwargs)

    # ------------------------------------------------------------------------- bars

    def _open(self, stage: str, description: str, total: float, leave: bool) -> None:
        """Start the bar of stage (``total`` batches, ``inf`` when unknown)."""
        self._close(stage)
        if not self.enabled:
            return
        self._bars[stage] = tqdm(
            desc=description,
            total=int(total) if math.isfinite(total) else None,
            position=1 if stage == "val" and "train" in self._bars else 0,
            leave=leave,
            file=sys.stdout,  # looked up now: `--json` redirects stdout to stderr
            dynamic_ncols=True,
            smoothing=0,
        )
        self._next_draw = time.monotonic() + self.interval

    def _advance(self, stage: str, done: int, final: bool = False) -> None:
        """Move stage's bar to done batches; redraw only when the interval has passed."""
        bar = self._bars.get(stage)
        if bar is None:
            return
        now = time.monotonic()
        if not final and now < self._next_draw:
            return
        self._next_draw = now + self.interval
        bar.n = done
        if stage == "train":
            postfix = dict(self._epoch_metrics)
            if self._loss is not None:
                postfix["loss"] = self._loss.item()  # the one host read, once per redraw
            bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
        bar.refresh()

    def _finish(self, stage: str) -> None:
        """Draw stage's bar complete (when its total is known) and close it."""
        bar = self._bars.get(stage)
        if bar is not None:
            self._advance(stage, int(bar.n if bar.total is None else bar.total), final=True)
        self._close(stage)

    def _close(self, stage: str) -> None:
        bar = self._bars.pop(stage, None)
        if bar is not None:
            bar.close()

    def _read_epoch_metrics(self, trainer: L.Trainer) -> None:
        """The per-epoch metrics the module logged with ``prog_bar=True`` (val_loss, ...)."""
        metrics = trainer.progress_bar_metrics
        self._epoch_metrics = {k: float(v) for k, v in metrics.items() if k != "loss"}

    # ------------------------------------------------------------------------- training

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._loss = None
        epoch = f"Epoch {trainer.current_epoch}"
        self._open("train", epoch, self.total_train_batches, leave=True)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, Tensor):
            self._loss = loss  # Lightning hands over a detached copy; read at the next redraw
        self._advance("train", batch_idx + 1)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._read_epoch_metrics(trainer)
        self._finish("train")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._close("train")

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        for stage in list(self._bars):
            self._close(stage)

    # ------------------------------------------------------------------------- evaluation

    def on_sanity_check_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._open("val", self.sanity_check_description, sum(trainer.num_sanity_val_batches), False)

    def on_sanity_check_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._close("val")

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._open("val", self.validation_description, self.total_val_batches, False)

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._advance("val", batch_idx + 1)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._close("val")
        if not trainer.sanity_checking:
            self._read_epoch_metrics(trainer)

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        total = sum(trainer.num_test_batches)
        self._open("test", self.test_description, total, leave=True)

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._advance("test", batch_idx + 1)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._finish("test")
