"""`pipeline runs list|compare` data: runs of an experiment and runs side by side, as tables.

The terminal complement of the MLflow UI's runs table and compare view, for machines without
a browser. Values are the ones the UI shows: a metric's latest value, params as logged.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.errors import UserError

if TYPE_CHECKING:
    from pipeline.tracking import Tracker

NUMBER = re.compile(r"-?\d+(\.\d*)?(e[-+]?\d+)?|-?inf|nan|-")
HIDDEN_METRICS = ("lr",)  # changes within a run; its final value says little in a table


@dataclass
class Table:
    """Column names and rows of cells (text), with the same data ready for --json."""

    columns: list[str]
    rows: list[list[str]]
    data: dict[str, Any]

    def render(self) -> str:
        """Columns aligned, two spaces apart; numbers right-aligned, text left-aligned."""
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(self.columns)]
        lines = [self.columns, *self.rows]
        return "\n".join(
            "  ".join(
                _align(cell, width) for cell, width in zip(line, widths, strict=True)
            ).rstrip()
            for line in lines
        )


def find_experiment(tracker: Tracker, name: str | None) -> Any | None:
    """The experiment called name (UserError naming the others when missing), else the
    latest run's; None when the store holds no run yet."""
    client = tracker.client
    if name is not None:
        found = client.get_experiment_by_name(name)
        if found is None:
            names = sorted(e.name for e in client.search_experiments())
            raise UserError(
                f"no experiment {name!r} in {tracker.uri}; --experiment is one of: "
                f"{', '.join(names) or '(none yet: train a run first)'}"
            )
        return found
    ids = [e.experiment_id for e in client.search_experiments()]
    latest = client.search_runs(ids, order_by=["attributes.start_time DESC"], max_results=1)
    return client.get_experiment(latest[0].info.experiment_id) if latest else None


def list_table(runs: Sequence[Any], sort: str | None, descending: bool) -> Table:
    """One row per run: id, name, status, start time and every final metric value."""
    metrics = sorted({k for run in runs for k in run.data.metrics if k not in HIDDEN_METRICS})
    if sort is not None and sort not in metrics:
        raise UserError(
            f"--sort {sort}: no run here logged that metric; one of: {', '.join(metrics) or '-'}"
        )
    ordered = sorted(runs, key=lambda run: run.info.start_time or 0, reverse=True)
    if sort is not None:
        ordered = _sorted_by(ordered, sort, descending)
    columns = ["run_id", "name", "status", "started", *metrics]
    rows = [
        [
            run.info.run_id,
            run.info.run_name or "",
            run.info.status,
            _started(run.info.start_time),
            *(_number(run.data.metrics.get(k)) for k in metrics),
        ]
        for run in ordered
    ]
    data = {"runs": [_run_record(run) for run in ordered]}
    return Table(columns, rows, data)


def compare_table(runs: Sequence[Any]) -> Table:
    """Runs as columns; rows: the params whose values differ, then every metric."""
    params = sorted({k for run in runs for k in run.data.params})
    differing = [k for k in params if len({run.data.params.get(k) for run in runs}) > 1]
    metrics = sorted({k for run in runs for k in run.data.metrics if k not in HIDDEN_METRICS})
    columns = ["", *(run.info.run_name or run.info.run_id for run in runs)]
    rows = [["run_id", *(run.info.run_id[:8] for run in runs)]]
    rows += [[k, *(run.data.params.get(k, "-") for run in runs)] for k in differing]
    rows += [[k, *(_number(run.data.metrics.get(k)) for run in runs)] for k in metrics]
    data = {
        "runs": [{"run_id": r.info.run_id, "name": r.info.run_name} for r in runs],
        "params": {k: [run.data.params.get(k) for run in runs] for k in differing},
        "metrics": {k: [run.data.metrics.get(k) for run in runs] for k in metrics},
    }
    return Table(columns, rows, data)


def _sorted_by(runs: list[Any], metric: str, descending: bool) -> list[Any]:
    """By metric (runs without it last, whatever the direction)."""
    present = [run for run in runs if metric in run.data.metrics]
    missing = [run for run in runs if metric not in run.data.metrics]
    present.sort(key=lambda run: float(run.data.metrics[metric]), reverse=descending)
    return present + missing


def _run_record(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.info.run_id,
        "name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "metrics": dict(run.data.metrics),
    }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return "nan" if math.isnan(value) else f"{value:.4g}"


def _started(start_ms: int | None) -> str:
    if not start_ms:
        return "-"
    moment = datetime.datetime.fromtimestamp(start_ms / 1000)
    return moment.strftime("%Y-%m-%d %H:%M")


def _align(cell: str, width: int) -> str:
    """Numbers (and "-", "nan" in their columns) to the right, text to the left."""
    numeric = NUMBER.fullmatch(cell) is not None
    return f"{cell:>{width}}" if numeric else f"{cell:<{width}}"
