"""MLflow: store location, runs, params, metrics, artifacts, and a final status for every run.

The default store is SQLite at ``mlruns/mlflow.db`` with artifacts under ``mlruns/artifacts``:
MLflow >= 3.13 refuses the old plain-folder ``./mlruns`` store (mlflow#18534).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, Run, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.registry import UnsupportedModelRegistryStoreURIException

from pipeline.errors import UserError
from pipeline.sqlite_store import open_sqlite_client

STORE_DIR = Path("mlruns")
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # "Creating tables..."
MAX_PARAM_LENGTH = 6000  # MLflow's limit for one param value


class RunNotFound(UserError, LookupError):
    """A run id that the tracking store does not have."""


class ArtifactNotFound(UserError, FileNotFoundError):
    """A file that a run should have logged but has not (e.g. killed before its checkpoint)."""


class TrackingUriError(UserError):
    """A tracking URI that MLflow cannot open (unknown scheme, refused plain-folder store)."""


def tracking_uri(configured: str | None = None) -> str:
    """``tracking.uri``, else MLFLOW_TRACKING_URI, else SQLite at mlruns/mlflow.db."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(Path.cwd() / STORE_DIR / 'mlflow.db').as_posix()}"


def default_artifact_root(uri: str) -> str | None:
    """Artifacts beside a local SQLite store (mlruns/artifacts); servers choose their own."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()


class Tracker:
    """A thin, explicit wrapper over ``MlflowClient``: every call names its run id."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = tracking_uri(uri)

    @functools.cached_property
    def client(self) -> MlflowClient:
        """Opened on first use (opening a new SQLite store creates its tables): DDP ranks
        other than 0, which log nothing, never touch the store, so they cannot race rank 0.
        A local SQLite store is created under a file lock (see :mod:`pipeline.sqlite_store`)."""
        if self.uri.startswith("sqlite:///"):
            return open_sqlite_client(self.uri)
        return _open_client(self.uri)

    def experiment_id(self, name: str) -> str:
        """Id of the experiment called name, created (with local artifacts) when missing."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self.client.create_experiment(
                name, artifact_location=default_artifact_root(self.uri)
            )
        except MlflowException as error:  # another process created it first
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            existing = self.client.get_experiment_by_name(name)
            if existing is None:  # it existed a moment ago: deleted meanwhile
                raise
            return str(existing.experiment_id)

    def create_run(self, experiment: str, name: str, tags: dict[str, str]) -> str:
        run = self.client.create_run(self.experiment_id(experiment), run_name=name, tags=tags)
        return str(run.info.run_id)

    def get_run(self, run_id: str) -> Any:
        try:
            return self.client.get_run(run_id)
        except MlflowException as error:
            raise RunNotFound(
                f"run {run_id!r} does not exist in the tracking store {self.uri}; "
                "copy a run id from `pipeline train` output or the MLflow UI (`pipeline ui`), "
                "or pass --tracking-uri for another store"
            ) from error

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Params as strings (None as ''), truncated to MLflow's limit, in batches of 100."""
        items = [
            Param(k, "" if v is None else str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()
        ]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        timestamp = _now_ms()
        batch = [Metric(k, float(v), timestamp, step) for k, v in metrics.items()]
        for start in range(0, len(batch), 500):
            self.client.log_batch(run_id, metrics=batch[start : start + 500])

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id, key, str(value)[:MAX_PARAM_LENGTH])

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        if path.is_dir():
            self.client.log_artifacts(run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(run_id, str(path), artifact_path)

    def download(self, run_id: str, artifact_path: str, destination: Path) -> Path:
        """Copy one artifact (file or folder) of run into destination; returns its local path."""
        self.get_run(run_id)
        try:
            local = self.client.download_artifacts(run_id, artifact_path, str(destination))
        except (MlflowException, OSError) as error:
            raise ArtifactNotFound(
                f"run {run_id} has no artifact {artifact_path!r} (was it trained to the end, "
                f"or killed before its first checkpoint?): {error}"
            ) from error
        return Path(local)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """text as the run's artifact file (a path inside the run's artifacts)."""
        self.client.log_text(run_id, text, artifact_file)

    def metric_history(self, run_id: str, key: str) -> list[float]:
        """Every value logged for the metric key, in logging order ([] when never logged)."""
        return [metric.value for metric in self.client.get_metric_history(run_id, key)]

    def child_runs(self, parent_id: str, status: str | None = None) -> list[Run]:
        """Runs nested under parent_id (tag ``mlflow.parentRunId``), optionally in one status."""
        experiment = self.get_run(parent_id).info.experiment_id
        query = f"tags.mlflow.parentRunId = '{parent_id}'"
        if status:
            query += f" and attributes.status = '{status}'"
        return list(self.client.search_runs([experiment], filter_string=query))

    def running_runs(self) -> list[Run]:
        """Every RUNNING run of the store's active experiments."""
        experiments = [e.experiment_id for e in self.client.search_experiments()]
        found: list[Run] = []
        token = None
        while experiments:
            page = self.client.search_runs(
                experiments, "attributes.status = 'RUNNING'", max_results=1000, page_token=token
            )
            found.extend(page)
            token = page.token
            if not token:
                break
        return found

    def end(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status)

    def reopen(self, run_id: str) -> None:
        self.client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))


@contextmanager
def final_status(
    tracker: Tracker, run_id: str, others_writing: Callable[[], bool] | None = None
) -> Iterator[None]:
    """End the run FINISHED, KILLED (Ctrl-C, SIGTERM) or FAILED (with the error as a tag).

    ``others_writing`` (e.g. "another tuning worker still runs a trial of this study") keeps
    a successful run RUNNING for the process that finishes last to end.
    """
    try:
        yield
    except KeyboardInterrupt:
        tracker.end(run_id, "KILLED")
        raise
    except BaseException as error:
        tracker.set_tags(run_id, {"error": f"{type(error).__name__}: {error}"})
        tracker.end(run_id, "FAILED")
        raise
    if others_writing is None or not others_writing():
        tracker.end(run_id, "FINISHED")


def _open_client(uri: str) -> MlflowClient:
    """MlflowClient for uri; a URI MLflow refuses is the user's to fix, not a traceback."""
    try:
        return MlflowClient(tracking_uri=uri)
    except MlflowException as error:
        refused = isinstance(error, UnsupportedModelRegistryStoreURIException)
        if not refused and error.error_code != "INVALID_PARAMETER_VALUE":
            raise
        raise TrackingUriError(
            f"tracking URI {uri!r} cannot be opened ({error.message.split('. ')[0]}); "
            "set tracking.uri, --tracking-uri or MLFLOW_TRACKING_URI to sqlite:///PATH/mlflow.db "
            "or http://HOST:PORT"
        ) from error


def git_commit(directory: Path | None = None) -> str | None:
    """HEAD commit of the git checkout holding directory (default: cwd), if there is one."""
    if shutil.which("git") is None:
        return None
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def _now_ms() -> int:
    return int(time.time() * 1000)
