"""The report's figures, three kinds of panel grids (matplotlib's Agg backend):

- :func:`bars`: ``{panel title: {label: value}}``;
- :func:`curves`: ``{panel title: {label: [y per x]}}`` with optional x values and log y;
- :func:`matrices`: ``{panel title: 2-D array}`` as heatmaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Panels = Mapping[str, Any]


def _grid(count: int, width: float = 4.2, height: float = 3.2) -> tuple[Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, count, figsize=(width * count, height), squeeze=False)
    return figure, list(axes[0])


def _save(figure: Any, path: Path) -> Path:
    from matplotlib import pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def bars(panels: Mapping[str, Mapping[str, float]], path: Path, log: bool = False) -> Path:
    """One bar chart per panel."""
    figure, axes = _grid(len(panels))
    for axis, (title, values) in zip(axes, panels.items(), strict=True):
        labels = list(values)
        axis.bar(range(len(labels)), [values[k] for k in labels], color="tab:blue")
        axis.set_xticks(range(len(labels)))
        axis.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        axis.set_title(title, fontsize=9)
        if log:
            axis.set_yscale("log")
        axis.grid(alpha=0.3, axis="y")
    return _save(figure, path)


def curves(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    path: Path,
    xs: Mapping[str, Sequence[float]] | None = None,
    log_panels: Sequence[str] = (),
    xlabel: str = "epoch",
) -> Path:
    """One line per label in each panel; x is 1.. unless ``xs`` gives a panel's x values."""
    figure, axes = _grid(len(panels))
    for axis, (title, lines) in zip(axes, panels.items(), strict=True):
        for label, ys in lines.items():
            x = list((xs or {}).get(title, range(1, len(ys) + 1)))
            axis.plot(x[: len(ys)], list(ys), marker="o", markersize=3, label=label)
        if title in log_panels:
            axis.set_yscale("log")
        axis.set(title=title, xlabel=xlabel)
        axis.title.set_fontsize(9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return _save(figure, path)


def matrices(panels: Mapping[str, Any], path: Path) -> Path:
    """Heatmaps of 2-D arrays, each with its colour bar."""
    figure, axes = _grid(len(panels), width=3.6)
    for axis, (title, array) in zip(axes, panels.items(), strict=True):
        image = axis.imshow(array, aspect="auto", cmap="viridis", interpolation="none")
        axis.set_title(title, fontsize=9)
        figure.colorbar(image, ax=axis)
    return _save(figure, path)
