"""A Lightning logger that writes into one MLflow run the pipeline created (and ends itself).

Lightning's MLFlowLogger creates runs and sets their status; here the run's life cycle belongs
to :mod:`pipeline.train`, so a crash or Ctrl-C can never leave it RUNNING or mark it FINISHED.

Steps are epochs, so the MLflow UI charts metrics per epoch (not per optimizer step): a
metric logged during epoch ``e`` (0-based, as Lightning counts) gets step ``e + 1``, the number
of epochs trained. Test metrics are final values, logged once at step 0 like the ``best_*``
values. Lightning's own ``epoch`` entry is the step, never a metric of its own (a chart of a
straight line helps no one).
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from pipeline.tracking import Tracker

FINAL_PREFIXES = ("test_", "best_")
"""Metrics that have one value per run (the UI shows them as values, not as curves)."""


class RunLogger(Logger):
    """Metrics of rank 0 into an existing MLflow run; params are logged by the pipeline."""

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        super().__init__()
        self.tracker, self.run_id = tracker, run_id

    @property
    def name(self) -> str:
        return "mlflow"

    @property
    def version(self) -> str:
        return self.run_id

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Lightning passes the global step and adds ``epoch``: the epoch is the step here."""
        values = dict(metrics)
        epoch = int(values.pop("epoch", 0))
        final = {k: v for k, v in values.items() if k.startswith(FINAL_PREFIXES)}
        per_epoch = {k: v for k, v in values.items() if k not in final}
        if final:
            self.tracker.log_metrics(self.run_id, final, 0)
        if per_epoch:
            self.tracker.log_metrics(self.run_id, per_epoch, epoch + 1)

    @rank_zero_only
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        """Params are the flattened config, logged once by the pipeline itself."""


class LearningRate(Callback):
    """``lr`` of the first parameter group at the start of every epoch.

    Only added when a schedule can change it (``optim.schedule`` other than none): a constant
    learning rate is already a param, and a flat chart of it would crowd the compare view.
    """

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.optimizers or trainer.logger is None:
            return
        lr = float(trainer.optimizers[0].param_groups[0]["lr"])
        trainer.logger.log_metrics({"lr": lr, "epoch": trainer.current_epoch})
