"""Test-split reports of a trained classifier: confusion_matrix.png, per_class.csv/.md."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from pipeline.reports import write_table
from plugins.tasks.classification.data import Batch
from plugins.tasks.classification.metrics import class_scores


def write_reports(
    network: nn.Module, batches: Iterable[Batch], labels: Sequence[str], directory: Path
) -> None:
    """The confusion matrix as a PNG and the per-class scores as CSV and Markdown tables."""
    scores = class_scores(network, batches, len(labels))
    plot_confusion(scores["confusion"], labels, directory / "confusion_matrix.png")
    rows = per_class_rows(scores, labels)
    write_table(rows, directory / "per_class", title="Per-class scores on the test split.")


def per_class_rows(scores: dict[str, Tensor], labels: Sequence[str]) -> list[dict[str, Any]]:
    """Label, precision, recall, F1 (rounded to 4 places) and support of each class.

    scores: :func:`~plugins.tasks.classification.metrics.class_scores`; support is the row sum
    of the confusion matrix (C, C), the number of test texts of that class.
    """
    support = scores["confusion"].sum(1)  # (C,)
    return [
        {
            "label": label,
            "precision": round(float(scores["precision"][i]), 4),
            "recall": round(float(scores["recall"][i]), 4),
            "f1": round(float(scores["f1"][i]), 4),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    ]


def plot_confusion(confusion: Tensor, labels: Sequence[str], path: Path) -> None:
    """PNG of the confusion matrix (C, C) with the class names on both axes and the counts."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    size = max(4.0, 0.45 * len(labels) + 2.0)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(confusion.numpy(), cmap="Blues")
    ticks = range(len(labels))
    axis.set_xticks(ticks, labels, rotation=90 if len(labels) > 8 else 0)
    axis.set_yticks(ticks, labels)
    axis.set(xlabel="predicted", ylabel="true", title="confusion matrix (test)")
    if len(labels) <= 20:
        high = int(confusion.max())
        for (row, column), count in _cells(confusion):
            color = "white" if count > high / 2 else "black"
            axis.text(column, row, str(count), ha="center", va="center", color=color)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _cells(confusion: Tensor) -> Iterator[tuple[tuple[int, int], int]]:
    for row in range(confusion.size(0)):
        for column in range(confusion.size(1)):
            yield (row, column), int(confusion[row, column])
