"""What a finished study leaves behind: parent-run results and plots, the best config, a table."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from pipeline import config as config_module
from pipeline.plugins import Registries
from pipeline.search_space import trial_config
from pipeline.studies import counts
from pipeline.tracking import Tracker

PLOTS = (
    "plot_optimization_history",
    "plot_param_importances",
    "plot_parallel_coordinate",
    "plot_intermediate_values",
)


def summary(study: optuna.Study, storage: str, export: str | None) -> dict[str, Any]:
    """One JSON-ready dict: study, storage, best value/params/run id, counts by state."""
    result: dict[str, Any] = {
        "study": study.study_name,
        "storage": storage,
        "counts": counts(study),
        "best_value": None,
        "best_params": {},
        "best_run_id": None,
        "best_trial": None,
        "export": export,
    }
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if complete:
        best = study.best_trial
        result.update(
            best_value=best.value,
            best_params=best.params,
            best_trial=best.number,
            best_run_id=best.user_attrs.get("mlflow_run_id"),
        )
    return result


def top_trials(study: optuna.Study, limit: int = 5) -> list[optuna.trial.FrozenTrial]:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ordered = sorted(
        complete,
        key=lambda t: float(t.value if t.value is not None else 0.0),  # COMPLETE: always set
        reverse=study.direction == optuna.study.StudyDirection.MAXIMIZE,
    )
    return ordered[:limit]


def print_study(request: Any, facts: dict[str, Any]) -> None:
    """The best trials as a table, the exported config and the command that retrains it."""
    from pipeline.studies import open_storage

    study = optuna.load_study(study_name=facts["study"], storage=open_storage(facts["storage"]))
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(facts["counts"].items()))
    print(f"study {facts['study']} on {facts['storage']}: {states}")
    for trial in top_trials(study):
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        print(
            f"  trial {trial.number:>3}  value {trial.value:.4f}  {params}  "
            f"run {trial.user_attrs.get('mlflow_run_id', '-')}"
        )
    if facts.get("command"):
        print(f"best config: {facts['export']}; retrain it with: {facts['command']}")
    print(
        f"parent run id: {facts['parent_run_id']} (in `pipeline ui`, select the study's "
        "child runs and press Compare)"
    )


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def export_best(
    study: optuna.Study, base: dict[str, Any], registries: Registries, path: Path
) -> str:
    """Write the best trial's full config; returns the command that retrains it."""
    cfg = trial_config(base, study.best_trial.params, registries)
    command = f"pipeline train {path}"
    header = f"# {command}\n# best trial {study.best_trial.number} of study {study.study_name}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + config_module.dump_yaml(cfg), encoding="utf-8")
    return command


def log_to_parent(
    tracker: Tracker, parent: str, study: optuna.Study, facts: dict[str, Any], folder: Path
) -> None:
    """Best value, params and run id, state counts, and Optuna's plots on the parent run."""
    tracker.set_tags(parent, {f"trials.{k.lower()}": v for k, v in facts["counts"].items()})
    if facts["best_value"] is not None:
        tracker.log_metrics(parent, {"best_value": facts["best_value"]})
        tracker.set_tags(parent, {f"best.{k}": v for k, v in facts["best_params"].items()})
        tracker.set_tags(
            parent, {"best_trial": facts["best_trial"], "best_run_id": facts["best_run_id"] or ""}
        )
    folder.mkdir(parents=True, exist_ok=True)
    for path in write_plots(study, folder):
        tracker.log_artifact(parent, path, "plots")


def write_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Optuna's plots as PNG (matplotlib), and as HTML where plotly is installed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    written = []
    for name in PLOTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" warnings of optuna's plots
                axes = getattr(optuna.visualization.matplotlib, name)(study)
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue  # e.g. importances need two finished trials
        figure = getattr(axes, "figure", None) or axes.flat[0].figure
        path = folder / f"{name.removeprefix('plot_')}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
        written.extend(_html(study, name, folder))
    return written


def _html(study: optuna.Study, name: str, folder: Path) -> list[Path]:
    if not optuna.visualization.is_available():  # plotly missing
        return []
    path = folder / f"{name.removeprefix('plot_')}.html"
    getattr(optuna.visualization, name)(study).write_html(str(path))
    return [path]
