"""``pipeline report lecture``: run the lecture's claims and write the HTML/Markdown report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipeline import json_output
from pipeline.commands.common import (
    command,
    json_option,
    repair_on_start,
    stdout_to_stderr,
    tracking_option,
)

__all__ = ["add_report"]

SCALE_NAMES = ("quick", "full", "tiny")


def add_report(commands: Any) -> Any:
    """Add the ``report`` group; returns its subparsers object (for more reports)."""
    parser = commands.add_parser(
        "report",
        help="reports built from runs (lecture: reproduce the lecture's claims)",
        description="Reports that run experiments and write self-contained files.",
    )
    actions = parser.add_subparsers(title="reports", metavar="REPORT", required=True)
    lecture = command(
        actions,
        "lecture",
        cmd_report_lecture,
        "run small experiments for every claim of the RNN lecture (MLflow experiment "
        "'lecture') and write an HTML + Markdown report with verdicts, figures and numbers",
    )
    lecture.add_argument(
        "--quick", action="store_true", help="smaller experiments: <= 15 minutes on 2 CPU cores"
    )
    lecture.add_argument("--scale", choices=SCALE_NAMES, help=argparse.SUPPRESS)
    lecture.add_argument(
        "--out", default="lecture-report", help="output folder (default: ./lecture-report)"
    )
    lecture.add_argument(
        "--claims", metavar="IDS", help="only these claims, e.g. a,c,f (default: a to k)"
    )
    tracking_option(lecture)
    json_option(lecture)
    return actions


def cmd_report_lecture(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipeline.lecture.runner import build_report
    from pipeline.lecture.scale import SCALES

    scale = SCALES[args.scale or ("quick" if args.quick else "full")]
    selection = [c.strip() for c in args.claims.split(",") if c.strip()] if args.claims else None
    repair_on_start(args.tracking_uri)
    with stdout_to_stderr(args.json):
        report = build_report(
            Path(args.out),
            scale,
            selection,
            args.tracking_uri,
            progress=lambda line: print(line, file=sys.stderr),
        )
    if args.json:
        print(
            json_output.dumps(
                {
                    "html": str(report.html),
                    "markdown": str(report.markdown),
                    "json": str(report.json),
                    "seconds": report.seconds,
                    "claims": {c.id: c.verdict for c in report.claims},
                }
            )
        )
        return 0
    for claim in report.claims:
        print(f"{claim.id}. {claim.verdict:<15} {claim.gloss_en}")
    print(f"report: {report.html} (and {report.markdown}); {report.seconds / 60:.1f} minutes")
    return 0
