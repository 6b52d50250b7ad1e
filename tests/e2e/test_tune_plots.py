"""`pipeline tune` logs Optuna's plots of the study on the parent run: self-contained
interactive HTML when plotly is importable, PNG when it is not.

Each study runs in a subprocess; plotly's absence is simulated there by a ``sys.modules``
entry set to None before anything imports it (optuna decides once, at import, whether plotly
is available)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow
FAST = ["trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.limit_val_batches=2"]
SPACE = {
    "sampler": {"name": "random", "seed": 3},
    "pruner": {"name": "none"},
    "params": {"optim.lr": {"float": [1.0e-3, 3.0e-2], "log": True}},
}
WITHOUT_PLOTLY = "import sys; sys.modules['plotly'] = None; "
TUNE = "from pipeline.cli import main; raise SystemExit(main(sys.argv[1:]))"


def tune(workdir: Path, config: Path, plotly: bool) -> dict[str, Any]:
    """``pipeline tune`` of two trials in a fresh process; its --json facts."""
    space = workdir / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE), encoding="utf-8")
    code = ("import sys; " if plotly else WITHOUT_PLOTLY) + TUNE
    argv = ["tune", str(config), *FAST, "--space", str(space), "--n-trials", "2", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return facts


def logged_plots(facts: dict[str, Any], folder: Path) -> list[Path]:
    """The parent run's ``plots`` artifacts, downloaded as a user would."""
    client = MlflowClient(tracking_uri())
    downloaded = client.download_artifacts(facts["parent_run_id"], "plots", str(folder))
    return sorted(Path(downloaded).iterdir())


def test_study_plots_are_self_contained_html_with_plotly(lm_config: Path, workdir: Path) -> None:
    assert find_spec("plotly"), "plotly is in the test extra: pip install -e '.[test]'"
    plots = logged_plots(tune(workdir, lm_config, plotly=True), workdir / "downloaded")
    assert {"optimization_history.html", "parallel_coordinate.html"} <= {p.name for p in plots}
    for path in plots:
        assert path.suffix == ".html", path.name
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]*\bsrc\s*=", page), f"{path.name} loads a script"
        assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js is inline


def test_study_plots_are_png_without_plotly(lm_config: Path, workdir: Path) -> None:
    plots = logged_plots(tune(workdir, lm_config, plotly=False), workdir / "downloaded")
    assert {"optimization_history.png", "parallel_coordinate.png"} <= {p.name for p in plots}
    for path in plots:
        assert path.suffix == ".png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path.name
