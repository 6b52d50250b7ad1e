"""The CRF layer against brute force over every tag sequence, and its scheme constraints."""

from __future__ import annotations

import itertools

import pytest
import torch

from plugins.tasks.tagging.crf import CRF, FORBIDDEN, allowed_transitions
from plugins.tasks.tagging.schemes import scheme_tags, split_tag

TAGS = scheme_tags(["LOC", "PER"], "iobes")  # O, B/I/E/S-LOC, B/I/E/S-PER: K = 9


def random_crf(num_tags: int, seed: int, allowed=None) -> CRF:
    crf = CRF(num_tags, allowed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return crf


def padded_batch(lengths: list[int], num_tags: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random emissions (B, T, K) and the prefix mask (B, T) of lengths."""
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(len(lengths), max(lengths), num_tags, generator=generator)
    mask = torch.arange(max(lengths)) < torch.tensor(lengths).unsqueeze(1)
    return emissions, mask


def path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
    """s(y) written out term by term for one unpadded sequence (T, K)."""
    transitions, start, end = crf.scores()
    total = start[path[0]] + end[path[-1]]
    for t, tag in enumerate(path):
        total = total + emissions[t, tag]
        if t > 0:
            total = total + transitions[path[t - 1], tag]
    return total


@torch.no_grad()
def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[float, tuple[int, ...]]:
    """log Z and the best path of one sequence by enumerating all K^length paths."""
    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    totals = torch.stack([path_score(crf, emissions[:length], p) for p in paths])
    return float(torch.logsumexp(totals, 0)), paths[int(totals.argmax())]


LENGTHS = [[4, 2, 1, 3], [3], [1, 1], [2, 4]]


@pytest.mark.parametrize("lengths", LENGTHS)
@torch.no_grad()
def test_log_partition_equals_brute_force_with_padding(lengths: list[int]) -> None:
    crf = random_crf(3, seed=len(lengths))
    emissions, mask = padded_batch(lengths, 3, seed=sum(lengths))
    emissions[~mask] = 1000.0  # padding must not leak into the result
    log_z = crf.log_partition(emissions, mask)
    for row, length in enumerate(lengths):
        expected, _ = brute_force(crf, emissions[row], length)
        assert float(log_z[row]) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("lengths", LENGTHS)
def test_viterbi_equals_brute_force_argmax(lengths: list[int]) -> None:
    crf = random_crf(3, seed=7 + len(lengths))
    emissions, mask = padded_batch(lengths, 3, seed=3 * sum(lengths))
    decoded = crf.decode(emissions, mask)
    for row, length in enumerate(lengths):
        _, best = brute_force(crf, emissions[row], length)
        assert tuple(decoded[row, :length].tolist()) == best


@torch.no_grad()
def test_nll_is_log_z_minus_gold_score_and_probabilities_sum_to_one() -> None:
    crf = random_crf(3, seed=1)
    emissions, mask = padded_batch([3], 3, seed=2)
    paths = list(itertools.product(range(3), repeat=3))
    tags = torch.tensor(paths)  # every path as a batch row
    nll = crf(emissions.expand(len(paths), -1, -1), tags, mask.expand(len(paths), -1))
    assert float(torch.exp(-nll).sum()) == pytest.approx(1.0, abs=1e-5)
    assert float(nll[5]) == pytest.approx(
        brute_force(crf, emissions[0], 3)[0] - float(path_score(crf, emissions[0], paths[5])),
        abs=1e-4,
    )


@torch.no_grad()
def test_batched_equals_one_sequence_at_a_time() -> None:
    lengths = [5, 1, 3, 7, 2]
    crf = random_crf(len(TAGS), seed=3, allowed=allowed_transitions(TAGS, "iobes"))
    emissions, mask = padded_batch(lengths, len(TAGS), seed=4)
    tags = torch.randint(0, len(TAGS), mask.shape, generator=torch.Generator().manual_seed(5))
    batched_nll, batched_path = crf(emissions, tags, mask), crf.decode(emissions, mask)
    for row, n in enumerate(lengths):
        one = (emissions[row : row + 1, :n], tags[row : row + 1, :n], mask[row : row + 1, :n])
        assert float(crf(*one)[0]) == pytest.approx(float(batched_nll[row]), rel=1e-5)
        single = crf.decode(one[0], one[2])[0]
        assert batched_path[row, :n].tolist() == single.tolist()


def test_gradients_are_finite_with_constraints() -> None:
    crf = random_crf(len(TAGS), seed=6, allowed=allowed_transitions(TAGS, "iobes"))
    emissions, mask = padded_batch([4, 2], len(TAGS), seed=8)
    emissions.requires_grad_(True)
    gold = torch.tensor([[1, 2, 3, 0], [4, 0, 0, 0]])  # B-LOC I-LOC E-LOC O ; S-LOC O
    crf(emissions, gold, mask).sum().backward()
    assert torch.isfinite(emissions.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in crf.parameters())


def test_iobes_constraints_table() -> None:
    transitions, start, end = allowed_transitions(TAGS, "iobes")
    index = {tag: i for i, tag in enumerate(TAGS)}

    def allowed(before: str, after: str) -> bool:
        return bool(transitions[index[before], index[after]])

    assert allowed("O", "B-PER") and allowed("O", "S-LOC") and allowed("E-PER", "B-PER")
    assert allowed("B-PER", "I-PER") and allowed("I-PER", "E-PER") and allowed("S-PER", "O")
    assert not allowed("O", "I-PER") and not allowed("O", "E-PER")
    assert not allowed("B-PER", "I-LOC") and not allowed("I-PER", "E-LOC")
    assert not allowed("B-PER", "O") and not allowed("I-LOC", "B-LOC")
    assert [TAGS[i] for i in range(len(TAGS)) if start[i]] == [
        "O",
        "B-LOC",
        "S-LOC",
        "B-PER",
        "S-PER",
    ]
    assert [TAGS[i] for i in range(len(TAGS)) if end[i]] == [
        "O",
        "E-LOC",
        "S-LOC",
        "E-PER",
        "S-PER",
    ]


def test_iob2_and_iob1_constraints() -> None:
    tags = scheme_tags(["LOC", "PER"], "iob2")  # O B-LOC I-LOC B-PER I-PER
    transitions, start, end = allowed_transitions(tags, "iob2")
    assert not transitions[0, 2] and not transitions[3, 2] and transitions[1, 2]
    assert start.tolist() == [True, True, False, True, False] and end.all()
    transitions, start, _ = allowed_transitions(tags, "iob1")
    assert transitions[0, 2] and not transitions[0, 1] and transitions[2, 1]
    assert not transitions[4, 1] and start.tolist() == [True, False, True, False, True]


def test_constrained_decoding_never_emits_a_forbidden_transition() -> None:
    """Emissions that favour I- tags everywhere still decode into valid IOBES sequences."""
    crf = random_crf(len(TAGS), seed=9, allowed=allowed_transitions(TAGS, "iobes"))
    emissions, mask = padded_batch([6, 3, 9, 1] * 10, len(TAGS), seed=10)
    inside = [i for i, tag in enumerate(TAGS) if tag.startswith(("I-", "E-"))]
    emissions[:, :, inside] += 5.0
    decoded = crf.decode(emissions, mask)
    for row, length in enumerate(mask.sum(1).tolist()):
        parts = [split_tag(TAGS[i]) for i in decoded[row, :length].tolist()]
        previous = ("O", "")
        for prefix, kind in [*parts, ("O", "")]:
            if prefix in ("I", "E") or (previous[0] in ("B", "I")):
                assert previous[0] in ("B", "I") and prefix in ("I", "E") and kind == previous[1]
            previous = (prefix, kind)


def test_unconstrained_crf_has_no_forbidden_scores() -> None:
    crf = CRF(4)
    transitions, start, end = crf.scores()
    assert (transitions > FORBIDDEN).all() and (start > FORBIDDEN).all() and (end > FORBIDDEN).all()
