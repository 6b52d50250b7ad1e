"""Metrics the tasks share (torchmetrics ``Metric`` objects, so DDP reduces them)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import MeanMetric

__all__ = ["WeightedMean"]


class WeightedMean(MeanMetric):
    """Weighted mean ``sum(value * weight) / sum(weight)``, e.g. a batch's mean loss weighted
    by its tokens, so that short last batches and uneven DDP shards count what they hold.

    Like ``MeanMetric(nan_strategy="disable")`` it runs no NaN test per update (that test
    syncs a GPU each step) and a NaN value makes the mean NaN instead of being dropped; unlike
    it, the weights are kept: that option replaces them by ones (torchmetrics#3434), which
    turns a token-weighted mean into a mean of batch means.
    """

    def __init__(self) -> None:
        super().__init__(nan_strategy="disable")

    def update(self, value: float | Tensor, weight: float | Tensor | None = None) -> None:
        """Add ``value`` (any shape) with ``weight`` (broadcastable to it; default 1)."""
        value = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        weight = torch.as_tensor(
            1.0 if weight is None else weight, dtype=self.dtype, device=self.device
        )
        self.mean_value += (value * torch.broadcast_to(weight, value.shape)).sum()
        self.weight += torch.broadcast_to(weight, value.shape).sum()
