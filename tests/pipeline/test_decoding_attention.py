"""Attention kinds: the scores of the papers, masking, and build-time size checks."""

from __future__ import annotations

import pytest
import torch

from pipeline.config import ConfigError
from pipeline.decoding import build_attention
from pipeline.decoding.attention import Attention

B, S, H, M = 3, 5, 4, 6
LENGTHS = [5, 2, 1]


def inputs(memory_size: int = M) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    mask = torch.arange(S) < torch.tensor(LENGTHS).unsqueeze(1)
    values = torch.randn(B, S, memory_size).masked_fill(~mask.unsqueeze(2), 1e4)
    return torch.randn(B, H), values, mask


def attend(
    attention: Attention, query: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    return attention(query, attention.prepare(values), values, mask)


SCORED = [("bahdanau", "general"), ("luong", "general"), ("luong", "dot")]


@pytest.mark.parametrize(("kind", "score"), SCORED)
def test_padded_positions_get_zero_weight_and_real_ones_sum_to_one(kind: str, score: str) -> None:
    memory_size = H if score == "dot" else M
    attention = build_attention(kind, score, H, memory_size)
    query, values, mask = inputs(memory_size)
    context, weights = attend(attention, query, values, mask)
    assert weights.shape == (B, S) and context.shape == (B, memory_size)
    assert torch.equal(weights[~mask], torch.zeros(int((~mask).sum())))
    torch.testing.assert_close(weights.sum(1), torch.ones(B))
    # the huge values at the padding never reach the context
    expected = torch.stack([weights[b, :n] @ values[b, :n] for b, n in enumerate(LENGTHS)])
    torch.testing.assert_close(context, expected)


def test_bahdanau_scores_are_additive() -> None:
    attention = build_attention("bahdanau", "general", H, M)
    query, values, mask = inputs()
    _, weights = attend(attention, query, values, mask)
    w_m = attention.memory_projection.weight
    w_q, b_q = attention.query_projection.weight, attention.query_projection.bias
    v = attention.v.weight.squeeze(0)
    scores = torch.tanh(values @ w_m.T + (query @ w_q.T + b_q).unsqueeze(1)) @ v
    expected = torch.softmax(scores.masked_fill(~mask, float("-inf")), 1)
    torch.testing.assert_close(weights, expected)


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_scores_are_bilinear(score: str) -> None:
    memory_size = H if score == "dot" else M
    attention = build_attention("luong", score, H, memory_size)
    query, values, mask = inputs(memory_size)
    _, weights = attend(attention, query, values, mask)
    w = torch.eye(H) if score == "dot" else attention.memory_projection.weight  # (H, M)
    scores = torch.einsum("bh,hm,bsm->bs", query, w, values)
    expected = torch.softmax(scores.masked_fill(~mask, float("-inf")), 1)
    torch.testing.assert_close(weights, expected)


def test_none_gives_zero_context_and_zero_weights() -> None:
    attention = build_attention("none", "general", H, M)
    query, values, mask = inputs()
    context, weights = attend(attention, query, values, mask)
    assert torch.equal(context, torch.zeros(B, M))
    assert torch.equal(weights, torch.zeros(B, S))
    assert not list(attention.parameters())


def test_dot_score_with_different_sizes_is_a_config_error_naming_both() -> None:
    with pytest.raises(ValueError, match=r"task\.attention_score: dot.*\(4\).*\(6\)"):
        build_attention("luong", "dot", H, M)


@pytest.mark.parametrize(
    ("kind", "score", "key"),
    [("luong", "cosine", "task.attention_score"), ("multihead", "dot", "task.attention")],
)
def test_unknown_kinds_name_the_key_and_the_choices(kind: str, score: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}: .*allowed"):
        build_attention(kind, score, H, M)
