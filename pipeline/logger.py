"""A Lightning logger that writes into one MLflow run the pipeline created (and ends itself).

Lightning's MLFlowLogger creates runs and sets their status; here the run's life cycle belongs
to :mod:`pipeline.train`, so a crash or Ctrl-C can never leave it RUNNING or mark it FINISHED.
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from pipeline.tracking import Tracker


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
        self.tracker.log_metrics(self.run_id, metrics, step or 0)

    @rank_zero_only
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        """Params are the flattened config, logged once by the pipeline itself."""
