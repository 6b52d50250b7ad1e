"""``pipeline tune``: an Optuna study whose every trial is ``train(cfg)`` in a nested MLflow run.

One parent run per study; one child run per trial. Trials are sampled once by a tuning worker,
never inside a DDP rank: a multi-device trial is launched as its own ``pipeline train``
process that receives the fixed config (the known trap: each DDP rank sampling its own trial).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from pipeline import config as config_module
from pipeline.divergence import DIVERGED_LINE, Diverged
from pipeline.errors import UserError
from pipeline.plugins import Registries, default_registries
from pipeline.preflight import preflight
from pipeline.repair import TRIAL_DIED, end_stopped_run, repair_on_start
from pipeline.run_notes import command_note
from pipeline.runs import local_dir, run_name
from pipeline.search_space import SearchSpace, load_space, trial_config
from pipeline.studies import (
    fail_stale,
    load_or_create,
    open_storage,
    reserve_trial,
    storage_url,
    study_lock,
    tell,
)
from pipeline.study_report import export_best, log_to_parent, summary
from pipeline.tracking import Tracker, final_status
from pipeline.trials import TRIAL_ENV, TrialRef, trial_heartbeat
from pipeline.ui import tracked_run_link

MAX_CONSECUTIVE_FAILURES = 3


class TuneFailed(Exception):
    """No trial of the study completed; ``exit_code`` is 2 when every failure was a user error."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class TuneRequest:
    config: str
    space: str
    overrides: list[str] = field(default_factory=list)
    n_trials: int = 20
    timeout: float | None = None
    study: str | None = None
    storage: str | None = None
    workers: int = 1
    tracking_uri: str | None = None
    experiment: str | None = None
    """The study's experiment (--experiment); default tracking.study_experiment, experiment."""
    command: list[str] = field(default_factory=list)
    """The `pipeline` arguments that started it (shown in every trial run's description)."""


@dataclass
class Job:
    """What a worker process needs to run trials (picklable for spawned workers)."""

    base: dict[str, Any]
    space_path: str
    study: str
    storage: str
    n_trials: int
    deadline: float | None
    parent_run_id: str
    threads: int = 0
    note: str = ""
    """The tune command as Markdown, the start of every trial run's description."""


def tune(request: TuneRequest, export: str | None = None) -> dict[str, Any]:
    """Run (or continue) a study; returns the summary that ``--json`` prints."""
    registries = default_registries()
    base = read_base(request)
    cfg = config_module.build_config(base, registries)
    experiment = request.experiment or cfg.tracking.study_experiment or cfg.tracking.experiment
    base = config_module.deep_merge(base, {"tracking": {"experiment": experiment}})  # trials too
    space = load_space(Path(request.space), base, registries)
    check_inputs(config_module.build_config(base, registries), space)
    url = storage_url(request.storage)
    storage = open_storage(url, space.heartbeat)
    name = request.study or f"{cfg.task.name}-{Path(request.space).stem}"
    tracker = Tracker(cfg.tracking.uri)
    repair_on_start(tracker)
    with study_lock(url, name):  # one study and one parent run, however many machines start
        study = load_or_create(name, storage, space)
        parent = parent_run(tracker, study, experiment, study_tags(name, url, space))
    # Writes to the parent and to stale runs hold the study lock too: two workers setting the
    # same new tag at once make the MLflow server fail one of them (a unique-key violation).
    with final_status(tracker, parent, others_writing=lambda: trials_running(study)):
        with study_lock(url, name):
            fail_stale(study)
            repair_stale_runs(tracker, study, parent)
            tracker.log_text(parent, space.text, "search_space.yaml")
        deadline = time.time() + request.timeout if request.timeout else None
        job = Job(base, request.space, name, url, trial_count(request, space), deadline, parent)
        job.note = command_note(request.command, request.overrides)
        stopped: RuntimeError | None = None
        try:
            run_workers(job, request.workers)
        except RuntimeError as error:  # workers stopped on failing trials: summarise first
            stopped = error
        with study_lock(url, name):
            repair_stale_runs(tracker, study, parent)  # trials of workers that died meanwhile
            facts = summary(study, url, export, space.metric)
            if export and facts["best_value"] is not None:
                facts["command"] = export_best(study, base, registries, Path(export))
            log_to_parent(tracker, parent, study, facts, local_dir(parent) / "plots")
        if not facts["counts"].get("COMPLETE"):
            raise no_trial_completed(study, facts["counts"])
        if stopped is not None:
            raise stopped
    facts["parent_run_id"] = parent
    facts["ui_link"] = tracked_run_link(tracker, parent)
    return facts


