"""The ``pipeline`` command. torch, lightning and mlflow are imported inside the commands only,
so ``pipeline --help`` and ``pipeline plugins list`` start in a fraction of a second."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from pipeline import json_output
from pipeline.errors import UserError
from pipeline.plugins import GROUPS, PluginError, Registries, discover


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    overrides_after_options = hasattr(args, "overrides") and all(
        "=" in item and not item.startswith("-") for item in extra
    )
    if extra and not overrides_after_options:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]  # KEY=VALUE given after the options
    if not hasattr(args, "command"):
        parser.print_help()
        return 0
    try:
        return args.command(args)
    except UserError as error:  # bad input: one line, exit 2 (any other error is a bug: traceback)
        if os.environ.get("PIPELINE_DEBUG"):  # the traceback of a user error too
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `pipeline plugins list | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(
            "interrupted: the run is marked KILLED; its last checkpoint is saved "
            "(resume with `pipeline train CONFIG --resume RUN_ID`)",
            file=sys.stderr,
        )
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline", description="Train, tune and compare recurrent networks for NLP."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_train(commands)
    _add_evaluate(commands)
    _add_predict(commands)
    _add_tune(commands)
    _add_plugins(commands)
    _add_runs(commands)
    _add_ui(commands)
    _add_demo(commands)
    return parser


def _command(commands: Any, name: str, function: Callable, help_text: str) -> Any:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(command=function)
    return parser


def _tracking_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        help="MLflow store or server (default: "
        "MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)",
    )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print exactly one JSON object on stdout"
    )


# ----------------------------------------------------------------------------- train


def _add_train(commands: Any) -> None:
    parser = _command(commands, "train", cmd_train, "train a model from a YAML config")
    parser.add_argument("config", help="YAML file, e.g. conf/experiment/demo.yaml")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="dotted overrides, e.g. model.cell=gru optim.lr=0.5",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="continue this run from its last checkpoint, in the same run",
    )
    _tracking_option(parser)
    _json_option(parser)


def cmd_train(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from pipeline.plugins import default_registries

    registries = default_registries()
    overrides = list(args.overrides)
    if args.tracking_uri:
        overrides.append(f"tracking.uri={args.tracking_uri}")
    cfg = load_config(args.config, overrides, registries)
    from pipeline.runs import is_launched_rank
    from pipeline.train import train
    from pipeline.trials import trial_train_options

    if not is_launched_rank():  # rank 0 alone looks after the store
        _repair_on_start(cfg.tracking.uri)

    with _stdout_to_stderr(args.json):
        result = train(cfg, registries=registries, resume=args.resume, **trial_train_options())
    if not result.owner:  # a DDP rank other than 0: rank 0 alone reports
        return 0
    summary = {
        "run_id": result.run_id,
        "tracking_uri": result.tracking_uri,
        "metrics": result.metrics,
        "checkpoint": result.checkpoint,
    }
    if args.json:
        print(json_output.dumps(summary))
    else:
        for name, value in sorted(result.metrics.items()):
            print(f"{name:>24}  {value:.4f}")
        print(f"best checkpoint: {result.checkpoint}")
        print(f"open the MLflow UI with `pipeline ui` (store: {result.tracking_uri})")
        print(f"run id: {result.run_id}")
    return 0


def _repair_on_start(uri: str | None) -> None:
    """End the store's runs whose process died (no heartbeat), saying so on stderr."""
    from pipeline.repair import repair_on_start
    from pipeline.tracking import Tracker

    repair_on_start(Tracker(uri))


