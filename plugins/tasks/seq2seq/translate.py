"""Translating batches with a trained :class:`Seq2SeqNetwork`: greedy or batched beam search,
hypotheses back to text."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pipeline.decoding import Hypothesis, beam_search, greedy_search, max_lengths_for
from pipeline.tokenizers import EOS_ID, Tokenizer
from plugins.tasks.seq2seq.network import Seq2SeqNetwork

__all__ = ["Search", "text", "translate"]

LENGTH_OFFSET = 5
"""Generated tokens may exceed ratio x source length by this many (short sources)."""


@dataclass(frozen=True)
class Search:
    """How to generate: beam size (1: greedy), n-best list size, GNMT length penalty alpha,
    and the length limit (ratio of the source length, cap)."""

    beam: int = 1
    n_best: int = 1
    length_penalty: float = 0.6
    max_length_ratio: float = 1.5
    max_length: int | None = None


@torch.no_grad()
def translate(
    network: Seq2SeqNetwork, source: Tensor, lengths: Tensor, search: Search
) -> list[list[Hypothesis]]:
    """``search.n_best`` hypotheses per source sentence, best first.

    source (B, S) padded, lengths (B,); greedy search when beam and n_best are 1, else one
    batched beam search of width max(beam, n_best)."""
    device = next(network.parameters()).device
    source, lengths = source.to(device), lengths.to(device)
    memory = network.encode(source, lengths)
    limits = max_lengths_for(lengths, search.max_length_ratio, LENGTH_OFFSET, search.max_length)
    if search.beam == 1 and search.n_best == 1:
        return [[h] for h in greedy_search(network.decoder, memory, limits, EOS_ID, EOS_ID)]
    width = max(search.beam, search.n_best)
    return beam_search(
        network.decoder, memory, limits, EOS_ID, EOS_ID, width, search.length_penalty, search.n_best
    )


def text(tokenizer: Tokenizer, hypothesis: Hypothesis) -> str:
    """The detokenised text of a hypothesis."""
    return tokenizer.decode(hypothesis.tokens)
