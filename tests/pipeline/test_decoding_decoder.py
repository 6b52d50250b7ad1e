"""The attention decoder: shapes, bridge, input feeding, masking, tying, teacher forcing."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from decoding_helpers import EOS, M_S, H, V, make_decoder, pad_memory, random_memory
from torch import nn

from pipeline.config import ConfigError
from pipeline.decoding import AttentionDecoder, Memory, greedy_search
from pipeline.initialization import parameter_groups
from pipeline.interfaces import Cell
from plugins.cells.gru import GRUCell
from plugins.cells.lstm import LSTMCell
from plugins.cells.rnn import TanhRNNCell

LENGTHS = [4, 2, 3]
T = 5


def target(batch: int = len(LENGTHS), seed: int = 1) -> torch.Tensor:
    inputs = torch.randint(3, V, (batch, T), generator=torch.Generator().manual_seed(seed))
    inputs[:, 0] = EOS  # the start token
    return inputs


@pytest.mark.parametrize("cell", [TanhRNNCell, GRUCell, LSTMCell], ids=lambda c: c.__name__)
@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
def test_forward_shapes_and_step_by_step_agree(cell: type[Cell], attention: str) -> None:
    decoder = make_decoder(cell, attention=attention)
    memory, inputs = random_memory(LENGTHS), target()
    logits, weights = decoder(inputs, memory)
    assert logits.shape == (3, T, V) and weights.shape == (3, T, max(LENGTHS))
    state = decoder.start(memory)
    for t in range(T):
        step_logits, state, step_weights = decoder.step(inputs[:, t], state, memory)
        torch.testing.assert_close(step_logits, logits[:, t])
        torch.testing.assert_close(step_weights, weights[:, t])


def test_bridge_sets_every_layers_state_tensors() -> None:
    decoder = make_decoder(LSTMCell, layers=3)
    memory = random_memory(LENGTHS)
    state = decoder.start(memory)
    assert len(state.cells) == 3 and all(len(layer) == 2 for layer in state.cells)  # h and c
    bridged = torch.tanh(decoder.bridge(memory.summary)).view(3, 6, H)
    for layer in range(3):
        for k in range(2):
            torch.testing.assert_close(state.cells[layer][k], bridged[:, layer * 2 + k])
    assert torch.equal(state.feed, torch.zeros(3, H))
    # a different summary gives a different start, whatever the attention
    other = Memory(memory.values, memory.mask, torch.randn(3, M_S))
    assert not torch.allclose(decoder.start(other).cells[0][0], state.cells[0][0])


def test_input_feeding_makes_the_previous_attentional_vector_an_input() -> None:
    decoder = make_decoder(GRUCell, layers=1)
    memory, tokens = random_memory(LENGTHS), torch.full((3,), EOS)
    assert decoder.cell(0).input_size == decoder.embedding.embedding_dim + H
    state = decoder.start(memory)
    _, after, _ = decoder.step(tokens, state, memory)
    assert after.feed.abs().sum() > 0
    fed, _, _ = decoder.step(tokens, after, memory)
    after.feed = torch.zeros_like(after.feed)
    unfed, _, _ = decoder.step(tokens, after, memory)
    assert not torch.allclose(fed, unfed)


def test_without_attention_only_the_summary_reaches_the_decoder() -> None:
    memory, inputs = random_memory(LENGTHS), target()
    other_values = Memory(torch.randn_like(memory.values), memory.mask, memory.summary)
    plain = make_decoder(attention="none")
    logits, weights = plain(inputs, memory)
    torch.testing.assert_close(plain(inputs, other_values)[0], logits)
    assert torch.equal(weights, torch.zeros_like(weights))
    attending = make_decoder(attention="bahdanau")
    assert not torch.allclose(attending(inputs, other_values)[0], attending(inputs, memory)[0])


@pytest.mark.parametrize(("attention", "score"), [("bahdanau", "general"), ("luong", "general")])
def test_extra_padding_in_memory_changes_nothing(attention: str, score: str) -> None:
    decoder = make_decoder(attention=attention, attention_score=score)
    inputs = target()
    logits, weights = decoder(inputs, random_memory(LENGTHS))
    padded_logits, padded_weights = decoder(inputs, pad_memory(random_memory(LENGTHS), 5))
    torch.testing.assert_close(padded_logits, logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded_weights[:, :, :4], weights, atol=1e-6, rtol=1e-5)
    assert torch.equal(padded_weights[:, :, 4:], torch.zeros(3, T, 5))


def test_tied_output_layer_is_the_embedding() -> None:
    embedding = nn.Embedding(V, H)
    tied = AttentionDecoder(LSTMCell, embedding, H, 1, 10, M_S, tie_embeddings=True)
    untied = AttentionDecoder(LSTMCell, nn.Embedding(V, H), H, 1, 10, M_S)
    assert tied.output.weight is embedding.weight
    count = sum(p.numel() for p in tied.parameters())
    assert count == sum(p.numel() for p in untied.parameters()) - V * H


def test_tying_different_sizes_names_the_key_and_both_sizes() -> None:
    with pytest.raises(ConfigError, match=r"task\.tie_embeddings.*\(6\).*\(8\)"):
        AttentionDecoder(LSTMCell, nn.Embedding(V, 6), H, 1, 10, M_S, tie_embeddings=True)


def test_unknown_runner_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"model\.runner: 'jit'.*eager"):
        AttentionDecoder(LSTMCell, nn.Embedding(V, 6), H, 1, 10, M_S, runner="jit")


def test_without_teacher_forcing_the_decoder_reads_its_own_argmax() -> None:
    decoder = make_decoder()
    memory = random_memory(LENGTHS)
    logits, _ = decoder(target(seed=1), memory, teacher_forcing=0.0)
    other, _ = decoder(target(seed=2), memory, teacher_forcing=0.0)
    torch.testing.assert_close(other, logits)  # only the start token is read
    # ... which is greedy decoding (while nothing ended)
    hypotheses = greedy_search(decoder, memory, torch.full((3,), T - 1), EOS, EOS)
    for b, hypothesis in enumerate(hypotheses):
        assert hypothesis.tokens == logits[b].argmax(1)[: len(hypothesis.tokens)].tolist()


def test_partial_teacher_forcing_mixes_gold_and_own_tokens() -> None:
    decoder = make_decoder()
    memory, inputs = random_memory(LENGTHS), target()
    forced, _ = decoder(inputs, memory, teacher_forcing=1.0)
    free, _ = decoder(inputs, memory, teacher_forcing=0.0)
    assert not torch.allclose(free[0, 1], forced[0, 1])  # step 1 reads gold or own token
    torch.manual_seed(3)
    rows = 20
    mixed, _ = decoder(inputs.repeat_interleave(rows, 0), memory.repeat(rows), teacher_forcing=0.5)
    second = mixed[:rows, 1]  # example 0, 20 times
    gold = [torch.allclose(row, forced[0, 1], atol=1e-5) for row in second]
    own = [torch.allclose(row, free[0, 1], atol=1e-5) for row in second]
    assert all(g or o for g, o in zip(gold, own, strict=True))
    assert any(gold) and any(own)
    with pytest.raises(ConfigError, match="teacher forcing"):
        decoder(inputs, memory, teacher_forcing=1.5)


def test_dropout_acts_in_training_only() -> None:
    decoder = make_decoder(dropout=0.5)
    memory, inputs = random_memory(LENGTHS), target()
    assert torch.equal(decoder(inputs, memory)[0], decoder(inputs, memory)[0])
    decoder.train()
    assert not torch.equal(decoder(inputs, memory)[0], decoder(inputs, memory)[0])


def test_every_parameter_has_an_initializer_group_and_gets_a_gradient() -> None:
    decoder = make_decoder(LSTMCell, layers=2, attention="bahdanau")
    groups = parameter_groups(decoder)
    grouped = {id(p) for ps in groups.values() for p in ps}
    assert grouped == {id(p) for p in decoder.parameters()}
    assert {id(decoder.embedding.weight)} == {id(p) for p in groups["embedding"]}
    linear_weights = [decoder.bridge.weight, decoder.combine.weight, decoder.output.weight]
    assert {id(w) for w in linear_weights} <= {id(p) for p in groups["output"]}
    assert id(decoder.attention.v.weight) in {id(p) for p in groups["output"]}
    logits, _ = decoder(target(), random_memory(LENGTHS))
    logits.logsumexp(-1).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.parameters())


def test_copies_and_pickles_compute_the_same() -> None:
    decoder = make_decoder()
    memory, inputs = random_memory(LENGTHS), target()
    expected, _ = decoder(inputs, memory)
    for clone in (copy.deepcopy(decoder), pickle.loads(pickle.dumps(decoder))):
        torch.testing.assert_close(clone(inputs, memory)[0], expected)
