"""Heartbeats: a thread that records "still alive" every few seconds while work runs.

Tuning trials beat into Optuna's storage (:func:`pipeline.trials.trial_heartbeat`); training
runs beat into their MLflow run as the tag ``pipeline.heartbeat`` (:func:`run_heartbeat`), with
their interval beside it, so whoever finds a RUNNING run can tell whether its process is gone
(:mod:`pipeline.repair`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType

from pipeline.errors import UserError
from pipeline.tracking import Tracker

HEARTBEAT_TAG = "pipeline.heartbeat"
"""The run's last beat, in milliseconds since the epoch."""
INTERVAL_TAG = "pipeline.heartbeat_interval_s"
INTERVAL_ENV = "RNN_PIPELINE_HEARTBEAT_S"
DEFAULT_INTERVAL_S = 10.0
log = logging.getLogger(__name__)


class Heartbeat:
    """Call ``beat`` at once and then every ``interval`` seconds until the with block ends.

    ``beat=None`` beats nothing (a storage without heartbeats). A beat that fails (a store
    busy for a moment) is logged and tried again at the next interval.
    """

    def __init__(self, beat: Callable[[], None] | None, interval: float) -> None:
        self.beat, self.interval = beat, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def _run(self) -> None:
        assert self.beat is not None
        while True:
            try:
                self.beat()
            except Exception as error:  # noqa: BLE001  # the next beat may well succeed
                log.warning(
                    "heartbeat not recorded (%s); trying again in %s s", error, self.interval
                )
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Heartbeat:
        if self.beat is not None:
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def run_interval() -> float:
    """Seconds between a training run's beats: RNN_PIPELINE_HEARTBEAT_S, else 10."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise UserError(f"{INTERVAL_ENV}={text!r}: give the seconds between beats, e.g. 10")
    return value


def heartbeat_tags(interval: float) -> dict[str, str]:
    """A beat now, and the interval the next ones come at."""
    return {HEARTBEAT_TAG: str(now_ms()), INTERVAL_TAG: f"{interval:g}"}


def run_heartbeat(tracker: Tracker, run_id: str, interval: float) -> Heartbeat:
    """Beat into run_id's tags while the with block runs."""
    return Heartbeat(lambda: tracker.set_tags(run_id, {HEARTBEAT_TAG: now_ms()}), interval)


def now_ms() -> int:
    return int(time.time() * 1000)
