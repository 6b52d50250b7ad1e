"""The extras checked with rnn-pipeline's conformance checks (pipeline.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rnn_pipeline_extras.adding import AddingProblemTask, InputError, make_examples, parse
from rnn_pipeline_extras.chrono import chrono
from rnn_pipeline_extras.mgu import MinimalGatedUnit

from pipeline.config import build_config
from pipeline.errors import UserError
from pipeline.plugins import default_registries
from pipeline.testing import check_cell, check_initializer, check_task


def test_mgu_meets_the_cell_contract() -> None:
    check_cell(MinimalGatedUnit, compile=False)


def test_chrono_meets_the_initializer_contract() -> None:
    notes = check_initializer(chrono, options={"t_max": 20.0}, shapes=[(16,), (40,)])
    assert notes == []


def test_chrono_sets_forget_and_input_gate_biases() -> None:
    bias = torch.empty(4 * 5)
    chrono(bias, generator=torch.Generator().manual_seed(0), t_max=30.0)
    i, f, g, o = bias.chunk(4)
    assert torch.all((f >= 0) & (f <= torch.log(torch.tensor(29.0))))
    assert torch.equal(i, -f) and not g.any() and not o.any()
    with pytest.raises(ValueError, match="1-D"):
        chrono(torch.empty(4, 3))
    with pytest.raises(ValueError, match="t_max"):
        chrono(bias, t_max=1.0)


def adding_config(**task: object):
    raw = {
        "task": {"name": "adding_problem", "length": 8, "train_size": 64, "eval_size": 16, **task},
        "data": {"batch_size": 16, "eval_batch_size": 16},
        "model": {"cell": "gru", "hidden_size": 8, "num_layers": 1, "dropout": 0.0},
        "optim": {"name": "adam", "lr": 0.02},
    }
    return build_config(raw, default_registries())


def test_adding_problem_meets_the_task_contract() -> None:
    check_task(AddingProblemTask, adding_config(), texts=["0.3:0 0.5:1 0.9:0 0.1:1"])


def test_examples_mark_two_steps_and_sum_them() -> None:
    inputs, targets = make_examples(32, 10, torch.Generator().manual_seed(0))
    assert inputs.shape == (32, 10, 2) and targets.shape == (32,)
    assert torch.all(inputs[:, :, 1].sum(1) == 2)
    assert torch.allclose(targets, (inputs[:, :, 0] * inputs[:, :, 1]).sum(1))


def test_parse_reads_pairs_and_names_the_format() -> None:
    assert parse("0.3:0 0.5:1 0.9:0 0.1:1").tolist()[1] == [0.5, 1.0]
    with pytest.raises(InputError, match="value:marker"):
        parse("0.3 0.5")
    with pytest.raises(InputError, match="exactly two"):
        parse("0.3:1 0.5:0")
    assert issubclass(InputError, UserError)  # the CLI prints it on one line, exit 2


def test_adding_data_is_generated_once_into_the_cache_and_sharded_exactly(tmp_path: Path) -> None:
    task = AddingProblemTask(adding_config())
    facts = task.prepare_data(tmp_path)
    assert facts.sizes == {"train": 64, "val": 16, "test": 16}
    assert len(list(tmp_path.glob("*/.complete"))) == 1
    again = AddingProblemTask(adding_config())
    again.prepare_data(tmp_path)
    assert torch.equal(again.splits["test"][1], task.splits["test"][1])
    shards = [torch.cat([t for _, t in task.dataloader("val", rank, 3)]) for rank in range(3)]
    assert torch.equal(torch.cat(shards), task.splits["val"][1])  # each example once, in order
