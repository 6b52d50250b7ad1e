"""The classifier's metrics, all torchmetrics: the logged ones and the test report's per-class ones.

Logged per split (``val_accuracy``, ``test_macro_f1``, ...): mean loss, accuracy and macro-F1.
Lightning evaluates each rank's shard and torchmetrics sums the states across ranks before
``compute``, so under DDP they are the figures of the whole split.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from pipeline.metrics import WeightedMean
from plugins.tasks.classification.data import Batch

METRIC_NAMES = ("loss", "accuracy", "macro_f1")


def logged_metrics(classes: int) -> dict[str, Metric]:
    """Fresh metrics keyed by :data:`METRIC_NAMES`: loss takes (batch mean loss, texts), so it
    is the mean over texts; the others take (logits (B, C), labels (B,))."""
    return {
        "loss": WeightedMean(),
        "accuracy": MulticlassAccuracy(classes, average="micro"),
        "macro_f1": MulticlassF1Score(classes, average="macro"),
    }


def report_metrics(classes: int) -> MetricCollection:
    """Confusion matrix (C, C: row = true class, column = predicted) and per-class precision,
    recall and F1 (C,), 0 where undefined.

    ``Task.write_reports`` runs on rank 0 alone over the whole test split, while under DDP the
    process group is still up: a syncing ``compute`` would wait for ranks that never join, so
    these metrics do not sync.
    """
    return MetricCollection(
        {
            "confusion": MulticlassConfusionMatrix(classes, sync_on_compute=False),
            "precision": MulticlassPrecision(classes, average=None, sync_on_compute=False),
            "recall": MulticlassRecall(classes, average=None, sync_on_compute=False),
            "f1": MulticlassF1Score(classes, average=None, sync_on_compute=False),
        }
    )


@torch.no_grad()
def class_scores(network: nn.Module, batches: Iterable[Batch], classes: int) -> dict[str, Tensor]:
    """The :func:`report_metrics` of network's predictions over all batches, on the CPU."""
    device = next(network.parameters()).device
    scores = report_metrics(classes).to(device)
    for tokens, lengths, labels in batches:
        logits = network(tokens.to(device), lengths.to(device))  # (B, C)
        scores.update(logits, labels.to(device))
    return {name: value.cpu() for name, value in scores.compute().items()}
