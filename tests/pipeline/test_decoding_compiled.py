"""The compiled decoder step computes what the eager one does, and falls back when it cannot."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import pytest
import torch
from decoding_helpers import EOS, make_decoder, random_memory
from torch import Tensor
from torch._dynamo.utils import counters

from pipeline.decoding import AttentionDecoder, Memory, beam_search, greedy_search
from pipeline.interfaces import Cell
from plugins.cells.gru import GRUCell
from plugins.cells.lstm import LSTMCell
from plugins.cells.rnn import TanhRNNCell

LENGTHS = [4, 2, 3]


def twins(cell: type[Cell], **keywords: Any) -> tuple[AttentionDecoder, AttentionDecoder]:
    eager = make_decoder(cell, **keywords)
    compiled = make_decoder(cell, runner="compiled", **keywords)
    compiled.load_state_dict(eager.state_dict())
    return compiled, eager


def compile_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "torch.compile failed" in str(w.message)]


def compiled_graphs() -> int:
    return int(counters["stats"]["unique_graphs"])


def as_view(memory: Memory) -> Memory:
    """The same memory with its values a slice of a bigger tensor (as encoder outputs are)."""
    bigger = torch.cat([memory.values, torch.zeros_like(memory.values)], 2)
    return Memory(bigger[:, :, : memory.values.size(2)], memory.mask, memory.summary)


@pytest.mark.parametrize("cell", [GRUCell, LSTMCell], ids=lambda c: c.__name__)
def test_compiled_training_steps_equal_eager_ones_in_one_graph(cell: type[Cell]) -> None:
    compiled, eager = twins(cell, layers=2, attention="bahdanau")
    compiled.train(), eager.train()  # no dropout: both deterministic
    graphs = compiled_graphs()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for lengths, steps in (([4, 2, 3], 4), ([5, 1], 6)):  # other batch and memory sizes
            memory = as_view(random_memory(lengths))
            inputs = torch.randint(3, 13, (len(lengths), steps))
            logits, weights = compiled(inputs, memory)
            expected, expected_weights = eager(inputs, memory)
            torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(weights, expected_weights, atol=1e-5, rtol=1e-5)
            logits.logsumexp(-1).sum().backward()
            expected.logsumexp(-1).sum().backward()
            for (name, got), want in zip(
                compiled.named_parameters(), eager.parameters(), strict=True
            ):
                torch.testing.assert_close(got.grad, want.grad, atol=1e-5, rtol=1e-4, msg=name)
    assert not compile_warnings(caught) and compiled.runner == "compiled"
    assert compiled_graphs() - graphs == 1
    # pickles drop the compiled step and rebuild it on first use
    restored = pickle.loads(pickle.dumps(compiled))
    assert restored._compiled is None and restored.runner == "compiled"


def test_validation_and_search_share_one_compiled_graph() -> None:
    compiled, eager = pair = twins(GRUCell, attention="luong")
    memory, limits = as_view(random_memory(LENGTHS)), torch.tensor([3, 5, 4])
    graphs = compiled_graphs()
    with torch.no_grad():
        inputs = torch.randint(3, 13, (3, 4))
        torch.testing.assert_close(compiled(inputs, memory)[0], eager(inputs, memory)[0])
    greedy = [[h.tokens for h in greedy_search(d, memory, limits, EOS, EOS)] for d in pair]
    assert greedy[0] == greedy[1]
    beams = [
        [[h.tokens for h in n_best] for n_best in beam_search(d, memory, limits, EOS, EOS, 3)]
        for d in pair
    ]
    assert beams[0] == beams[1]
    assert compiled_graphs() - graphs == 1


@torch.library.custom_op("rnn_pipeline_decoding_tests::tanh_without_fake", mutates_args=())
def tanh_without_fake(x: Tensor) -> Tensor:
    """A custom op with no fake (meta) implementation: eager runs it, dynamo cannot trace it."""
    return torch.tanh(x)


class UncompilableCell(TanhRNNCell):
    """The tanh RNN computed through an op that torch.compile cannot trace."""

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h = tanh_without_fake(p_t + self.recurrent(state[0]))
        return h, [h]


def test_a_step_that_cannot_compile_runs_eagerly_after_one_warning() -> None:
    decoder = make_decoder(UncompilableCell, runner="compiled", attention="luong")
    reference = make_decoder(TanhRNNCell, attention="luong")
    reference.load_state_dict(decoder.state_dict())
    memory, limits = random_memory(LENGTHS), torch.tensor([3, 4, 5])
    with pytest.warns(UserWarning, match=r"torch\.compile failed .*UncompilableCell.*eager"):
        got = beam_search(decoder, memory, limits, EOS, EOS, beam_size=2)
    assert decoder.runner == "eager"
    want = beam_search(reference, memory, limits, EOS, EOS, beam_size=2)
    assert [[h.tokens for h in n] for n in got] == [[h.tokens for h in n] for n in want]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        beam_search(decoder, memory, limits, EOS, EOS, beam_size=2)
    assert not compile_warnings(caught)  # warned once


def test_compiled_is_the_default_runner() -> None:
    assert AttentionDecoder(GRUCell, torch.nn.Embedding(5, 4), 4, 1, 4, 4).runner == "compiled"
