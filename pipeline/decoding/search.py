"""Greedy and batched beam search over an :class:`AttentionDecoder`.

Shapes: B examples, k beam size, S memory positions, V vocabulary, T the longest max length.

Every hypothesis ends with ``<eos>``: the decoder emits it, or it is forced at the example's
max length (only ``<eos>`` is allowed there), so an example never has more than
``max_lengths[b]`` tokens and every score includes the probability of ending. A hypothesis'
length for the penalty counts that ``<eos>``.

Beam search (batched: all B * k hypotheses step together as one batch; no per-example Python
loop while stepping; examples that are done leave the batch). Each step takes the 2k best
continuations of each example; those ending in ``<eos>`` among the k best are set aside as
finished (the n_best best of them are kept), and the k best others go on. An example is done
when its n_best-th finished score is at least its best unfinished score (exact without a
length penalty, the usual heuristic with one), or at its max length. Scores use the length
penalty of Wu et al. (2016, GNMT): ``lp(len) = ((5 + len) / 6) ** alpha``, score = log P / lp.

Call these with the decoder in eval mode (no dropout); they run without gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from pipeline.decoding.decoder import AttentionDecoder, Memory, unaliased
from pipeline.errors import OptionError

__all__ = ["Hypothesis", "beam_search", "greedy_search", "length_penalty", "max_lengths_for"]


@dataclass
class Hypothesis:
    """One decoded sequence."""

    tokens: list[int]
    """Token ids without the start token and without ``<eos>``."""
    score: float
    """log_prob / length_penalty(len(tokens) + 1) (greedy: log_prob)."""
    log_prob: float
    """Sum of the log-probabilities of the tokens and the final ``<eos>``."""
    attention: Tensor
    """(len(tokens), S) attention weights on the CPU, for heatmaps (zeros without attention)."""


def length_penalty(length: Tensor | float, alpha: float) -> Tensor | float:
    """GNMT's ``((5 + length) / 6) ** alpha`` (Wu et al. 2016); 1 when alpha is 0."""
    return ((5.0 + length) / 6.0) ** alpha


def max_lengths_for(
    source_lengths: Tensor, ratio: float, offset: int = 5, cap: int | None = None
) -> Tensor:
    """Per-example max output lengths ``ceil(ratio * source_length) + offset`` (capped): (B,)."""
    lengths = torch.ceil(source_lengths.double() * ratio).long() + offset
    return lengths.clamp(max=cap) if cap is not None else lengths


