"""Optuna's plots of a study: self-contained HTML with plotly, large PNGs without it.

Without plotly runs in a subprocess where a ``sys.modules`` entry set to None hides plotly
before optuna is imported (optuna decides once, at import, whether plotly is available)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import optuna
from matplotlib import image

from pipeline.study_plots import write_plots

HERE = Path(__file__).resolve().parent
WITHOUT_PLOTLY = (
    "import sys; sys.modules['plotly'] = None; from pathlib import Path; "
    "from test_study_plots import small_study; from pipeline.study_plots import write_plots; "
    "write_plots(small_study(), Path(sys.argv[1]))"
)


def small_study() -> optuna.Study:
    """Six random trials over two parameters."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("lr", 1e-4, 1e-1, log=True) + trial.suggest_int("h", 8, 64)

    study.optimize(objective, n_trials=6)
    return study


def test_plots_are_self_contained_html_with_plotly(tmp_path: Path) -> None:
    assert find_spec("plotly"), "plotly is in the test extra: pip install -e '.[test]'"
    written = write_plots(small_study(), tmp_path / "plots")
    assert {p.name for p in written} >= {"optimization_history.html", "parallel_coordinate.html"}
    for path in written:
        page = path.read_text(encoding="utf-8")
        assert path.suffix == ".html" and "Plotly.newPlot" in page, path.name
        assert not re.search(r"<script[^>]*\bsrc\s*=", page), f"{path.name} loads a script"


def test_plots_are_large_pngs_without_plotly(tmp_path: Path) -> None:
    folder = tmp_path / "plots"
    paths = [str(HERE), os.environ.get("PYTHONPATH", ""), str(HERE.parents[1])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PLOTLY, str(folder)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-4000:]
    written = sorted(folder.iterdir())
    assert {p.name for p in written} >= {"optimization_history.png", "parallel_coordinate.png"}
    for path in written:
        assert path.suffix == ".png", path.name
        height, width = image.imread(path).shape[:2]
        assert width >= 1100 and height >= 650, (path.name, width, height)  # was ~640x480
