"""``pipeline runs list|compare``: the MLflow UI's runs table and compare view, in a terminal.

``add_runs`` returns the group's subparsers, so further actions join the same group.
"""

from __future__ import annotations

import argparse
from typing import Any

from pipeline import json_output
from pipeline.commands.common import command, json_option, tracking_option
from pipeline.errors import UserError

__all__ = ["add_runs"]


def add_runs(commands: Any) -> Any:
    """Add the ``runs`` group; returns its subparsers object (for more actions)."""
    parser = commands.add_parser(
        "runs",
        help="list and compare runs in the terminal (the MLflow UI's tables)",
        description="Runs in the tracking store, without a browser.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = command(actions, "list", cmd_runs_list, "list the runs of an experiment")
    listing.add_argument(
        "--experiment", metavar="NAME", help="experiment to list (default: the latest run's)"
    )
    listing.add_argument("--sort", metavar="METRIC", help="order by a metric, e.g. val_ppl")
    listing.add_argument("--descending", action="store_true", help="largest --sort value first")
    compare = command(
        actions, "compare", cmd_runs_compare, "runs side by side: params that differ, metrics"
    )
    compare.add_argument("runs", nargs="+", metavar="RUN_ID")
    repair = command(
        actions,
        "repair",
        cmd_runs_repair,
        "end runs left RUNNING by a process that died (no heartbeat): KILLED, with their last "
        "epoch and checkpoint recorded",
    )
    for sub in (listing, compare, repair):
        tracking_option(sub)
        json_option(sub)
    return actions


def cmd_runs_repair(args: argparse.Namespace) -> int:
    from pipeline.repair import repair_stale_runs
    from pipeline.tracking import Tracker

    repaired = repair_stale_runs(Tracker(args.tracking_uri))
    if args.json:
        print(json_output.dumps({"repaired": [run.as_dict() for run in repaired]}))
        return 0
    for run in repaired:
        print(f"repaired: {run.describe()}")
    if not repaired:
        print("no stale runs: every RUNNING run still has a live process")
    return 0


def cmd_runs_list(args: argparse.Namespace) -> int:
    from pipeline.run_tables import find_experiment, list_table
    from pipeline.tracking import Tracker

    tracker = Tracker(args.tracking_uri)
    experiment = find_experiment(tracker, args.experiment)
    if experiment is None:
        raise UserError(f"no runs in {tracker.uri} yet: train one with `pipeline train CONFIG`")
    runs = tracker.client.search_runs([experiment.experiment_id], max_results=10000)
    table = list_table(runs, args.sort, args.descending)
    if args.json:
        print(json_output.dumps({"experiment": experiment.name, **table.data}))
        return 0
    print(f"experiment {experiment.name}: {len(runs)} runs")
    print(table.render())
    return 0


def cmd_runs_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise UserError("compare needs at least two run ids: pipeline runs compare RUN_ID RUN_ID")
    from pipeline.checkpoints import check_run_id
    from pipeline.run_tables import compare_table
    from pipeline.tracking import Tracker

    tracker = Tracker(args.tracking_uri)
    runs = [tracker.get_run(check_run_id(run_id)) for run_id in args.runs]
    table = compare_table(runs)
    print(json_output.dumps(table.data) if args.json else table.render())
    return 0
