"""The long_range task: Arjovsky et al.'s adding and copy problems, baselines, the contract."""

from __future__ import annotations

import math
from importlib import metadata
from pathlib import Path

import pytest
import torch
from tiny import TINY_CONFIG

from pipeline import contracts
from pipeline.config import Config, build_config
from pipeline.errors import UserError
from pipeline.plugins import GROUPS, Registries, discover
from pipeline.testing import check_task
from plugins.tasks.long_range import LongRangeTask, problems

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def declared_tasks() -> list[metadata.EntryPoint]:
    """The task entry points exactly as pyproject.toml declares them (the installed metadata
    may predate a new built-in until the project is reinstalled)."""
    group = GROUPS["tasks"]
    table = PYPROJECT.read_text(encoding="utf-8").split(f'[project.entry-points."{group}"]\n')[1]
    lines = [line for line in table.split("\n[")[0].splitlines() if "=" in line]
    pairs = (line.split("=", 1) for line in lines)
    return [metadata.EntryPoint(n.strip(), v.strip().strip('"'), group) for n, v in pairs]


@pytest.fixture(scope="module")
def registries() -> Registries:
    """Installed cells, initializers and tokenizers, and the declared tasks; picklable (module
    level validators) so that check_task's DDP processes get these very registries."""
    kinds = {k: discover(k, validator=contracts.VALIDATORS[k]) for k in GROUPS if k != "tasks"}
    tasks = discover("tasks", declared_tasks(), contracts.VALIDATORS["tasks"], frozenset())
    return Registries(tasks=tasks, **kinds)


def config(registries: Registries, problem: str, length: int, **model: object) -> Config:
    task = {"name": "long_range", "problem": problem, "length": length}
    raw = {
        **TINY_CONFIG,
        "task": {**task, "train_size": 64, "eval_size": 24},
        "model": {**TINY_CONFIG["model"], "runner": "eager", **model},
    }
    return build_config(raw, registries)


def test_long_range_is_a_declared_builtin_task(registries: Registries) -> None:
    assert registries.tasks.get("long_range") is LongRangeTask


def test_adding_marks_one_value_in_each_half_and_sums_them() -> None:
    inputs, targets = problems.adding_examples(500, 10, torch.Generator().manual_seed(0))
    assert inputs.shape == (500, 10, 2) and targets.shape == (500,)
    markers = inputs[:, :, 1]
    assert (markers[:, :5].sum(1) == 1).all() and (markers[:, 5:].sum(1) == 1).all()
    torch.testing.assert_close(targets, (inputs[:, :, 0] * markers).sum(1))


def test_adding_baseline_is_the_mse_of_always_predicting_one() -> None:
    _, targets = problems.adding_examples(20000, 30, torch.Generator().manual_seed(1))
    empirical = float((targets - 1).pow(2).mean())
    assert empirical == pytest.approx(problems.baseline_loss("adding", 30), abs=0.005)
    assert problems.baseline_loss("adding", 30) == pytest.approx(0.167, abs=5e-4)


def test_copy_sequences_follow_arjovsky_et_al() -> None:
    length = 7
    inputs, targets = problems.copy_examples(4, length, torch.Generator().manual_seed(2))
    assert inputs.shape == targets.shape == (4, length + 20)
    digits = inputs[:, :10]
    assert ((digits >= 1) & (digits <= 8)).all()
    assert (inputs[:, 10 : 10 + length - 1] == 0).all() and (inputs[:, 9 + length] == 9).all()
    assert (inputs[:, -10:] == 0).all()
    assert (targets[:, : length + 10] == 0).all() and torch.equal(targets[:, -10:], digits)
    assert problems.baseline_loss("copy", length) == pytest.approx(10 * math.log(8) / 27)


@pytest.mark.parametrize(("problem", "text"), [("adding", "0.1:1 0.5"), ("copy", "1 2 9")])
def test_a_malformed_text_to_predict_is_a_user_error(
    registries: Registries, problem: str, text: str
) -> None:
    parse = problems.parse_adding if problem == "adding" else problems.parse_copy
    with pytest.raises(UserError, match="expected"):
        parse(text)


def test_the_logged_baseline_is_the_trivial_predictors_loss(
    registries: Registries, tmp_path: Path
) -> None:
    for problem, length in (("adding", 12), ("copy", 5)):
        task = LongRangeTask(config(registries, problem, length))
        facts = task.prepare_data(tmp_path)
        expected = problems.baseline_loss(problem, length)
        assert facts.extra["task.baseline_loss"] == expected
        metrics = task.metrics()
        inputs, targets = task.splits["val"]
        constant = _TrivialNetwork(problem, inputs.size(1))
        task.step(constant, (inputs, targets), None, metrics)
        loss, baseline = float(metrics["loss"].compute()), float(metrics["baseline"].compute())
        assert loss == pytest.approx(baseline, rel=1e-5)  # the trivial predictor scores it
        if problem == "copy":
            assert baseline == pytest.approx(expected, rel=1e-6)


class _TrivialNetwork(torch.nn.Module):
    """Adding: always 1. Copy: sure of blanks for T + 10 steps, then uniform over the digits."""

    def __init__(self, problem: str, steps: int) -> None:
        super().__init__()
        self.problem, self.steps = problem, steps

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.problem == "adding":
            return torch.ones(inputs.size(0))
        logits = torch.full((inputs.size(0), self.steps, 9), -1e9)
        logits[:, :-10, 0] = 0.0  # the blank, surely
        logits[:, -10:, 1:] = 0.0  # one of the 8 digits, uniformly
        return logits


@pytest.mark.slow
@pytest.mark.parametrize(
    ("problem", "texts"),
    [("adding", ["0.3:0 0.5:1 0.9:0 0.1:1", "0.2:1 0.7:1"]), ("copy", ["1 2 3 4 5 6 7 8 1 2"])],
)
def test_long_range_passes_check_task_with_ddp(
    registries: Registries, tmp_path: Path, problem: str, texts: list[str]
) -> None:
    cfg = config(registries, problem, 6)
    notes = check_task(LongRangeTask, cfg, texts, cache_dir=tmp_path, registries=registries)
    assert not any("DDP" in note or "ddp" in note for note in notes), notes