@contextlib.contextmanager
def _stdout_to_stderr(enabled: bool) -> Iterator[None]:
    """Keep stdout for the one JSON object: progress bars and logs go to stderr."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


# ----------------------------------------------------------------------------- evaluate


def _add_evaluate(commands: Any) -> None:
    parser = _command(commands, "evaluate", cmd_evaluate, "evaluate a trained run on a split")
    parser.add_argument("--run", required=True, metavar="RUN_ID")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    _tracking_option(parser)
    _json_option(parser)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.inference import evaluate

    _repair_on_start(args.tracking_uri)
    with _stdout_to_stderr(args.json):
        metrics = evaluate(args.run, args.split, args.tracking_uri)
    if args.json:
        print(json_output.dumps({"run_id": args.run, "split": args.split, "metrics": metrics}))
    else:
        for name, value in sorted(metrics.items()):
            print(f"{name:>24}  {value:.4f}")
        print(f"run id: {args.run}")
    return 0


# ----------------------------------------------------------------------------- predict


def _add_predict(commands: Any) -> None:
    parser = _command(commands, "predict", cmd_predict, "predict from raw text with a run")
    parser.add_argument("--run", required=True, metavar="RUN_ID")
    parser.add_argument("--top-k", type=int, default=5, help="how many ranked answers")
    parser.add_argument(
        "--sample",
        type=int,
        default=0,
        metavar="N",
        help="language models: also sample a continuation of N tokens",
    )
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("texts", nargs="+", metavar="TEXT")
    _tracking_option(parser)
    _json_option(parser)


def cmd_predict(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise UserError(f"--top-k must be at least 1, got {args.top_k}")
    from pipeline.inference import predict

    _repair_on_start(args.tracking_uri)
    options = {"top_k": args.top_k}
    if args.sample:
        options.update(sample=args.sample, temperature=args.temperature)
    with _stdout_to_stderr(args.json):
        trained, predictions = predict(args.run, args.texts, args.tracking_uri, **options)
    if args.json:
        print(
            json_output.dumps({"run_id": args.run, "predictions": predictions}, ensure_ascii=False)
        )
    else:
        for prediction in predictions:
            print(trained.task.describe(prediction))
        print(f"run id: {args.run}")
    return 0


# ----------------------------------------------------------------------------- tune


def _add_tune(commands: Any) -> None:
    parser = _command(
        commands,
        "tune",
        cmd_tune,
        "search hyperparameters with Optuna; every trial is a nested MLflow run",
    )
    parser.add_argument("config", help="base config, e.g. conf/experiment/demo.yaml")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--space", required=True, help="search space, e.g. conf/tune/demo.yaml")
    parser.add_argument(
        "--n-trials",
        type=int,
        default=20,
        help="total trials of the study (finished ones included)",
    )
    parser.add_argument("--timeout", type=float, help="stop starting trials after SECONDS")
    parser.add_argument("--study", help="study name (default: TASK-SPACE); same name resumes")
    parser.add_argument(
        "--storage",
        help="Optuna storage: sqlite:///..., postgresql://..., "
        "journal:PATH (default: sqlite:///mlruns/optuna.db)",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes here")
    parser.add_argument("--export", metavar="BEST.yaml", help="write the best trial's config")
    _tracking_option(parser)
    _json_option(parser)


def cmd_tune(args: argparse.Namespace) -> int:
    for option, value in (("--n-trials", args.n_trials), ("--workers", args.workers)):
        if value < 1:
            raise UserError(f"{option} must be at least 1, got {value}")
    from pipeline.tune import TuneRequest, tune

    request = TuneRequest(
        args.config,
        args.space,
        list(args.overrides),
        args.n_trials,
        args.timeout,
        args.study,
        args.storage,
        args.workers,
        args.tracking_uri,
    )
    with _stdout_to_stderr(args.json):
        facts = tune(request, args.export)
    if args.json:
        print(json_output.dumps(facts))
        return 0
    from pipeline.study_report import print_study

    print_study(request, facts)
    return 0


# ----------------------------------------------------------------------------- plugins


def _add_plugins(commands: Any) -> None:
    parser = commands.add_parser(
        "plugins",
        help="list and check cell, initializer and task plugins",
        description="Plugins found through entry points.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = _command(actions, "list", cmd_plugins_list, "list plugins without importing them")
    check = _command(
        actions,
        "check",
        cmd_plugins_check,
        "import every plugin and validate it against its contract",
    )
    for sub in (listing, check):
        _json_option(sub)
    _add_plugins_new(actions)


def _add_plugins_new(actions: Any) -> None:
    new = _command(
        actions, "new", cmd_plugins_new, "write a new plugin distribution with tests and a README"
    )
    new.add_argument("name", help="distribution name, e.g. my-cells")
    for kind in ("cell", "initializer", "task"):
        new.add_argument(f"--{kind}", action="store_true", help=f"include a {kind} (default: all)")
    new.add_argument("--directory", metavar="DIR", help="where to write it (default: ./NAME)")


def _plugin_rows(registries: Registries, load: bool) -> list[dict[str, str]]:
    rows = []
    for kind, registry in registries.by_kind().items():
        for name, records in _records_by_name(registry).items():
            record = records[0]
            row = {
                "name": name,
                "group": GROUPS[kind],
                "distribution": record.dist,
                "version": record.version,
                "value": record.value,
                "status": "not checked",
                "error": "",
            }
            if name in registry.blocked:
                row["status"] = "blocked"
            elif len(records) > 1 or load:
                row["status"], row["error"] = _load_status(registry, name)
            rows.append(row)
    return rows


def _records_by_name(registry: Any) -> dict[str, list[Any]]:
    found = {name: [record] for name, record in registry.records.items()}
    found.update({name: list(records) for name, records in registry.conflicts.items()})
    return dict(sorted(found.items()))


def _load_status(registry: Any, name: str) -> tuple[str, str]:
    try:
        registry.get(name)
    except PluginError as error:
        return ("conflict" if name in registry.conflicts else "broken"), str(error)
    return "loaded", ""


def _print_plugins(rows: list[dict[str, str]], as_json: bool) -> None:
    if as_json:
        print(json_output.dumps({"plugins": rows}))
        return
    columns = ("name", "group", "distribution", "version", "status")
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns} if rows else {}
    print("  ".join(f"{c:<{widths.get(c, 0)}}" for c in columns).rstrip())
    for row in rows:
        print("  ".join(f"{row[c]:<{widths[c]}}" for c in columns).rstrip())
        if row["error"]:
            print(f"    {row['error']}")


def _registries(with_contracts: bool) -> Registries:
    if with_contracts:
        from pipeline.plugins import default_registries

        return default_registries()
    return Registries(*(discover(kind) for kind in GROUPS))


def cmd_plugins_list(args: argparse.Namespace) -> int:
    _print_plugins(_plugin_rows(_registries(False), load=False), args.json)
    return 0


def cmd_plugins_check(args: argparse.Namespace) -> int:
    rows = _plugin_rows(_registries(True), load=True)
    _print_plugins(rows, args.json)
    return 1 if any(row["status"] in ("broken", "conflict") for row in rows) else 0


def cmd_plugins_new(args: argparse.Namespace) -> int:
    from pipeline.scaffold import KINDS, create

    kinds = tuple(kind for kind in KINDS if getattr(args, kind))
    files = create(args.name, kinds, args.directory)
    root = files[0].parent
    for path in files:
        print(f"wrote {path}")
    print(f"next: pip install -e {root} && (cd {root} && pytest) && pipeline plugins list")
    return 0


# ----------------------------------------------------------------------------- runs


def _add_runs(commands: Any) -> None:
    parser = commands.add_parser(
        "runs",
        help="look after the store's runs",
        description="Runs in the MLflow store.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    repair = _command(
        actions,
        "repair",
        cmd_runs_repair,
        "end runs left RUNNING by a process that died (no heartbeat): KILLED, with their last "
        "epoch and checkpoint recorded",
    )
    _tracking_option(repair)
    _json_option(repair)


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


# ----------------------------------------------------------------------------- ui


def _add_ui(commands: Any) -> None:
    parser = _command(commands, "ui", cmd_ui, "open the MLflow UI on the project's store")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--experiment", metavar="NAME", help="link to its runs table (default: the latest run's)"
    )
    parser.add_argument("--open", action="store_true", help="open the link in a web browser")
    _tracking_option(parser)


def cmd_ui(args: argparse.Namespace) -> int:
    from pipeline.ui import serve

    return serve(args.host, args.port, args.experiment, args.open, args.tracking_uri)


# ----------------------------------------------------------------------------- demo

DEMO_CONFIG = "conf/experiment/demo.yaml"
DEMO_PROMPT = "El gobierno aprobó un"


def _add_demo(commands: Any) -> None:
    parser = _command(
        commands,
        "demo",
        cmd_demo,
        f"train {DEMO_CONFIG} and show the next words of '{DEMO_PROMPT}'",
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--text", default=DEMO_PROMPT)


def cmd_demo(args: argparse.Namespace) -> int:
    """The README's first command: train the demo model, then predict with it."""
    from pipeline.config import load_config
    from pipeline.inference import predict
    from pipeline.plugins import default_registries
    from pipeline.train import train

    registries = default_registries()
    cfg = load_config(DEMO_CONFIG, list(args.overrides), registries)
    result = train(cfg, registries=registries)
    trained, predictions = predict(result.run_id, [args.text], result.tracking_uri, registries)
    print(
        f"\ntest perplexity {result.metrics.get('test_ppl', float('nan')):.2f}; "
        f"the model's top 5 next words:"
    )
    print(trained.task.describe(predictions[0]))
    print(
        f"\nCompare runs in the MLflow UI: `pipeline ui`, then open http://127.0.0.1:5000 "
        f"(experiment '{cfg.tracking.experiment}')."
    )
    print(f'Ask again: pipeline predict --run {result.run_id} "La ministra anunció una"')
    print(f"run id: {result.run_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