def no_trial_completed(study: optuna.Study, by_state: dict[str, int]) -> TuneFailed:
    """One line: how many trials failed and the first error (exit 2 if all were user errors)."""
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    user = [trial for trial in failed if trial.user_attrs.get("user_error")]
    first = next((t.user_attrs["error"] for t in failed if "error" in t.user_attrs), None)
    message = (
        f"no trial of study {study.study_name!r} completed: {len(failed)} failed "
        f"({len(user)} on a user error) of {sum(by_state.values())} trials"
    )
    if first:
        message += f"; first error: {first.splitlines()[0][:300]}"
    return TuneFailed(message, 2 if failed and len(user) == len(failed) else 1)


def trials_running(study: optuna.Study) -> bool:
    """Whether a worker (here or on another machine) still runs a trial of the study."""
    fail_stale(study)
    return bool(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def study_tags(name: str, url: str, space: SearchSpace) -> dict[str, str]:
    return {
        "optuna.study": name,
        "optuna.storage": url,
        "optuna.sampler": space.sampler["name"],
        "optuna.pruner": space.pruner["name"],
        "optuna.direction": space.direction,
        "optuna.metric": space.metric,
    }


def read_base(request: TuneRequest) -> dict[str, Any]:
    raw = config_module.read_yaml(Path(request.config))
    overrides = list(request.overrides)
    if request.tracking_uri:
        overrides.append(f"tracking.uri={request.tracking_uri}")
    return config_module.deep_merge(raw, config_module.parse_overrides(overrides))


def run_workers(job: Job, workers: int) -> None:
    """Run the job in this process, or in K spawned worker processes sharing the storage."""
    if workers <= 1:
        worker(job)
        return
    job.threads = job.threads or max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=worker, args=(job,)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} tuning worker(s) exited with status {failed}")


INPUT_SECTIONS = ("data.", "trainer.", "tracking.")
"""Config sections whose values the preflight checks (files, devices, the store)."""


def check_inputs(cfg: config_module.Config, space: SearchSpace) -> None:
    """``train``'s preflight, once for the study before its parent run opens; skipped when
    the space samples a key of INPUT_SECTIONS (then each trial's train checks its own)."""
    if not any(param.key.startswith(INPUT_SECTIONS) for param in space.params):
        preflight(cfg)


def trial_count(request: TuneRequest, space: SearchSpace) -> int:
    """--n-trials, capped at the grid's size for the grid sampler (saying so)."""
    cap = space.trial_cap()
    if cap is not None and request.n_trials > cap:
        warnings.warn(
            f"the grid has {cap} points: tuning runs {cap} trials, not --n-trials "
            f"{request.n_trials}",
            stacklevel=2,
        )
        return cap
    return request.n_trials


def worker(job: Job) -> None:
    """Reserve and run trials until the study holds n_trials of them (or time runs out)."""
    registries = default_registries()
    space = load_space(Path(job.space_path), job.base, registries)
    storage = open_storage(job.storage, space.heartbeat)
    study = load_or_create(job.study, storage, space)
    failures = 0
    while job.deadline is None or time.time() < job.deadline:
        trial = reserve_trial(study, job.storage, job.n_trials)
        if trial is None:
            return
        state = run_trial(trial, study, storage, job, space, registries)
        failures = failures + 1 if state == TrialState.FAIL else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            raise RuntimeError(
                f"{failures} trials in a row failed; see the FAILED child runs for their errors"
            )


def run_trial(
    trial: optuna.trial.Trial,
    study: optuna.Study,
    storage: Any,
    job: Job,
    space: SearchSpace,
    registries: Registries,
) -> TrialState:
    """Train one sampled config; tell the study COMPLETE, PRUNED or FAIL."""
    trial_id = storage_trial_id(storage, study, trial)
    ref = TrialRef(
        job.storage,
        job.study,
        trial_id,
        space.metric,
        space.heartbeat["interval"],
        job.parent_run_id,
        trial.number,
        space.pruner,
        worker_name(),
    )
    trial.set_user_attr("worker", ref.worker)
    with trial_heartbeat(storage, trial_id, space.heartbeat["interval"]):
        try:
            sampled = space.sample(trial)
            cfg = trial_config(job.base, sampled, registries)
            if job.threads and not cfg.trainer.threads:
                cfg.trainer.threads = job.threads
            name_trial(cfg, trial.number)
            ref = replace(ref, note=trial_note(job.note, trial.number, sampled))
            run_id = train_trial(cfg, ref, registries)
        except KeyboardInterrupt:
            tell(study, trial, state=TrialState.FAIL)  # never left RUNNING
            raise
        except Diverged as error:  # a region of too large steps: prune it, or fail (on_divergence)
            if space.on_divergence == "fail":
                return failed_trial(trial, study, error)
            trial.set_user_attr("diverged", str(error)[:1000])
            warnings.warn(f"trial {trial.number} pruned: {error}", stacklevel=2)
            tell(study, trial, state=TrialState.PRUNED)
            return TrialState.PRUNED
        except Exception as error:  # a failed trial is recorded, the study goes on
            return failed_trial(trial, study, error)
    trial.set_user_attr("mlflow_run_id", run_id)
    frozen = storage.get_trial(trial_id)
    return tell_outcome(study, frozen, run_id, space, Tracker(cfg.tracking.uri))


