"""Plots saved as run artifacts (matplotlib's Agg backend; no display needed)."""

from __future__ import annotations

from pathlib import Path

from pipeline.tracking import Tracker


def learning_curve(tracker: Tracker, run_id: str, metric_names: list[str], path: Path) -> Path:
    """PNG of train and validation metrics per epoch (one panel per metric name)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, len(metric_names), figsize=(5 * len(metric_names), 3.6))
    for axis, metric in zip(list(getattr(axes, "flat", [axes])), metric_names, strict=True):
        for split in ("train", "val"):
            history = tracker.metric_history(run_id, f"{split}_{metric}")
            if history:
                axis.plot(range(1, len(history) + 1), history, marker="o", label=split)
        axis.set(title=metric, xlabel="epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
