"""pipeline.testing: broken components fail the conformance checks with one AssertionError
naming the contract clause (that every built-in passes them is
tests/plugins/test_builtin_conformance.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from pipeline.config import load_config
from pipeline.plugins import default_registries
from pipeline.testing import check_cell, check_initializer, check_task
from plugins.cells.gru import GRUCell
from plugins.cells.rnn import SigmoidRNNCell
from plugins.tasks.language_model import LanguageModelTask


def test_importing_does_not_import_lightning_or_mlflow() -> None:
    code = (
        "import sys, pipeline.testing; print('lightning' in sys.modules, 'mlflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False"]


class UnusedParameterCell(SigmoidRNNCell):
    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.spare = nn.Parameter(torch.zeros(hidden_size))


class WrongShapeCell(SigmoidRNNCell):
    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h, _ = super().step(p_t, state)
        return h[:, :-1], [h]


class FusedDisagreesCell(GRUCell):
    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h, _ = super().step(p_t, state)
        return 0.5 * h, [0.5 * h]


@pytest.mark.parametrize(
    ("cell", "clause"),
    [
        (UnusedParameterCell, "gradients reach every parameter (cells.0.spare)"),
        (WrongShapeCell, "forward(x_t (B, D), state) -> h_t (B, H)"),
        (FusedDisagreesCell, "the fused path (GRU) agrees with step()"),
    ],
)
def test_broken_cells_fail_naming_the_clause(cell: type, clause: str) -> None:
    with pytest.raises(AssertionError, match="contract clause broken") as caught:
        check_cell(cell, compile=False)
    assert clause in str(caught.value)
    assert "expected:" in str(caught.value) and "actual:" in str(caught.value)


def global_rng(tensor: Tensor, *, generator: torch.Generator | None = None) -> None:
    tensor.normal_()  # ignores the generator


def leaves_some(tensor: Tensor, *, generator: torch.Generator | None = None) -> None:
    tensor.view(-1)[1:].normal_(generator=generator)


def replaces(tensor: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    return torch.zeros_like(tensor)  # not in place


@pytest.mark.parametrize(
    ("fn", "clause"),
    [
        (global_rng, "uses only the generator for randomness"),
        (leaves_some, "fills every element"),
        (replaces, "returns None or a dict"),
    ],
)
def test_broken_initializers_fail_naming_the_clause(fn, clause: str) -> None:
    with pytest.raises(AssertionError, match="contract clause broken") as caught:
        check_initializer(fn)
    assert clause in str(caught.value)


def test_task_missing_a_method_fails_before_running(lm_config: Path) -> None:
    from rnn_pipeline_testplugins.incomplete_task import IncompleteTask

    cfg = load_config(lm_config, [], default_registries())
    with pytest.raises(AssertionError, match="contract clause broken") as caught:
        check_task(IncompleteTask, cfg, ["El gobierno"])
    message = str(caught.value)
    assert "implements every abstract method of pipeline.interfaces.Task" in message
    assert "actual: predict()" in message


class TokenCount(MeanMetric):
    """Tokens evaluated (the summed weights)."""

    def compute(self) -> Tensor:
        return self.weight


class UnsyncedMetricsTask(LanguageModelTask):
    """Each DDP rank counts only its own shard's tokens."""

    metric_names = ("loss", "tokens")

    def metrics(self) -> dict[str, MeanMetric]:
        return {"loss": MeanMetric(), "tokens": TokenCount(sync_on_compute=False)}


class UnshardedTask(LanguageModelTask):
    """Every DDP rank gets every batch."""

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> object:
        return super().dataloader(split)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "clause"),
    [
        (UnsyncedMetricsTask, "under 2-process DDP, metric 'tokens' reduced over the val shards"),
        (UnshardedTask, "dataloader(split, rank, world_size) gives each rank its own shard"),
    ],
)
def test_tasks_broken_under_ddp_fail_naming_the_clause(
    task: type, clause: str, lm_config: Path, workdir: Path
) -> None:
    cfg = load_config(lm_config, ["model.runner=eager"], default_registries())
    with pytest.raises(AssertionError, match="contract clause broken") as caught:
        check_task(task, cfg, ["El gobierno"], steps=5)
    assert clause in str(caught.value)


@pytest.mark.slow
def test_ddp_check_can_be_skipped(lm_config: Path, workdir: Path) -> None:
    cfg = load_config(lm_config, ["model.runner=eager"], default_registries())
    notes = check_task(UnshardedTask, cfg, ["El gobierno"], steps=5, ddp=False)
    assert notes == ["ddp=False: sharding and metric reduction under DDP not checked"]


@pytest.mark.slow
def test_compiled_runner_is_checked_by_default() -> None:
    notes = check_cell(SigmoidRNNCell, hidden_size=3)
    assert not any("compile" in note and "not checked" in note for note in notes)


def bias_only(tensor: Tensor, *, generator: torch.Generator | None = None) -> None:
    if tensor.dim() != 1:
        raise ValueError("bias_only: 1-D gate biases only")
    with torch.no_grad():
        tensor.uniform_(-1.0, 1.0, generator=generator)


def test_check_initializer_accepts_a_bias_only_initializer_declining_2d() -> None:
    notes = check_initializer(bias_only)
    assert notes == ["declines 2-D tensors (1-D biases only): bias_only: 1-D gate biases only"]


def test_check_initializer_fails_one_declining_2d_tensors_before_filling_1d() -> None:
    with pytest.raises(AssertionError, match=r"fills a 2-D tensor"):
        check_initializer(bias_only, shapes=[(8, 12), (16,)])
