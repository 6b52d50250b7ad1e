"""Optuna studies: storage URLs, samplers and pruners from a space, exact trial reservation.

Storage: ``sqlite:///mlruns/optuna.db`` by default (with a lock timeout so parallel workers
wait instead of failing with "database is locked", optuna#820); any RDB URL such as
``postgresql://user@host/db`` for workers on many machines (needs a driver:
``pip install 'psycopg[binary]'``); ``journal:PATH`` for a journal
file (Optuna's JournalFileBackend, good for many processes on one shared file system).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState
from sqlalchemy.exc import ArgumentError

from pipeline.errors import UserError
from pipeline.locks import file_lock
from pipeline.search_space import SearchSpace
from pipeline.tracking import STORE_DIR


class StorageError(UserError):
    """A --storage URL that Optuna cannot open (unparsable, unknown database, no driver)."""


def counted_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that count towards --n-trials: all but queued retries and the stale trials they
    repeat (a heartbeat-stale trial is failed and queued again as WAITING)."""
    trials = study.get_trials(deepcopy=False)
    retried = {number for t in trials for number in t.system_attrs.get("retry_history", [])}
    return [t for t in trials if t.state != TrialState.WAITING and t.number not in retried]


def storage_url(url: str | None) -> str:
    return url or f"sqlite:///{(Path.cwd() / STORE_DIR / 'optuna.db').as_posix()}"


def open_storage(url: str, heartbeat: dict[str, int] | None = None) -> Any:
    """An Optuna storage for url; RDB storages get heartbeats and retry stale trials."""
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = Path(url.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    engine: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = {"connect_args": {"timeout": 120}}
    beat = heartbeat or {}
    try:
        # The first RDBStorage on an empty database creates Optuna's tables: one at a time.
        with storage_lock(url, "schema"), warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats
            return RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=beat.get("interval"),
                grace_period=beat.get("grace"),
                heartbeat_stale_trial_callback=(
                    RetryHeartbeatStaleTrialCallback(max_retry=2) if beat else None
                ),
            )
    except (ArgumentError, ImportError) as error:  # a URL SQLAlchemy cannot parse, no driver
        raise StorageError(
            f"--storage {url!r} cannot be opened ({error}); use sqlite:///PATH.db, "
            "postgresql://USER@HOST/DB (pip install 'rnn-pipeline[postgres]') or journal:PATH"
        ) from error


def tell(
    study: optuna.Study,
    trial: optuna.trial.Trial | int,
    value: float | None = None,
    state: TrialState | None = None,
) -> None:
    """``study.tell``, less the grid sampler's stop request.

    Once every grid point has a finished trial, optuna's GridSampler calls ``Study.stop``,
    which raises outside ``Study.optimize``; the trial is stored all the same. The workers
    stop by themselves: ``pipeline tune`` caps its trials at the grid's size.
    """
    try:
        study.tell(trial, value, state=state)
    except RuntimeError as error:
        grid_done = isinstance(study.sampler, optuna.samplers.GridSampler)
        if not (grid_done and "Study.stop" in str(error)):
            raise


def make_sampler(space: SearchSpace) -> optuna.samplers.BaseSampler:
    settings = dict(space.sampler)
    name, seed = settings.pop("name"), settings.pop("seed", None)
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, **settings)


def make_pruner(spec: dict[str, Any]) -> optuna.pruners.BasePruner:
    """median (default), hyperband or none, from a space's ``pruner:`` section."""
    settings = dict(spec)
    name = settings.pop("name")
    if name == "median":
        return optuna.pruners.MedianPruner(**settings)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(**settings)
    return optuna.pruners.NopPruner()


def load_or_create(name: str, storage: Any, space: SearchSpace) -> optuna.Study:
    return optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=make_sampler(space),
        pruner=make_pruner(space.pruner),
        direction=optuna.study.StudyDirection[space.direction.upper()],
        load_if_exists=True,
    )


def study_lock(url: str, study: str) -> contextlib.AbstractContextManager[None]:
    """Serialise a study's critical sections among its workers: "count trials, then ask" (no
    surplus trial) and the creation of the study and its parent run (one parent)."""
    return storage_lock(url, f"study:{study}")


@contextlib.contextmanager
def storage_lock(url: str, name: str) -> Iterator[None]:
    """A lock called name shared by every process that opens the storage at url.

    PostgreSQL storages take an advisory lock in the database itself, so workers on any
    machine wait for each other (the lock dies with its connection: a killed worker frees it).
    Other storages take a file lock: beside a SQLite or journal file (shared by everything that
    opens that file), else in the temp folder (workers on this machine only).
    """
    if url.startswith(("postgresql:", "postgresql+")):
        with _advisory_lock(url, _lock_key(name)):
            yield
        return
    with file_lock(_lock_folder(url) / f".optuna-{_digest(f'{url}|{name}')}.lock"):
        yield


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key (PostgreSQL's bigint) for the lock's name."""
    return int.from_bytes(bytes.fromhex(_digest(f"rnn-pipeline|{name}")), "big", signed=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _lock_folder(url: str) -> Path:
    for prefix in ("sqlite:///", "journal:"):
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix)).parent
    return Path(tempfile.gettempdir())


@functools.cache
def _lock_engine(url: str) -> Any:
    import sqlalchemy

    return sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)


@contextlib.contextmanager
def _advisory_lock(url: str, key: int) -> Iterator[None]:
    from sqlalchemy import text

    with _lock_engine(url).connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def fail_stale(study: optuna.Study) -> None:
    """Fail trials whose worker stopped beating (their retries are queued as WAITING)."""
    with warnings.catch_warnings():
        # Heartbeats are recorded by pipeline.trials.trial_heartbeat around ask/tell, so Optuna's
        # "use Study.optimize" and "experimental" warnings do not apply here.
        warnings.simplefilter("ignore")
        fail_stale_trials(study)


def reserve_trial(study: optuna.Study, url: str, n_trials: int) -> optuna.trial.Trial | None:
    """A new (or retried) trial, unless the study already holds n_trials counted ones."""
    with study_lock(url, study.study_name), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "heartbeat is for Study.optimize": ours runs anyway
        fail_stale(study)
        if len(counted_trials(study)) >= n_trials:
            return None
        return study.ask()


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state name, e.g. {"COMPLETE": 18, "PRUNED": 2}."""
    result: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        result[trial.state.name] = result.get(trial.state.name, 0) + 1
    return result
