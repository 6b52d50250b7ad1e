"""Optuna's plots of a study are written large enough to read (PNG without plotly)."""

from __future__ import annotations

from pathlib import Path

import optuna
from matplotlib import image

from pipeline.study_plots import write_plots


def test_plots_are_large_pngs_without_plotly(tmp_path: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("lr", 1e-4, 1e-1, log=True) + trial.suggest_int("h", 8, 64)

    study.optimize(objective, n_trials=6)
    written = write_plots(study, tmp_path / "plots")
    assert optuna.visualization.is_available() or all(p.suffix == ".png" for p in written)
    assert {p.stem for p in written} >= {"optimization_history", "parallel_coordinate"}
    for path in written:
        if path.suffix == ".png":
            height, width = image.imread(path).shape[:2]
            assert width >= 1100 and height >= 650, (path.name, width, height)  # was ~640x480
