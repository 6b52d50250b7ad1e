"""Attention over a memory of vectors, with the padded positions masked out.

Shapes: B batch, S memory positions, M memory size, H decoder hidden size (the query).

Kinds (``task.attention``) and scores (``task.attention_score``, Luong only):

- ``none``: no attention; the context is zeros and the decoder sees the memory only through
  its initial state (the plain encoder-decoder of Sutskever et al. 2014 and Cho et al. 2014).
- ``bahdanau``: additive score ``v^T tanh(W_q q + W_m m)`` (Bahdanau et al. 2015); ``W_m m``
  is computed once per sequence by :meth:`Attention.prepare`.
- ``luong`` with ``dot``: ``q^T m`` (needs H == M), or ``general``: ``q^T W m`` (Luong et al.
  2015); ``W m`` is likewise computed once per sequence.

Here the query is the decoder's current top-layer output h_t (Luong's order: step the cell,
then attend), for every kind.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.config import ConfigError

__all__ = ["ATTENTION_KINDS", "ATTENTION_SCORES", "Attention", "build_attention"]

ATTENTION_KINDS = ("none", "bahdanau", "luong")
ATTENTION_SCORES = ("dot", "general")


class Attention(nn.Module):
    """Base: ``prepare(values) -> keys`` once per sequence, then per step
    ``forward(query (B, H), keys, values (B, S, M), mask (B, S)) -> context (B, M), weights
    (B, S)``. Weights are exactly 0 at masked positions and sum to 1 over the real ones
    (every row needs at least one real position)."""

    def prepare(self, values: Tensor) -> Tensor:
        """Keys (B, S, K) the scores read; the default is the values themselves."""
        return values

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Unnormalised scores (B, S) of query (B, H) against keys (B, S, K)."""
        raise NotImplementedError

    def forward(
        self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        scores = self.scores(query, keys).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)
        return context, weights


class NoAttention(Attention):
    """Zero context and zero weights: the decoder runs on its bridged initial state alone."""

    def prepare(self, values: Tensor) -> Tensor:
        return values.new_zeros(*values.shape[:2], 0)  # (B, S, 0): nothing to precompute

    def forward(
        self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        batch, positions, size = values.shape
        context = values.new_zeros(batch, size)
        return context, values.new_zeros(batch, positions)


class AdditiveAttention(Attention):
    """Bahdanau et al. (2015): ``score(q, m) = v^T tanh(W_q q + W_m m)``, A = H units."""

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        self.memory_projection = nn.Linear(memory_size, query_size, bias=False)  # W_m
        self.query_projection = nn.Linear(query_size, query_size)  # W_q and the bias
        self.v = nn.Linear(query_size, 1, bias=False)

    def prepare(self, values: Tensor) -> Tensor:
        keys: Tensor = self.memory_projection(values)  # (B, S, H)
        return keys

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        hidden = torch.tanh(keys + self.query_projection(query).unsqueeze(1))
        scores: Tensor = self.v(hidden)  # (B, S, 1)
        return scores.squeeze(2)


class DotAttention(Attention):
    """Luong et al. (2015) ``dot``: ``score(q, m) = q^T m``; keys are W m for ``general``."""

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)


class GeneralAttention(DotAttention):
    """Luong et al. (2015) ``general``: ``score(q, m) = q^T W m`` with W m precomputed."""

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        self.memory_projection = nn.Linear(memory_size, query_size, bias=False)  # W

    def prepare(self, values: Tensor) -> Tensor:
        keys: Tensor = self.memory_projection(values)  # (B, S, H)
        return keys


def build_attention(kind: str, score: str, query_size: int, memory_size: int) -> Attention:
    """The attention of ``task.attention`` (and ``task.attention_score`` for luong)."""
    if kind not in ATTENTION_KINDS:
        raise ConfigError([f"task.attention: {kind!r}; allowed: {', '.join(ATTENTION_KINDS)}"])
    if kind == "none":
        return NoAttention()
    if kind == "bahdanau":
        return AdditiveAttention(query_size, memory_size)
    if score not in ATTENTION_SCORES:
        raise ConfigError(
            [f"task.attention_score: {score!r}; allowed: {', '.join(ATTENTION_SCORES)}"]
        )
    if score == "general":
        return GeneralAttention(query_size, memory_size)
    if query_size != memory_size:
        raise ConfigError(
            [
                f"task.attention_score: dot needs the decoder's hidden size ({query_size}) to "
                f"equal the memory size ({memory_size}); use general, or sizes that match"
            ]
        )
    return DotAttention()
