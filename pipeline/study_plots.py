"""Optuna's plots of a study, large enough to read in the MLflow artifact view.

Interactive HTML when plotly is installed (hover shows each trial's values, labels do not
collide), else PNG from Optuna's matplotlib backend at a size where labels do not overlap.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna

PLOTS = (
    "plot_optimization_history",
    "plot_param_importances",
    "plot_parallel_coordinate",
    "plot_intermediate_values",
)
HTML_SIZE = (1100, 650)  # pixels, about the width of the MLflow artifact pane
PNG_INCHES, PNG_DPI = (12.0, 7.0), 120


def write_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Each plot Optuna can draw for study (HTML with plotly, else PNG) in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    draw = _html if optuna.visualization.is_available() else _png
    written = []
    for name in PLOTS:
        path = folder / name.removeprefix("plot_")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" warnings of optuna's plots
                written.append(draw(study, name, path))
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue  # e.g. importances need two finished trials
    return written


def _html(study: optuna.Study, name: str, path: Path) -> Path:
    figure = getattr(optuna.visualization, name)(study)
    width, height = HTML_SIZE
    figure.update_layout(width=width, height=height, font={"size": 14})
    target = path.with_suffix(".html")
    figure.write_html(str(target), include_plotlyjs=True)  # self-contained: works offline
    return target


def _png(study: optuna.Study, name: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    axes = getattr(optuna.visualization.matplotlib, name)(study)
    figure = getattr(axes, "figure", None) or axes.flat[0].figure
    figure.set_size_inches(*PNG_INCHES)
    target = path.with_suffix(".png")
    figure.savefig(target, dpi=PNG_DPI, bbox_inches="tight")
    plt.close(figure)
    return target
