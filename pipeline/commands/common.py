"""Options and helpers every ``pipeline`` command shares (light imports only)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "command",
    "debug_option",
    "json_option",
    "repair_on_start",
    "report_link",
    "stdout_to_stderr",
    "tracking_option",
]


def command(
    commands: Any, name: str, function: Callable[[argparse.Namespace], int], help_text: str
) -> Any:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(command=function)
    debug_option(parser, default=argparse.SUPPRESS)  # keeps a --debug given before the command
    return parser


def debug_option(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show the traceback of any error (same as PIPELINE_DEBUG=1)",
    )


def tracking_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        help="MLflow store or server (default: "
        "MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)",
    )


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print exactly one JSON object on stdout"
    )


@contextlib.contextmanager
def stdout_to_stderr(enabled: bool) -> Iterator[None]:
    """Keep stdout for the one JSON object: progress bars and logs go to stderr."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def report_link(link: str, summary: dict[str, Any] | None) -> None:
    """The UI link: a ``ui_link`` field of the JSON summary, else one line on stderr."""
    if summary is not None:
        summary["ui_link"] = link
        return
    print(f"MLflow UI: {link} (serve it with `pipeline ui`)", file=sys.stderr)


def repair_on_start(uri: str | None) -> None:
    """End the store's runs whose process died (no heartbeat), saying so on stderr."""
    from pipeline.repair import repair_on_start as repair
    from pipeline.tracking import Tracker

    repair(Tracker(uri))
