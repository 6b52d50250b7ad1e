"""Greedy and batched beam search: known answers, n-best, max lengths, batching, padding."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from decoding_helpers import EOS, bigram_decoder, make_decoder, pad_memory, random_memory

from pipeline.decoding import (
    AttentionDecoder,
    beam_search,
    greedy_search,
    length_penalty,
    max_lengths_for,
)
from pipeline.errors import OptionError, UserError
from plugins.cells.gru import GRUCell

A, B_, C = 3, 4, 5
# From the start, A is likelier than B, but nothing after A is likely: greedy takes A and
# ends with P = 0.5 * 0.34, while the best sequence is B <eos> with P = 0.4 * 0.95.
TRAP = {
    EOS: {A: 0.5, B_: 0.4, C: 0.1},
    A: {EOS: 0.34, A: 0.22, B_: 0.22, C: 0.22},
    B_: {EOS: 0.95, C: 0.05},
    C: {EOS: 0.5, C: 0.5},
}


def lengths(*values: int) -> torch.Tensor:
    return torch.tensor(values)


def test_beam_search_finds_the_sequence_greedy_misses() -> None:
    decoder = bigram_decoder(TRAP)
    memory = random_memory([3, 3])
    greedy = greedy_search(decoder, memory, lengths(10, 10), EOS, EOS)
    assert [h.tokens for h in greedy] == [[A], [A]]
    assert greedy[0].log_prob == pytest.approx(math.log(0.5 * 0.34), abs=1e-4)
    beams = beam_search(decoder, memory, lengths(10, 10), EOS, EOS, beam_size=2)
    best = beams[0][0]
    assert best.tokens == [B_] and beams[1][0].tokens == [B_]
    assert best.log_prob == pytest.approx(math.log(0.4 * 0.95), abs=1e-4)
    # GNMT: the length counts the <eos>
    assert best.score == pytest.approx(best.log_prob / ((5 + 2) / 6) ** 0.6, abs=1e-5)


def test_n_best_lists_are_sorted_distinct_and_scored() -> None:
    decoder = bigram_decoder(TRAP)
    (n_best,) = beam_search(
        decoder,
        random_memory([2]),
        lengths(6),
        EOS,
        EOS,
        beam_size=4,
        n_best=4,
        length_penalty=0.0,
    )
    assert len(n_best) == 4
    scores = [h.score for h in n_best]
    assert scores == sorted(scores, reverse=True)
    assert len({tuple(h.tokens) for h in n_best}) == 4
    assert [h.tokens for h in n_best[:3]] == [[B_], [A], [A, B_]]
    for h in n_best:  # without a length penalty the score is the sequence's log-probability
        previous, expected = EOS, 0.0
        for token in [*h.tokens, EOS]:
            expected += math.log(TRAP[previous].get(token, 1e-6))
            previous = token
        assert h.score == pytest.approx(expected, abs=1e-4)


def test_a_stronger_length_penalty_favours_longer_hypotheses() -> None:
    # P([]) = 0.4 > P([A]) = 0.3 > P([A, C]) = 0.27
    table = {EOS: {A: 0.6, EOS: 0.4}, A: {EOS: 0.5, C: 0.5}, C: {EOS: 0.9, C: 0.1}}
    decoder, memory, limit = bigram_decoder(table), random_memory([2]), lengths(5)
    plain = beam_search(decoder, memory, limit, EOS, EOS, 3, 0.0, n_best=3)[0]
    assert [h.tokens for h in plain] == [[], [A], [A, C]]
    strong = beam_search(decoder, memory, limit, EOS, EOS, 3, 3.0, n_best=3)[0]
    assert [h.tokens for h in strong] == [[A, C], [A], []]
    expected = math.log(0.6 * 0.5 * 0.9) / length_penalty(3.0, 3.0)
    assert strong[0].score == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_no_example_exceeds_its_max_length(beam_size: int) -> None:
    endless = bigram_decoder({EOS: {C: 1.0}, C: {C: 1.0}})
    limits = lengths(0, 1, 4)
    memory = random_memory([2, 3, 1])
    for decoder in (endless, make_decoder()):
        for hypotheses in (
            [[h] for h in greedy_search(decoder, memory, limits, EOS, EOS)],
            beam_search(decoder, memory, limits, EOS, EOS, beam_size, n_best=beam_size),
        ):
            for limit, n_best in zip(limits.tolist(), hypotheses, strict=True):
                assert n_best and all(len(h.tokens) <= limit for h in n_best)
                assert all(h.attention.shape == (len(h.tokens), 3) for h in n_best)
    # the endless decoder is cut at exactly each limit, its <eos> forced there
    cut = beam_search(endless, memory, limits, EOS, EOS, beam_size)
    assert [n_best[0].tokens for n_best in cut] == [[], [C], [C] * 4]


def count_steps(decoder: AttentionDecoder) -> list[int]:
    """Spy on decoder.step: the list fills with the batch size (rows) of each call."""
    rows: list[int] = []
    step = decoder.step

    def counted(tokens: torch.Tensor, *args: Any) -> Any:
        rows.append(len(tokens))
        return step(tokens, *args)

    decoder.step = counted  # type: ignore[method-assign]
    return rows


def test_search_stops_when_every_example_is_done() -> None:
    decoder = bigram_decoder(TRAP)
    rows = count_steps(decoder)
    beam_search(decoder, random_memory([1, 2]), lengths(50, 80), EOS, EOS, beam_size=3)
    assert len(rows) <= 4
    rows.clear()
    greedy_search(decoder, random_memory([1, 2]), lengths(50, 80), EOS, EOS)
    assert len(rows) == 2


def test_finished_examples_leave_the_batch_down_to_two_rows() -> None:
    endless = bigram_decoder({EOS: {C: 1.0}, C: {C: 1.0}})
    rows = count_steps(endless)
    memory, limits = random_memory([1, 3, 2]), lengths(1, 6, 3)
    greedy = greedy_search(endless, memory, limits, EOS, EOS)
    assert rows == [3, 3, 2, 2, 2, 2, 2]  # one row would mean one more compiled graph
    assert [len(h.tokens) for h in greedy] == [1, 6, 3]
    rows.clear()
    beams = beam_search(endless, memory, limits, EOS, EOS, beam_size=2)
    assert rows == [6, 6, 4, 4, 2, 2, 2]
    assert [n_best[0].tokens for n_best in beams] == [[C], [C] * 6, [C] * 3]


@pytest.mark.parametrize("length_penalty_alpha", [0.0, 0.6])
def test_beam_of_one_is_greedy(length_penalty_alpha: float) -> None:
    decoder = make_decoder(GRUCell, attention="luong")
    memory, limits = random_memory([4, 2, 3, 1], seed=2), lengths(6, 3, 7, 2)
    greedy = greedy_search(decoder, memory, limits, EOS, EOS)
    beams = beam_search(decoder, memory, limits, EOS, EOS, 1, length_penalty_alpha)
    for g, (b,) in zip(greedy, beams, strict=True):
        assert g.tokens == b.tokens
        assert g.log_prob == pytest.approx(b.log_prob, abs=1e-5)
        torch.testing.assert_close(g.attention, b.attention)
        if length_penalty_alpha == 0.0:
            assert g.score == pytest.approx(b.score, abs=1e-5)


def test_each_example_of_a_batch_decodes_as_if_alone() -> None:
    decoder = make_decoder(attention="bahdanau")
    sources = [5, 2, 4, 3]
    memory, limits = random_memory(sources, seed=3), lengths(7, 3, 6, 5)
    batched = beam_search(decoder, memory, limits, EOS, EOS, beam_size=3, n_best=2)
    greedy = greedy_search(decoder, memory, limits, EOS, EOS)
    assert any(len(n_best[0].tokens) > 0 for n_best in batched)
    for i, length in enumerate(sources):
        alone = memory.select(torch.tensor([i]))
        alone.values, alone.mask = alone.values[:, :length], alone.mask[:, :length]
        (expected,) = beam_search(decoder, alone, limits[i : i + 1], EOS, EOS, 3, n_best=2)
        for got, want in zip(batched[i], expected, strict=True):
            assert got.tokens == want.tokens
            assert got.score == pytest.approx(want.score, abs=1e-5)
            torch.testing.assert_close(got.attention[:, :length], want.attention)
        (greedy_alone,) = greedy_search(decoder, alone, limits[i : i + 1], EOS, EOS)
        assert greedy[i].tokens == greedy_alone.tokens
        assert greedy[i].score == pytest.approx(greedy_alone.score, abs=1e-5)


def test_padding_in_memory_does_not_change_the_hypotheses() -> None:
    decoder = make_decoder(attention="luong")
    memory, limits = random_memory([3, 2], seed=4), lengths(6, 6)
    padded = pad_memory(memory, 4)
    for plain, extra in zip(
        beam_search(decoder, memory, limits, EOS, EOS, 4, n_best=3),
        beam_search(decoder, padded, limits, EOS, EOS, 4, n_best=3),
        strict=True,
    ):
        for h, p in zip(plain, extra, strict=True):
            assert (h.tokens, h.score) == (p.tokens, pytest.approx(p.score, abs=1e-5))
            torch.testing.assert_close(p.attention[:, :3], h.attention)
            assert not p.attention[:, 3:].any()


def test_without_attention_hypotheses_carry_zero_weights() -> None:
    decoder = make_decoder(attention="none")
    (n_best,) = beam_search(decoder, random_memory([3]), lengths(4), EOS, EOS, 2)
    assert torch.equal(n_best[0].attention, torch.zeros(len(n_best[0].tokens), 3))


@pytest.mark.parametrize(("beam_size", "n_best"), [(0, 1), (3, 4), (3, 0)])
def test_impossible_beam_settings_are_user_errors(beam_size: int, n_best: int) -> None:
    with pytest.raises(OptionError, match=rf"beam_size {beam_size}, n_best {n_best}"):
        beam_search(
            bigram_decoder(TRAP), random_memory([2]), lengths(3), EOS, EOS, beam_size, n_best=n_best
        )
    assert issubclass(OptionError, UserError)


def test_an_empty_batch_gives_no_hypotheses() -> None:
    empty = random_memory([2]).select(torch.tensor([], dtype=torch.long))
    assert greedy_search(bigram_decoder(TRAP), empty, lengths(), EOS, EOS) == []
    assert beam_search(bigram_decoder(TRAP), empty, lengths(), EOS, EOS) == []


def test_max_lengths_follow_the_source_lengths() -> None:
    sources = lengths(1, 10, 40)
    assert max_lengths_for(sources, 1.5).tolist() == [7, 20, 65]
    assert max_lengths_for(sources, 1.0, offset=0, cap=30).tolist() == [1, 10, 30]
