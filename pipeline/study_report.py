"""What a finished study leaves behind: parent-run results and plots, the best config, a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from pipeline import config as config_module
from pipeline.plugins import Registries
from pipeline.run_notes import NOTE_TAG
from pipeline.search_space import trial_config
from pipeline.studies import counts
from pipeline.study_plots import write_plots
from pipeline.tracking import Tracker


def summary(study: optuna.Study, storage: str, export: str | None, metric: str) -> dict[str, Any]:
    """One JSON-ready dict: study, storage, objective, best value/params/run id, state counts."""
    result: dict[str, Any] = {
        "study": study.study_name,
        "storage": storage,
        "objective": f"best_{metric}",
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
    """The objective's best value, the best trial's params, a description and Optuna's plots."""
    tracker.set_tags(parent, {f"trials.{k.lower()}": v for k, v in facts["counts"].items()})
    if facts["best_value"] is not None:
        tracker.log_metrics(parent, {facts["objective"]: facts["best_value"]})
        _log_best_params(tracker, parent, facts)
        tracker.set_tags(
            parent, {"best_trial": facts["best_trial"], "best_run_id": facts["best_run_id"] or ""}
        )
    tracker.set_tags(parent, {NOTE_TAG: parent_note(tracker, parent, study, facts)})
    for path in write_plots(study, folder):
        tracker.log_artifact(parent, path, "plots")


def _log_best_params(tracker: Tracker, parent: str, facts: dict[str, Any]) -> None:
    """The best run's params on the parent, so it lines up with its children column by column.

    MLflow params never change (PITFALLS): when a continued study finds a better trial, keys
    already logged keep their value; tag ``params_trial`` says whose they are.
    """
    run_id = facts["best_run_id"]
    params = tracker.get_run(run_id).data.params if run_id else facts["best_params"]
    logged = tracker.get_run(parent).data.params
    fresh = {k: v for k, v in params.items() if k not in logged}
    if fresh:
        tracker.log_params(parent, fresh)
    if not logged:
        tracker.set_tags(parent, {"params_trial": facts["best_trial"]})


def parent_note(tracker: Tracker, parent: str, study: optuna.Study, facts: dict[str, Any]) -> str:
    """Markdown description: objective, best value, links to the best run and to all trials."""
    from pipeline.ui import compare_link, run_link, ui_root

    root = ui_root(tracker.uri)
    experiment = tracker.get_run(parent).info.experiment_id
    direction = study.direction.name.lower()  # MINIMIZE / MAXIMIZE
    objective = facts["objective"]
    lines = [f"Study `{facts['study']}`: {direction} `{objective.removeprefix('best_')}`."]
    if facts["best_value"] is not None:
        lines.append(f"`{objective}` = {facts['best_value']:.4g} in trial {facts['best_trial']}.")
        if facts["best_run_id"]:
            link = run_link(root, experiment, facts["best_run_id"])
            lines += ["", f"- [best run (trial {facts['best_trial']})]({link})"]
    trials = [run.info.run_id for run in tracker.child_runs(parent)]
    if trials:
        lines.append(
            f"- [compare all {len(trials)} trial runs]({compare_link(root, experiment, trials)})"
        )
    return "\n".join(lines)
