"""One Optuna trial inside a training run: report each epoch, prune on every rank, heartbeat.

The trial is named by (storage URL, study name, trial id), so the same callback works in the
tuning worker's process and in a separately launched DDP training (``RNN_PIPELINE_TRIAL``).
Only rank 0 talks to the storage; its pruning decision is broadcast to every rank, and the
trainer stops gracefully instead of raising TrialPruned inside a DDP worker (optuna PR #4384).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from pipeline.heartbeat import Heartbeat
from pipeline.run_notes import NOTE_TAG
from pipeline.runs import RUN_ID_ENV

TRIAL_ENV = "RNN_PIPELINE_TRIAL"


@dataclass(frozen=True)
class TrialRef:
    storage: str
    study: str
    trial_id: int
    metric: str
    heartbeat: int = 10
    parent_run_id: str = ""
    number: int = 0
    pruner: dict[str, Any] = field(default_factory=lambda: {"name": "median"})
    worker: str = ""  # host:pid of the tuning worker that sampled the trial
    note: str = ""  # the run's description: the tune command and what the trial sampled

    def reporter(self) -> TrialReporter:
        return TrialReporter(self)

    def train_options(self) -> dict[str, Any]:
        """``train()`` keyword arguments that make a training run this trial's run."""
        return {
            "callbacks": [self.reporter()],
            "tags": self.run_tags(),
            "params": self.run_params(),
        }

    def run_tags(self) -> dict[str, str]:
        """Tags that nest the trial's run under the study's parent run in the MLflow UI."""
        return {
            "mlflow.parentRunId": self.parent_run_id,
            "optuna.study": self.study,
            "optuna.trial": str(self.number),
            "optuna.worker": self.worker,
            **({NOTE_TAG: self.note} if self.note else {}),
        }

    def run_params(self) -> dict[str, int]:
        return {"optuna.trial_number": self.number}

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> TrialRef | None:
        text = os.environ.get(TRIAL_ENV)
        return cls(**json.loads(text)) if text else None


def trial_train_options() -> dict[str, Any]:
    """``train()`` keyword arguments for this process: its trial's, when ``pipeline tune``
    launched it as a multi-device trial (``RNN_PIPELINE_TRIAL``), else none."""
    ref = TrialRef.from_env()
    return ref.train_options() if ref else {}


def open_trial(ref: TrialRef) -> Any:
    """The live ``optuna.trial.Trial`` for ref (loads the study from its storage)."""
    import optuna

    from pipeline.studies import make_pruner, open_storage

    # The pruner is not stored with a study: rebuild the space's own, or Optuna's default
    # (MedianPruner with 5 startup trials) would decide instead.
    study = optuna.load_study(
        study_name=ref.study, storage=open_storage(ref.storage), pruner=make_pruner(ref.pruner)
    )
    return optuna.trial.Trial(study, ref.trial_id)


class TrialReporter(Callback):
    """Report the objective metric each epoch; stop every rank when the pruner says so."""

    def __init__(self, ref: TrialRef) -> None:
        self.ref = ref
        self.trial: Any = None

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self.trial = open_trial(self.ref)
            self.trial.set_user_attr("mlflow_run_id", os.environ.get(RUN_ID_ENV, ""))

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        if trainer.is_global_zero:
            value = float(trainer.callback_metrics[self.ref.metric])
            self.trial.report(value, trainer.current_epoch)
            prune = self.trial.should_prune()
            if prune:
                self.trial.set_user_attr("pruned_at_epoch", trainer.current_epoch)
        if trainer.strategy.broadcast(prune, src=0):
            trainer.should_stop = True


def trial_heartbeat(storage: Any, trial_id: int, interval: int) -> Heartbeat:
    """Record the trial's heartbeat in storage every interval seconds (if storage has them)."""
    record = getattr(storage, "record_heartbeat", None)
    return Heartbeat(functools.partial(record, trial_id) if record else None, interval)
