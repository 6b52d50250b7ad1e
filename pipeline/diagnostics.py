"""``diagnostics.gradient_flow``: a callback that shows how gradients flow back in time.

Every ``diagnostics.every_n_batches`` training batches (rank 0 only) it measures, on the
weights the training step is about to use:

- for each layer and direction, ||dL/dh_t|| at every step t relative to the last step
  (:mod:`pipeline.gradient_flow`), averaged over the epoch's sampled batches: metric
  ``grad_ratio_<series>_first_last`` (t = 1 against t = T; below 1 the gradient vanishes on
  its way back, above 1 it explodes) and the heatmap ``diagnostics/gradient_flow.png``
  (time step x epoch) with its numbers in ``diagnostics/gradient_flow.json``;
- ``grad_norm_<group>``: the training step's gradient norm per parameter group (embedding,
  input, recurrent, bias, output), before clipping;
- ``saturated_tanh`` / ``saturated_sigmoid``: the fraction of the cells' tanh outputs with
  |y| > 0.99 and of sigmoid outputs below 0.01 or above 0.99 (gates included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from pipeline.config import DiagnosticsConfig
from pipeline.gradient_flow import batch_device, gradient_flow, task_loss
from pipeline.initialization import parameter_groups
from pipeline.interfaces import Task
from pipeline.model import PipelineModule
from pipeline.runs import OwnedRun, local_dir


@dataclass
class EpochFlow:
    """Sums over one epoch's sampled batches, turned into metrics at its end."""

    ratio_sums: dict[str, Tensor] = field(default_factory=dict)  # (T,) per series
    ratio_counts: dict[str, Tensor] = field(default_factory=dict)
    group_norms: dict[str, list[float]] = field(default_factory=dict)
    saturation: dict[str, list[float]] = field(default_factory=dict)

    def add_norms(self, norms: dict[str, Tensor]) -> None:
        """Add each series' per-step norms relative to its last step; T may vary by batch."""
        for name, steps in norms.items():
            if steps.numel() == 0 or float(steps[-1]) == 0.0:
                continue  # the loss does not reach the last step: no reference
            ratio = steps / steps[-1]
            total = self.ratio_sums.get(name, torch.zeros(0))
            count = self.ratio_counts.get(name, torch.zeros(0))
            size = max(total.numel(), ratio.numel())
            total, count = _grown(total, size), _grown(count, size)
            total[: ratio.numel()] += ratio
            count[: ratio.numel()] += 1
            self.ratio_sums[name], self.ratio_counts[name] = total, count

    def profiles(self) -> dict[str, list[float]]:
        """Mean ratio at each step, per series."""
        return {
            name: (total / self.ratio_counts[name].clamp(min=1)).tolist()
            for name, total in self.ratio_sums.items()
        }

    def metrics(self) -> dict[str, float]:
        metrics = {f"grad_ratio_{n}_first_last": p[0] for n, p in self.profiles().items()}
        metrics.update({f"grad_norm_{g}": _mean(v) for g, v in self.group_norms.items()})
        metrics.update({f"saturated_{k}": _mean(v) for k, v in self.saturation.items()})
        return metrics


def _grown(values: Tensor, size: int) -> Tensor:
    return torch.cat([values, torch.zeros(size - values.numel())])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class GradientFlowCallback(Callback):
    """Measures gradient flow, group gradient norms and saturation; see the module docstring."""

    def __init__(self, task: Task, settings: DiagnosticsConfig, run: OwnedRun) -> None:
        self.task, self.every, self.run = task, settings.every_n_batches, run
        self.epoch = EpochFlow()
        self.history: dict[str, list[list[float]]] = {}  # series -> profile of each epoch
        self._sampled = False
        self._scratch: dict[str, Any] = {}

    def state_dict(self) -> dict[str, Any]:
        """The heatmap's history, saved in checkpoints so a resumed run extends it."""
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = state_dict["history"]

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch = EpochFlow()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._sampled = trainer.is_global_zero and batch_idx % self.every == 0
        if not self._sampled:
            return
        network = cast(PipelineModule, pl_module).network
        if not self._scratch:
            device = batch_device(network)
            self._scratch = {k: m.to(device) for k, m in self.task.metrics().items()}
        sample = gradient_flow(
            network, partial(task_loss, self.task, network, batch, self._scratch)
        )
        for metric in self._scratch.values():
            metric.reset()
        self.epoch.add_norms(sample.norms)
        for kind, fraction in sample.saturation.items():
            self.epoch.saturation.setdefault(kind, []).append(fraction)

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any
    ) -> None:
        if not self._sampled:
            return
        for group, parameters in parameter_groups(cast(PipelineModule, pl_module).network).items():
            grads = [p.grad for p in parameters if p.grad is not None]
            if grads:
                norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
                self.epoch.group_norms.setdefault(group, []).append(float(norm))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or not self.epoch.ratio_counts:
            return
        if trainer.logger is not None:
            trainer.logger.log_metrics(self.epoch.metrics(), step=trainer.global_step)
        for name, profile in self.epoch.profiles().items():
            self.history.setdefault(name, []).append(profile)
        if self.run.owner:
            directory = local_dir(self.run.run_id) / "diagnostics"
            write_flow(self.history, directory)
            self.run.tracker.log_artifact(self.run.run_id, directory, "diagnostics")


def write_flow(history: dict[str, list[list[float]]], directory: Path) -> None:
    """``gradient_flow.json`` (series -> per-epoch profiles) and its heatmap PNG."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "gradient_flow.json").write_text(json.dumps(history), encoding="utf-8")
    heatmap(history, directory / "gradient_flow.png")


def heatmap(history: dict[str, list[list[float]]], path: Path) -> Path:
    """One panel per series: log10 of ||dL/dh_t|| / ||dL/dh_T||, time step x epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(len(history), 1, figsize=(7, 1.2 + 1.8 * len(history)))
    for axis, (name, epochs) in zip(np.atleast_1d(axes), history.items(), strict=True):
        width = max(len(profile) for profile in epochs)
        grid = np.full((len(epochs), width), np.nan)
        for row, profile in enumerate(epochs):
            grid[row, : len(profile)] = profile
        with np.errstate(divide="ignore"):
            image = axis.imshow(
                np.log10(grid), aspect="auto", origin="lower", cmap="viridis", interpolation="none"
            )
        axis.set(title=f"{name}: log10 |dL/dh_t| / |dL/dh_T|", xlabel="time step t", ylabel="epoch")
        axis.set_xticks(range(0, width, max(1, width // 10)))
        axis.set_xticklabels([str(t + 1) for t in range(0, width, max(1, width // 10))])
        axis.set_yticks(range(len(epochs)))
        axis.set_yticklabels([str(e + 1) for e in range(len(epochs))])
        figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
