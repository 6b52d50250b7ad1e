"""Runs whose process died (SIGKILL, OOM, power loss) ended for good instead of RUNNING forever.

A training run records a heartbeat (:mod:`pipeline.heartbeat`). A RUNNING run is stale when its
last beat is older than ``MISSED_BEATS`` of its own intervals and no process holds its run
folder's lock (a live owner on this machine always does). The next ``train``, ``tune``,
``evaluate`` or ``predict`` on the store, and ``pipeline runs repair``, end such runs: KILLED,
with the last epoch and the last checkpoint recorded as tags and that checkpoint logged, so
``--resume`` continues it anywhere. A tuning trial's run ends FAILED as ``pipeline tune`` ends
it when its worker dies (the study retries the trial). Runs without a heartbeat tag (a study's
parent run, runs of other tools) are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlflow.entities import Run

from pipeline.checkpoints import load_weights_only, log_checkpoint
from pipeline.errors import UserError
from pipeline.heartbeat import HEARTBEAT_TAG, INTERVAL_TAG, now_ms
from pipeline.locks import held_if_free
from pipeline.runs import checkpoint_dir
from pipeline.tracking import Tracker

MISSED_BEATS = 3
TRIAL_DIED = {"optuna.state": "FAIL", "error": "worker died; trial failed by heartbeat"}
"""How a tuning trial's run ends when its worker died (``pipeline tune`` retries the trial)."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repaired:
    """One run that was left RUNNING by a process that is gone, and how it was ended."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    last_beat: str
    """When its heartbeat stopped (ISO 8601, UTC)."""
    last_epoch: int | None
    checkpoint: str | None
    """The last checkpoint found for it (logged to the run), if any."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        epoch = "no epoch finished" if self.last_epoch is None else f"last epoch {self.last_epoch}"
        saved = f"checkpoint {self.checkpoint}" if self.checkpoint else "no checkpoint"
        return (
            f"run {self.run_id} ({self.run_name}) stopped beating at {self.last_beat}: "
            f"{self.status}, {epoch}, {saved}"
        )


def repair_stale_runs(tracker: Tracker) -> list[Repaired]:
    """End every stale run of the store (see the module docstring); what was repaired."""
    repaired = []
    for run in tracker.running_runs():
        if not is_stale(run):
            continue
        with _owner_gone(run.info.run_id) as gone:
            current = tracker.get_run(run.info.run_id)  # it may have been resumed meanwhile
            if gone and current.info.status == "RUNNING" and is_stale(current):
                status, tags = _fate(current)
                repaired.append(end_stopped_run(tracker, current, status, tags))
    return repaired


def repair_on_start(tracker: Tracker) -> list[Repaired]:
    """:func:`repair_stale_runs` as a command starts, each repair told on stderr."""
    repaired = repair_stale_runs(tracker)
    for run in repaired:
        print(f"repaired: {run.describe()}", file=sys.stderr)
    return repaired


def _fate(run: Run) -> tuple[str, dict[str, str]]:
    """KILLED for a training run; a tuning trial's run FAILED, as ``pipeline tune`` ends it."""
    return ("FAILED", TRIAL_DIED) if "optuna.trial" in run.data.tags else ("KILLED", {})


def is_stale(run: Run, now: int | None = None) -> bool:
    """RUNNING with a heartbeat older than MISSED_BEATS of its intervals (no beat: never)."""
    tags = run.data.tags
    try:
        beat, interval = int(tags[HEARTBEAT_TAG]), float(tags[INTERVAL_TAG])
    except (KeyError, ValueError):
        return False
    age_ms = (now if now is not None else now_ms()) - beat
    return run.info.status == "RUNNING" and age_ms > MISSED_BEATS * interval * 1000


def end_stopped_run(tracker: Tracker, run: Run, status: str, tags: dict[str, str]) -> Repaired:
    """End a run whose process is gone: its last epoch and checkpoint as tags, then status."""
    run_id = run.info.run_id
    checkpoint, last_epoch = _log_last_checkpoint(tracker, run_id)
    tracker.set_tags(
        run_id,
        {
            **tags,
            "pipeline.repaired": f"{status}: its process stopped (no heartbeat)",
            "pipeline.last_epoch": "none" if last_epoch is None else last_epoch,
            "pipeline.last_checkpoint": checkpoint or "none",
        },
    )
    tracker.end(run_id, status)
    beat = datetime.fromtimestamp(int(run.data.tags.get(HEARTBEAT_TAG, 0)) / 1000, timezone.utc)
    return Repaired(
        run_id,
        run.info.run_name or "",
        run.info.experiment_id,
        status,
        beat.isoformat(timespec="seconds"),
        last_epoch,
        checkpoint,
    )


def _log_last_checkpoint(tracker: Tracker, run_id: str) -> tuple[str | None, int | None]:
    """Log the run's local last.ckpt when it loads (a damaged one never replaces a logged one);
    returns its path and the epoch it was saved in (Lightning's 0-based count)."""
    path = checkpoint_dir(run_id) / "last.ckpt"
    if not path.is_file():
        return None, None
    try:
        saved = load_weights_only(path)
    except UserError as error:
        log.warning("run %s: its last checkpoint is not usable (%s); not logged", run_id, error)
        return None, None
    log_checkpoint(tracker, run_id, path)
    epoch = saved.get("epoch")
    return str(path), int(epoch) if isinstance(epoch, int) else None


@contextlib.contextmanager
def _owner_gone(run_id: str) -> Iterator[bool]:
    """Hold the run folder's lock for the block: True when no live process holds it here."""
    folder = checkpoint_dir(run_id)
    if not folder.is_dir():  # no owner on this machine ever wrote here: the heartbeat decides
        yield True
        return
    with held_if_free(Path(folder) / ".lock") as free:
        yield free