def _log_probs(logits: Tensor, forced: Tensor, eos_id: int) -> Tensor:
    """log_softmax (B, V) in float32, with only ``<eos>`` allowed in rows where ``forced``."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    not_eos = torch.ones(log_probs.size(-1), dtype=torch.bool, device=logits.device)
    not_eos[eos_id] = False
    return log_probs.masked_fill(forced.unsqueeze(-1) & not_eos, float("-inf"))


def _kept_examples(done: Tensor, k: int) -> Tensor | None:
    """The examples (indices) to go on stepping once some are done, or None for all of them:
    the unfinished ones, and a finished one too where they alone would fill fewer than 2 rows
    (torch.compile would specialise the step once more for a batch of one row)."""
    keep = ~done
    if int(keep.sum()) * k < 2:
        keep[int(done.nonzero()[0])] = True
    return None if bool(keep.all()) else keep.nonzero().squeeze(1)


@torch.no_grad()
def greedy_search(
    decoder: AttentionDecoder, memory: Memory, max_lengths: Tensor, start_id: int, eos_id: int
) -> list[Hypothesis]:
    """The most probable next token at every step, for each example: one hypothesis each.

    Finished examples leave the batch, so the cost follows each example's own length.
    """
    batch, positions = memory.values.shape[:2]
    if batch == 0:
        return []
    device = memory.values.device
    steps = int(max_lengths.max()) + 1
    alive = torch.arange(batch, device=device)  # the example of each row
    limits = max_lengths.to(device)
    memory = unaliased(memory)
    state = decoder.start(memory)
    tokens = torch.full((batch,), start_id, dtype=torch.long, device=device)
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    log_prob = torch.zeros(batch, device=device)
    lengths = torch.zeros(batch, dtype=torch.long, device=device)
    history = torch.zeros(batch, steps, dtype=torch.long, device=device)
    attention = torch.zeros(batch, steps, positions, device=device)
    for t in range(steps):
        logits, state, weights = decoder.step(tokens, state, memory)
        best, tokens = _log_probs(logits, t >= limits, eos_id).max(1)
        log_prob[alive] += best.masked_fill(done, 0.0)
        done = done | (tokens == eos_id)
        lengths[alive] += (~done).long()
        history[alive, t] = tokens
        attention[alive, t] = weights.float()
        if bool(done.all()):
            break
        kept = _kept_examples(done, 1) if bool(done.any()) else None
        if kept is not None:
            alive, limits, done, tokens = alive[kept], limits[kept], done[kept], tokens[kept]
            state, memory = state.select(kept), memory.select(kept)
    history, attention = history.cpu(), attention.cpu()
    return [
        Hypothesis(history[b, :n].tolist(), float(p), float(p), attention[b, :n])
        for b, (n, p) in enumerate(zip(lengths.tolist(), log_prob.tolist(), strict=True))
    ]


@torch.no_grad()
def beam_search(
    decoder: AttentionDecoder,
    memory: Memory,
    max_lengths: Tensor,
    start_id: int,
    eos_id: int,
    beam_size: int = 5,
    length_penalty: float = 0.6,
    n_best: int = 1,
) -> list[list[Hypothesis]]:
    """The ``n_best`` best hypotheses of each example, best first (see the module docstring);
    fewer only where the vocabulary has fewer sequences to offer."""
    if beam_size < 1 or not 1 <= n_best <= beam_size:
        raise OptionError(
            f"beam search needs beam_size >= 1 and 1 <= n_best <= beam_size; got beam_size "
            f"{beam_size}, n_best {n_best}"
        )
    if memory.values.size(0) == 0:
        return []
    search = _BeamSearch(decoder, memory, max_lengths, beam_size, length_penalty, n_best)
    return search.run(start_id, eos_id)


class _BeamSearch:
    """The state of one batched beam search. Only unfinished examples step (``alive``: A of
    the B examples); their tensors are (A, k, ...) or (A * k, ...), rows ``a * k + j``. The
    finished hypotheses are kept per example of the batch: (B, n_best, ...)."""

    def __init__(
        self,
        decoder: AttentionDecoder,
        memory: Memory,
        max_lengths: Tensor,
        beam_size: int,
        alpha: float,
        n_best: int,
    ) -> None:
        self.decoder, self.k, self.alpha, self.n_best = decoder, beam_size, alpha, n_best
        batch, positions = memory.values.shape[:2]
        self.batch, self.device = batch, memory.values.device
        device = self.device
        self.steps = int(max_lengths.max()) + 1  # the last one can only end
        self.alive = torch.arange(batch, device=device)
        self.max_lengths = max_lengths.to(device)
        state = decoder.start(memory)  # the bridge and attention keys once per example
        self.state = state.select(torch.arange(batch, device=device).repeat_interleave(self.k))
        self.memory = memory.repeat(beam_size)
        # raw log-probs of the unfinished beams; only beam 0 is alive at first
        self.scores = torch.full((batch, beam_size), float("-inf"), device=device)
        self.scores[:, 0] = 0.0
        self.done = torch.zeros(batch, dtype=torch.bool, device=device)
        rows = batch * beam_size
        self.history = torch.zeros(rows, self.steps, dtype=torch.long, device=device)
        self.attention = torch.zeros(rows, self.steps, positions, device=device)
        # the n_best best finished hypotheses per example, best first
        self.finished_scores = torch.full((batch, n_best), float("-inf"), device=device)
        self.finished_log_probs = torch.zeros(batch, n_best, device=device)
        self.finished_lengths = torch.zeros(batch, n_best, dtype=torch.long, device=device)
        self.finished_history = torch.zeros(
            batch, n_best, self.steps, dtype=torch.long, device=device
        )
        self.finished_attention = torch.zeros(batch, n_best, self.steps, positions, device=device)

    def run(self, start_id: int, eos_id: int) -> list[list[Hypothesis]]:
        tokens = torch.full((self.batch * self.k,), start_id, dtype=torch.long, device=self.device)
        for t in range(self.steps):
            logits, self.state, weights = self.decoder.step(tokens, self.state, self.memory)
            forced = (t >= self.max_lengths).repeat_interleave(self.k)
            log_probs = _log_probs(logits, forced, eos_id)
            tokens = self._advance(
                t, log_probs.view(-1, self.k, log_probs.size(1)), weights, eos_id
            )
            if bool(self.done.all()):
                break
            kept = _kept_examples(self.done, self.k) if bool(self.done.any()) else None
            if kept is not None:
                tokens = self._keep(kept, tokens)
        return self._hypotheses()

    def _advance(self, t: int, log_probs: Tensor, weights: Tensor, eos_id: int) -> Tensor:
        """Step t: log_probs (A, k, V), weights (A * k, S) -> the next tokens (A * k,)."""
        k, vocab = self.k, log_probs.size(2)
        alive = self.scores.size(0)
        candidates = (self.scores.unsqueeze(2) + log_probs).view(alive, k * vocab)
        candidates = candidates.masked_fill(self.done.unsqueeze(1), float("-inf"))
        top, index = candidates.topk(2 * k, dim=1)  # (A, 2k), best first
        beams, tokens = index // vocab, index % vocab
        rows = torch.arange(alive, device=self.device).unsqueeze(1) * k + beams  # (A, 2k)
        self.attention[:, t] = weights
        ends = tokens == eos_id
        finishing = ends[:, :k] & torch.isfinite(top[:, :k])
        if bool(finishing.any()):
            self._finish(t, top[:, :k], rows[:, :k], finishing)
        # the k best continuations that do not end, in rank order
        rank = torch.arange(2 * k, device=self.device)
        going = (ends.long() * 2 * k + rank).argsort(1)[:, :k]
        self.scores = top.gather(1, going)
        source = rows.gather(1, going).view(-1)
        next_tokens = tokens.gather(1, going).view(-1)
        self.history = self.history.index_select(0, source)
        self.history[:, t] = next_tokens
        self.attention = self.attention.index_select(0, source)
        self.state = self.state.select(source)
        best_going = self.scores[:, 0] / length_penalty(t + 1.0, self.alpha)
        self.done |= self.finished_scores[self.alive, -1] >= best_going
        return next_tokens

    def _finish(self, t: int, log_probs: Tensor, rows: Tensor, finishing: Tensor) -> None:
        """Merge hypotheses ending at step t (t tokens, then ``<eos>``) into the kept n_best.

        log_probs, rows, finishing: (A, k) for the k best candidates of the step.
        """
        scores = (log_probs / length_penalty(t + 1.0, self.alpha)).masked_fill(
            ~finishing, float("-inf")
        )
        alive = self.alive
        merged = torch.cat([self.finished_scores[alive], scores], 1)
        best, pick = merged.topk(self.n_best, dim=1)
        self.finished_scores[alive] = best

        def keep(old: Tensor, new: Tensor) -> Tensor:
            both = torch.cat([old[alive], new], 1)
            index = pick.view(*pick.shape, *([1] * (both.dim() - 2))).expand(
                -1, -1, *both.shape[2:]
            )
            return both.gather(1, index)

        lengths = torch.full_like(rows, t)
        self.finished_log_probs[alive] = keep(self.finished_log_probs, log_probs)
        self.finished_lengths[alive] = keep(self.finished_lengths, lengths)
        self.finished_history[alive] = keep(self.finished_history, self.history[rows])
        self.finished_attention[alive] = keep(self.finished_attention, self.attention[rows])

    def _keep(self, examples: Tensor, tokens: Tensor) -> Tensor:
        """Go on with the alive examples ``examples`` (indices) only; returns their tokens."""
        rows = (examples.unsqueeze(1) * self.k + torch.arange(self.k, device=self.device)).view(-1)
        self.alive, self.max_lengths = self.alive[examples], self.max_lengths[examples]
        self.scores, self.done = self.scores[examples], self.done[examples]
        self.history, self.attention = self.history[rows], self.attention[rows]
        self.state, self.memory = self.state.select(rows), self.memory.select(rows)
        return tokens[rows]

    def _hypotheses(self) -> list[list[Hypothesis]]:
        scores = self.finished_scores.cpu()
        log_probs = self.finished_log_probs.cpu()
        lengths = self.finished_lengths.cpu()
        history = self.finished_history.cpu()
        attention = self.finished_attention.cpu()
        return [
            [
                Hypothesis(
                    history[b, j, : lengths[b, j]].tolist(),
                    float(scores[b, j]),
                    float(log_probs[b, j]),
                    attention[b, j, : lengths[b, j]],
                )
                for j in range(self.n_best)
                if math.isfinite(float(scores[b, j]))
            ]
            for b in range(self.batch)
        ]
