"""Run the `pipeline` CLI in-process with --json and return its one JSON object."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    """Run the CLI with --json; stdout must hold exactly one JSON object."""
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)
