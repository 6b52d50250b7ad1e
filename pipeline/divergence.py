"""A training whose loss stops being a finite number ends at once, FAILED, tagged ``diverged``.

A diverged network (e.g. ``optim.lr=1e6`` with SGD) would otherwise train to the end and report
a perplexity of Infinity as if it were a result. The check keeps a flag on the loss's device
and reads it every ``CHECK_EVERY`` batches and before each validation and checkpoint (reading
it each batch would wait for the GPU at every step), so no non-finite weights are ever saved.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from pipeline.errors import UserError

CHECK_EVERY = 16
"""Training batches between two reads of the flag (a diverged run stops within this many)."""


DIVERGED_LINE = "error: training diverged: "
"""How ``pipeline train`` reports a divergence on stderr (a launched trial's is read back)."""


class Diverged(UserError):
    """The training or validation loss became NaN or infinite (its run is tagged with reason)."""

    reason = "diverged"


class DivergenceCheck(Callback):
    """Raise :class:`Diverged` when a training loss or a validation metric is not finite.

    ``lr`` only goes into the message. Under DDP every rank reaches the same decision
    (``reduce_boolean_decision``), so all of them stop together.
    """

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.bad: torch.Tensor | None = None  # () bool, on the loss's device: seen since a check

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        bad = ~torch.isfinite(loss.detach()).all()
        self.bad = bad if self.bad is None else self.bad | bad
        if (index + 1) % CHECK_EVERY == 0:
            self._check(trainer, "the training loss")

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._check(trainer, "the training loss")

    def on_validation_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._check(trainer, "the training loss")

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """Every val_* metric: a loss above ~88 nats is finite but its perplexity is not."""
        if trainer.sanity_checking:
            return
        bad = sorted(
            name
            for name, value in trainer.callback_metrics.items()
            if name.startswith("val_") and not bool(torch.isfinite(value).all())
        )
        self.bad = torch.tensor(bool(bad))
        self._check(trainer, ", ".join(bad) or "a validation metric")

    def _check(self, trainer: L.Trainer, what: str) -> None:
        seen, self.bad = self.bad, None
        bad = bool(seen) if seen is not None else False  # waits for the device
        if not trainer.strategy.reduce_boolean_decision(bad, all=False):
            return
        raise Diverged(
            f"{DIVERGED_LINE.removeprefix('error: ')}{what} became NaN or infinite in epoch "
            f"{trainer.current_epoch} (by step {trainer.global_step}); lower optim.lr (now "
            f"{self.lr:g}), set trainer.gradient_clip_val (e.g. 0.25), or try optim.name=adam. "
            "The run is FAILED; its checkpoints from before the divergence are kept"
        )
