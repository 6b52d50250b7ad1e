"""The ``pipeline`` command. torch, lightning and mlflow are imported inside the commands only,
so ``pipeline --help`` and ``pipeline plugins list`` start in a fraction of a second."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pipeline import json_output, plugin_errors
from pipeline.commands.common import (
    command,
    debug_option,
    json_option,
    repair_on_start,
    report_link,
    stdout_to_stderr,
    tracking_option,
)
from pipeline.commands.plugins import add_plugins
from pipeline.commands.report import add_report
from pipeline.commands.runs import add_runs
from pipeline.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the run's description
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
    debug = args.debug or bool(os.environ.get("PIPELINE_DEBUG"))
    try:
        status: int = args.command(args)
        return status
    except UserError as error:  # bad input: one line, exit 2 (any other error is a bug: traceback)
        if debug:  # the traceback of a user error too
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
    except Exception as error:  # a plugin's bug: one line naming it; the core's: traceback
        from pipeline.storage_errors import storage_error

        storage = None if debug else storage_error(error, None)  # a full disk, a read-only folder
        if storage is not None:
            print(f"error: {storage}", file=sys.stderr)
            return 2
        line = None if debug else plugin_errors.describe(error)
        if line is None:
            raise
        print(f"error: {line}; --debug shows the traceback", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline", description="Train, tune and compare recurrent networks for NLP."
    )
    debug_option(parser, default=False)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_train(commands)
    _add_evaluate(commands)
    _add_predict(commands)
    _add_tune(commands)
    add_plugins(commands)
    add_runs(commands)
    add_report(commands)
    _add_ui(commands)
    _add_demo(commands)
    return parser


# ----------------------------------------------------------------------------- train


def _add_train(commands: Any) -> None:
    parser = command(commands, "train", cmd_train, "train a model from a YAML config")
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
    tracking_option(parser)
    json_option(parser)


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

    if not is_launched_rank():  # rank 0 alone looks after the store
        repair_on_start(cfg.tracking.uri)
    with stdout_to_stderr(args.json):
        result = train(cfg, registries=registries, resume=args.resume, **_train_options(args))
    if not result.owner:  # a DDP rank other than 0: rank 0 alone reports
        return 0
    summary = {
        "run_id": result.run_id,
        "tracking_uri": result.tracking_uri,
        "metrics": result.metrics,
        "checkpoint": result.checkpoint,
    }
    report_link(_run_link(result.tracking_uri, result.run_id), summary if args.json else None)
    if args.json:
        print(json_output.dumps(summary))
    else:
        for name, value in sorted(result.metrics.items()):
            print(f"{name:>24}  {value:.4f}")
        print(f"best checkpoint: {result.checkpoint}")
        print(f"run id: {result.run_id}")
    return 0


def _train_options(args: argparse.Namespace) -> dict[str, Any]:
    """train() options: a launched trial's, else the command line as the run's description."""
    from pipeline.run_notes import NOTE_TAG, command_note
    from pipeline.trials import trial_train_options

    options = trial_train_options()
    note = {NOTE_TAG: command_note(args.argv, args.overrides)}
    options["tags"] = {**note, **options.get("tags", {})}
    return options


def _run_link(uri: str | None, run_id: str) -> str:
    from pipeline.tracking import Tracker
    from pipeline.ui import tracked_run_link

    return tracked_run_link(Tracker(uri), run_id)


# ----------------------------------------------------------------------------- evaluate


def _add_evaluate(commands: Any) -> None:
    parser = command(commands, "evaluate", cmd_evaluate, "evaluate a trained run on a split")
    parser.add_argument("--run", required=True, metavar="RUN_ID")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    tracking_option(parser)
    json_option(parser)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.inference import evaluate

    repair_on_start(args.tracking_uri)
    with stdout_to_stderr(args.json):
        metrics = evaluate(args.run, args.split, args.tracking_uri)
    summary = {"run_id": args.run, "split": args.split, "metrics": metrics}
    report_link(_run_link(args.tracking_uri, args.run), summary if args.json else None)
    if args.json:
        print(json_output.dumps(summary))
    else:
        for name, value in sorted(metrics.items()):
            print(f"{name:>24}  {value:.4f}")
        print(f"run id: {args.run}")
    return 0


# ----------------------------------------------------------------------------- predict


def _add_predict(commands: Any) -> None:
    parser = command(
        commands,
        "predict",
        cmd_predict,
        "predict from raw text (captioning: image paths) with a run",
    )
    parser.add_argument("--run", required=True, metavar="RUN_ID")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the run's task's predict (see --help-options)",
    )
    parser.add_argument(
        "--help-options", action="store_true", help="list the predict options of the run's task"
    )
    named = parser.add_argument_group(
        "named options (language model, classification, seq2seq, captioning)"
    )
    named.add_argument("--top-k", type=int, help="how many ranked answers (default 5)")
    named.add_argument(
        "--sample", type=int, metavar="N", help="language models: also sample N tokens"
    )
    named.add_argument("--temperature", type=float, help="language models: sampling temperature")
    named.add_argument("--beam", type=int, metavar="K", help="seq2seq: beam size")
    named.add_argument(
        "--n-best", type=int, metavar="N", help="seq2seq: translations per input, best first"
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT")
    tracking_option(parser)
    json_option(parser)


NAMED_PREDICT_OPTIONS = ("top_k", "sample", "temperature", "beam", "n_best")
"""Flags of ``pipeline predict`` that are shorthands for ``--option KEY=VALUE``."""


def cmd_predict(args: argparse.Namespace) -> int:
    if args.top_k is not None and args.top_k < 1:
        raise UserError(f"--top-k must be at least 1, got {args.top_k}")
    if not args.texts and not args.help_options:
        raise UserError("pipeline predict needs at least one TEXT (or --help-options)")
    from pipeline.inference import predict, run_task_class
    from pipeline.predict_options import options_help, parse_option_items

    if args.help_options:
        print(options_help(run_task_class(args.run, args.tracking_uri)))
        return 0
    options = parse_option_items(args.option)
    for name in NAMED_PREDICT_OPTIONS:
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    repair_on_start(args.tracking_uri)
    with stdout_to_stderr(args.json):
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
    parser = command(
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
    parser.add_argument(
        "--experiment",
        metavar="NAME",
        help="MLflow experiment of the study's runs (default: tracking.study_experiment, "
        "else tracking.experiment)",
    )
    tracking_option(parser)
    json_option(parser)


def cmd_tune(args: argparse.Namespace) -> int:
    for option, value in (("--n-trials", args.n_trials), ("--workers", args.workers)):
        if value < 1:
            raise UserError(f"{option} must be at least 1, got {value}")
    from pipeline.tune import TuneFailed, TuneRequest, tune

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
        args.experiment,
        args.argv,
    )
    try:
        with stdout_to_stderr(args.json):
            facts = tune(request, args.export)
    except TuneFailed as failure:
        print(f"error: {failure}", file=sys.stderr)
        return failure.exit_code
    if args.json:  # facts hold the study's ui_link
        print(json_output.dumps(facts))
        return 0
    report_link(facts["ui_link"], None)
    from pipeline.study_report import print_study

    print_study(request, facts)
    return 0


# ----------------------------------------------------------------------------- ui


def _port(text: str) -> int:
    """An argparse type: a TCP port number (argparse reports a bad one as a usage error)."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number from 0 to 65535")
    return int(text)


def _add_ui(commands: Any) -> None:
    parser = command(commands, "ui", cmd_ui, "open the MLflow UI on the project's store")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=_port, default=5000, help="TCP port, 0 to 65535")
    parser.add_argument(
        "--experiment", metavar="NAME", help="link to its runs table (default: the latest run's)"
    )
    parser.add_argument("--open", action="store_true", help="open the link in a web browser")
    tracking_option(parser)


def cmd_ui(args: argparse.Namespace) -> int:
    from pipeline.ui import serve

    return serve(args.host, args.port, args.experiment, args.open, args.tracking_uri)


# ----------------------------------------------------------------------------- demo

DEMO_CONFIG = "conf/experiment/demo.yaml"
DEMO_PROMPT = "El gobierno aprobó un"


def _add_demo(commands: Any) -> None:
    parser = command(
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