def failed_trial(trial: optuna.trial.Trial, study: optuna.Study, error: Exception) -> TrialState:
    """Record the error in the trial and tell the study it FAILED."""
    trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:1000])
    trial.set_user_attr("user_error", isinstance(error, UserError))
    warnings.warn(f"trial {trial.number} failed: {error}", stacklevel=3)
    tell(study, trial, state=TrialState.FAIL)
    return TrialState.FAIL


def name_trial(cfg: config_module.Config, number: int) -> None:
    """Trial runs are named ``t07 gru-1x33-lr8.2e-3`` (a configured run_name keeps its text)."""
    cfg.tracking.run_name = f"t{number:02d} {cfg.tracking.run_name or run_name(cfg)}"


def trial_note(note: str, number: int, sampled: dict[str, Any]) -> str:
    """The tune command's description, then the trial number and the values it sampled."""
    values = [f"- `{k}={f'{v:.4g}' if isinstance(v, float) else v}`" for k, v in sampled.items()]
    return "\n".join([note, "", f"Trial {number} sampled:", "", *values])


def storage_trial_id(storage: Any, study: optuna.Study, trial: optuna.trial.Trial) -> int:
    """The storage's id of trial, through the storage's public API (Trial keeps it private)."""
    study_id = storage.get_study_id_from_name(study.study_name)
    return int(storage.get_trial_id_from_study_id_trial_number(study_id, trial.number))


def worker_name() -> str:
    """host:pid, tagged on each trial and its run (which machine ran what)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def train_trial(cfg: config_module.Config, ref: TrialRef, registries: Registries) -> str:
    """train(cfg) in this process, or as a DDP launch of `pipeline train` for many devices."""
    if not _multi_process(cfg):
        from pipeline.train import train

        return train(cfg, registries=registries, **ref.train_options()).run_id
    return _launch_train(cfg, ref)


def _multi_process(cfg: config_module.Config) -> bool:
    devices = cfg.trainer.devices
    many = (isinstance(devices, int) and devices > 1) or cfg.trainer.num_nodes > 1
    return many or "ddp" in cfg.trainer.strategy


def _launch_train(cfg: config_module.Config, ref: TrialRef) -> str:
    """`pipeline train` as a subprocess with the trial's fixed config; returns its run id."""
    path = local_dir("tune") / f"{ref.study}-trial-{ref.number}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_module.dump_yaml(cfg), encoding="utf-8")
    command = [sys.executable, "-m", "pipeline.cli", "train", str(path), "--json"]
    done = subprocess.run(
        command,
        env={**os.environ, TRIAL_ENV: ref.to_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    diverged = [line for line in done.stderr.splitlines() if line.startswith(DIVERGED_LINE)]
    if done.returncode == 2 and diverged:  # its run is FAILED and tagged: the trial as in-process
        raise Diverged(diverged[-1].removeprefix("error: "))
    if done.returncode != 0:
        raise RuntimeError(f"trial training exited {done.returncode}: {done.stderr[-800:]}")
    return str(json.loads(done.stdout)["run_id"])


def tell_outcome(
    study: optuna.Study,
    frozen: optuna.trial.FrozenTrial,
    run_id: str,
    space: SearchSpace,
    tracker: Tracker,
) -> TrialState:
    """Tell the study the trial's best reported value (COMPLETE) or that it was PRUNED.

    frozen is the trial as stored after training (its reports came from the training run).
    """
    reported = list(frozen.intermediate_values.values())
    if "pruned_at_epoch" in frozen.user_attrs:
        state, value = TrialState.PRUNED, None
    elif reported:
        state = TrialState.COMPLETE
        value = (min if space.direction == "minimize" else max)(reported)
    else:
        state, value = TrialState.FAIL, None
    tell(study, frozen.number, value, state=state)
    tracker.set_tags(run_id, {"optuna.state": state.name})
    return state


def parent_run(tracker: Tracker, study: optuna.Study, experiment: str, tags: dict[str, str]) -> str:
    """The study's parent run: the one recorded in the study, reopened, or a new one."""
    known = study.user_attrs.get("mlflow_parent_run_id")
    if known:
        try:
            tracker.get_run(known)
            tracker.reopen(known)
            return str(known)
        except LookupError:
            pass
    run_id = tracker.create_run(experiment, f"study-{study.study_name}", tags)
    study.set_user_attr("mlflow_parent_run_id", run_id)
    return run_id


def repair_stale_runs(tracker: Tracker, study: optuna.Study, parent: str) -> int:
    """End child runs still RUNNING whose trial is over (a worker was killed): FAILED."""
    live = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    repaired = 0
    for run in tracker.child_runs(parent, status="RUNNING"):
        if int(run.data.tags.get("optuna.trial", -1)) not in live:
            end_stopped_run(tracker, run, "FAILED", TRIAL_DIED)
            repaired += 1
    return repaired
