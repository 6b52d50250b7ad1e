"""An exception raised inside a plugin is reported as one line naming it; --debug shows the
traceback. The plugins are real distributions (``*.dist-info`` + module) on PYTHONPATH."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from broken_cells import TWO_STATE_CELL
from tiny import TINY_CONFIG

from pipeline.plugin_errors import describe, find_plugin
from pipeline.plugins import PluginRecord

CELL = '''
import torch
from torch import Tensor, nn

from pipeline.interfaces import Cell


def check_gate(p_t: Tensor) -> None:
    raise ZeroDivisionError("gate scale is zero")


class CrashingCell(Cell):
    """A tanh RNN whose step fails at once, through a helper of its own."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.u = nn.Parameter(torch.randn(hidden_size, input_size) * 0.1)
        self.v = nn.Parameter(torch.randn(hidden_size, hidden_size) * 0.1)

    def project(self, x: Tensor) -> Tensor:
        return x @ self.u.T

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        check_gate(p_t)
        h = torch.tanh(p_t + state[0] @ self.v.T)
        return h, [h]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"input": [self.u], "recurrent": [self.v]}
'''


def write_plugin_dist(root: Path) -> Path:
    """A distribution ``crash-cells 2.0`` declaring the cell ``crashing`` (the module
    crash_cells.cells), importable from root."""
    package = root / "crash_cells"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "cells.py").write_text(textwrap.dedent(CELL), encoding="utf-8")
    info = root / "crash_cells-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: crash-cells\nVersion: 2.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[rnn_pipeline.cells]\ncrashing = crash_cells.cells:CrashingCell\n", encoding="utf-8"
    )
    return root


RECORD = PluginRecord("cells", "crashing", "crash_cells.cells:CrashingCell", "crash-cells", "2.0")


@pytest.fixture
def crash_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(write_plugin_dist(tmp_path / "site")))
    import crash_cells.cells

    yield crash_cells.cells
    for name in ("crash_cells.cells", "crash_cells"):
        sys.modules.pop(name, None)


def raised_by(function: object, *args: object) -> BaseException:
    with pytest.raises(Exception) as caught:
        function(*args)  # type: ignore[operator]
    return caught.value


def test_the_plugin_is_found_by_the_hook_the_core_called(crash_module: object) -> None:
    import torch

    cell = crash_module.CrashingCell(3, 4)  # type: ignore[attr-defined]
    error = raised_by(cell.step, torch.zeros(1, 4), cell.init_state(1))
    failure = find_plugin(error, [RECORD])
    assert failure is not None and failure.record == RECORD and failure.function == "step"
    assert describe(error, [RECORD]) == (
        "plugin 'crashing' (cells) of crash-cells 2.0 raised ZeroDivisionError: gate scale is "
        "zero (in Cell.step())"
    )


def test_a_wrapped_plugin_error_is_found_through_its_cause(crash_module: object) -> None:
    def core() -> None:
        try:
            crash_module.check_gate(None)  # type: ignore[attr-defined]
        except ZeroDivisionError as error:
            raise RuntimeError("worker failed") from error

    line = describe(raised_by(core), [RECORD])
    assert line == (
        "plugin 'crashing' (cells) of crash-cells 2.0 raised ZeroDivisionError: gate scale is zero"
    )


def test_an_error_of_the_core_names_no_plugin() -> None:
    from pipeline.config import deep_merge

    assert describe(raised_by(deep_merge, None, {"a": 1}), [RECORD]) is None


@pytest.mark.slow
def test_training_with_a_crashing_plugin_prints_one_line_and_debug_the_traceback(
    tmp_path: Path, lm_config: Path
) -> None:
    site = write_plugin_dist(tmp_path / "site")
    config = yaml.safe_load(lm_config.read_text(encoding="utf-8"))
    config["model"] = {**TINY_CONFIG["model"], "cell": "crashing", "runner": "eager"}
    lm_config.write_text(yaml.safe_dump(config), encoding="utf-8")
    inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *inherited])}
    env.pop("PIPELINE_DEBUG", None)
    command = [sys.executable, "-m", "pipeline.cli"]

    def train(*options: str) -> subprocess.CompletedProcess[str]:
        argv = [*command, "train", str(lm_config), *options]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)

    done = train()
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "error: plugin 'crashing' (cells) of crash-cells 2.0 raised ZeroDivisionError: gate "
        "scale is zero (in Cell.step()); --debug shows the traceback"
    )
    assert "Traceback" not in done.stderr
    debug = train("--debug")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert 'in check_gate\n    raise ZeroDivisionError("gate scale is zero")' in debug.stderr


def test_a_core_error_on_what_a_plugin_returned_names_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from pipeline.recurrent import RecurrentEncoder

    (tmp_path / "wrong_state.py").write_text(textwrap.dedent(TWO_STATE_CELL), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import wrong_state

    record = PluginRecord("cells", "two_state", "wrong_state:TwoStateCell", "state-cells", "1.0")
    encoder = RecurrentEncoder(wrong_state.TwoStateCell, 3, 4, runner="eager")
    lengths = torch.tensor([2, 1])
    error = raised_by(encoder, torch.zeros(2, 2, 3), lengths)  # the runner indexes state[1]
    sys.modules.pop("wrong_state", None)
    assert find_plugin(error, [record]) is None  # no plugin code in the traceback
    line = describe(error, [record])
    assert line is not None and line.startswith(
        "the core failed on what plugin 'two_state' (cells) of state-cells 1.0 gave it: "
        f"{type(error).__name__}"
    )
    assert line.endswith(
        "(`pipeline plugins check --deep cells:two_state` names the contract clause)"
    )


@pytest.mark.slow
def test_tune_whose_trials_all_crash_in_a_plugin_exits_1(
    tmp_path: Path, lm_config: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from pipeline.cli import main

    monkeypatch.syspath_prepend(str(write_plugin_dist(tmp_path / "site")))
    space = tmp_path / "space.yaml"
    params = {"model.hidden_size": {"int": [8, 12]}}
    space.write_text(yaml.safe_dump({"sampler": {"name": "random", "seed": 0}, "params": params}))
    argv = [str(lm_config), "model.cell=crashing", "model.runner=eager", "--space", str(space)]
    assert main(["tune", *argv, "--n-trials", "2", "--study", "crash"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        "error: no trial of study 'crash' completed: 2 failed (0 on a user error) of 2 trials; "
        "first error: ZeroDivisionError: gate scale is zero"
    )
    for name in ("crash_cells.cells", "crash_cells"):
        sys.modules.pop(name, None)
