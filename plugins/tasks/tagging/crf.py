"""A linear-chain conditional random field output layer (Lafferty et al. 2001; Lample et al. 2016).

The score of tags y_1..y_n for emissions e (one row of K tag scores per word) is::

    s(y) = start[y_1] + sum_t e_t[y_t] + sum_{t>1} trans[y_{t-1}, y_t] + end[y_n]

The loss is the negative log-likelihood ``log Z - s(gold)``, with log Z summed over all K^n
tag sequences by the forward algorithm; decoding is Viterbi. Both run batched over padded
sequences: ``mask`` (B, T) is True on the first ``length`` steps of each row.

Transitions the tag scheme forbids (``I-PER`` after ``O``, ``I-LOC`` after ``B-PER``, a
sequence starting with ``I-``, ...) get a large negative score instead of a learned one, so
decoding never produces them and training does not spend probability mass on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from plugins.tasks.tagging.schemes import OUTSIDE, split_tag

FORBIDDEN = -1.0e4
"""Score of a forbidden transition: large negative but finite, so no NaN in float16 or grads."""


def allowed_transitions(tags: Sequence[str], scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """What the scheme allows: ``(transitions (K, K), start (K,), end (K,))`` bool masks.

    ``transitions[i, j]``: may tag j follow tag i; ``start[j]``: may a sentence start with
    j; ``end[i]``: may it end with i. iob1 allows nearly everything (``B-X`` only after X).
    """
    parts = [split_tag(tag) for tag in tags]
    size = len(tags)
    transitions = torch.ones(size, size, dtype=torch.bool)
    for i, before in enumerate(parts):
        for j, after in enumerate(parts):
            transitions[i, j] = _may_follow(before, after, scheme)
    outside = (OUTSIDE, "")
    start = torch.tensor([_may_follow(outside, after, scheme) for after in parts])
    end = torch.tensor([_may_follow(before, outside, scheme) for before in parts])
    return transitions, start, end


def _may_follow(before: tuple[str, str], after: tuple[str, str], scheme: str) -> bool:
    (prefix, kind), (next_prefix, next_kind) = before, after
    inside = prefix in ("B", "I") and next_kind == kind  # continues the entity open before
    if scheme == "iobes":
        return inside if next_prefix in ("I", "E") else prefix not in ("B", "I")
    if scheme == "iob2":
        return inside if next_prefix == "I" else True
    return next_kind == kind if next_prefix == "B" else True  # iob1


class CRF(nn.Module):
    """Transition scores over K tags, with the forward algorithm and Viterbi decoding.

    ``allowed`` is ``allowed_transitions(...)``; None allows every transition.
    """

    allowed_transitions: Tensor  # (K, K) bool buffers, registered in __init__
    allowed_start: Tensor  # (K,)
    allowed_end: Tensor  # (K,)

    def __init__(self, num_tags: int, allowed: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # (K, K): from, to
        self.start = nn.Parameter(torch.zeros(num_tags))  # (K,)
        self.end = nn.Parameter(torch.zeros(num_tags))  # (K,)
        if allowed is None:
            every = torch.ones(num_tags, num_tags, dtype=torch.bool)
            allowed = (every, every[0], every[0])
        self.register_buffer("allowed_transitions", allowed[0].clone(), persistent=False)
        self.register_buffer("allowed_start", allowed[1].clone(), persistent=False)
        self.register_buffer("allowed_end", allowed[2].clone(), persistent=False)

    def scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """Transition (K, K), start (K,) and end (K,) scores with forbidden ones masked."""
        return (
            self.transitions.masked_fill(~self.allowed_transitions, FORBIDDEN),
            self.start.masked_fill(~self.allowed_start, FORBIDDEN),
            self.end.masked_fill(~self.allowed_end, FORBIDDEN),
        )

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z: emissions (B, T, K), mask (B, T) -> (B,), by the forward algorithm."""
        transitions, start, end = self.scores()
        alpha = start + emissions[:, 0]  # (B, K): log-sum of paths ending in each tag
        for t in range(1, emissions.size(1)):
            paths = alpha.unsqueeze(2) + transitions  # (B, K from, K to)
            step = torch.logsumexp(paths, dim=1) + emissions[:, t]  # (B, K)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """s(tags): emissions (B, T, K), tags (B, T) (any value where masked), mask -> (B,)."""
        transitions, start, end = self.scores()
        tags = tags.masked_fill(~mask, 0)
        weights = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        moved = transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        last = tags.gather(1, (mask.sum(1, keepdim=True) - 1).clamp(min=0)).squeeze(1)  # (B,)
        return (
            start[tags[:, 0]]
            + (emitted * weights).sum(1)
            + (moved * weights[:, 1:]).sum(1)
            + end[last]
        )

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Negative log-likelihood of tags per sequence: (B, T, K), (B, T), (B, T) -> (B,)."""
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """Viterbi: the best tags (B, T) for emissions (B, T, K); steps past a length repeat."""
        transitions, start, end = self.scores()
        batch, steps, size = emissions.shape
        score = start + emissions[:, 0]  # (B, K): best path ending in each tag
        keep = torch.arange(size, device=emissions.device).expand(batch, size)
        backpointers: list[Tensor] = []
        for t in range(1, steps):
            best, previous = (score.unsqueeze(2) + transitions).max(dim=1)  # (B, K) each
            valid = mask[:, t].unsqueeze(1)
            score = torch.where(valid, best + emissions[:, t], score)
            backpointers.append(torch.where(valid, previous, keep))  # padding: stay put
        tag = (score + end).argmax(dim=1)  # (B,)
        path = [tag]
        for pointers in reversed(backpointers):
            tag = pointers.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        path.reverse()
        return torch.stack(path, dim=1)
