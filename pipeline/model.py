"""The one LightningModule every task shares: it knows nothing of a particular task or cell."""

from __future__ import annotations

import warnings
from typing import Any, Literal, cast

import lightning as L
import torch
from torch import nn
from torchmetrics import Metric

from pipeline.config import OptimConfig
from pipeline.interfaces import Task

STAGES = ("train", "val", "test")
"""Loader stages Lightning runs; each logs its metrics as ``{stage}_{name}``."""


class PipelineModule(L.LightningModule):
    """Drives ``task.step`` for each split, logs the task's metrics, builds the optimizer."""

    def __init__(self, task: Task, network: nn.Module, optim: OptimConfig) -> None:
        super().__init__()
        self.task, self.network, self.optim = task, network, optim
        # keyed "train_metrics" etc.: a ModuleDict key may not shadow Module.train
        self.split_metrics = nn.ModuleDict(
            {f"{stage}_metrics": nn.ModuleDict(task.metrics()) for stage in STAGES}
        )
        self._carry: dict[str, Any] = {}

    # ------------------------------------------------------------------------- data

    def _loader(self, split: str) -> Any:
        trainer = self.trainer
        return self.task.dataloader(split, trainer.global_rank, trainer.world_size)

    def train_dataloader(self) -> Any:
        return self._loader("train")

    def val_dataloader(self) -> Any:
        return self._loader("val")

    def test_dataloader(self) -> Any:
        return self._loader("test")

    # ------------------------------------------------------------------------- steps

    def _metrics(self, split: str) -> dict[str, Metric]:
        """The task's metrics of one split, by name."""
        return dict(cast(nn.ModuleDict, self.split_metrics[f"{split}_metrics"]).items())  # type: ignore[arg-type]

    def _step(self, batch: Any, split: str) -> torch.Tensor:
        """The task's step; it updates the split's metrics, which are logged per epoch."""
        result = self.task.step(self.network, batch, self._carry.get(split), self._metrics(split))
        self._carry[split] = result.carry
        return result.loss

    def _log_epoch(self, split: str) -> None:
        """Log each metric of split once, computed over the epoch, then reset it.

        ``compute`` reduces across DDP ranks (torchmetrics), so every rank calls it. Logging
        the Metric objects at every step instead adds Lightning bookkeeping to every batch,
        as much as the whole step of a small model on a GPU (benchmarks/README.md).
        """
        for name, metric in self._metrics(split).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "compute before update" on an empty shard
                value = metric.compute()
            if metric.update_called or bool(torch.isfinite(value).all()):
                self.log(f"{split}_{name}", value, prog_bar=split != "train", sync_dist=False)
            metric.reset()

    def on_train_epoch_start(self) -> None:
        self._carry["train"] = None

    def on_validation_epoch_start(self) -> None:
        self._carry["val"] = None

    def on_test_epoch_start(self) -> None:
        self._carry["test"] = None

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def training_step(self, batch: Any, batch_index: int) -> torch.Tensor:
        return self._step(batch, "train")  # the progress bar reads the returned loss

    def validation_step(self, batch: Any, batch_index: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_index: int) -> None:
        self._step(batch, "test")

    # ------------------------------------------------------------------------- optimisation

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.network.parameters(), self.optim)
        schedule = self.optim.schedule
        if schedule == "step":
            factor, start = self.optim.decay_factor, self.optim.decay_start_epoch
            decay = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda epoch: factor ** max(0, epoch - start + 1)
            )
            return {"optimizer": optimizer, "lr_scheduler": decay}
        if schedule == "plateau":
            mode: Literal["min", "max"] = "max" if self.task.monitor_mode == "max" else "min"
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode=mode,
                factor=self.optim.decay_factor,
                patience=self.optim.plateau_patience,
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": self.task.monitor},
            }
        return optimizer


def build_optimizer(parameters: Any, optim: OptimConfig) -> torch.optim.Optimizer:
    """sgd (with momentum), adam or adamw with the configured lr and weight decay."""
    if optim.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay
        )
    if optim.name == "adam":
        return torch.optim.Adam(parameters, lr=optim.lr, weight_decay=optim.weight_decay)
    return torch.optim.AdamW(parameters, lr=optim.lr, weight_decay=optim.weight_decay)
