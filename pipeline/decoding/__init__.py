"""Attention decoding shared by the seq2seq and captioning tasks.

- :mod:`~pipeline.decoding.attention`: none, Bahdanau (additive), Luong (dot, general).
- :mod:`~pipeline.decoding.decoder`: :class:`Memory`, :class:`AttentionDecoder` (any cell,
  stacked, input feeding, bridge, tied embeddings, teacher forcing; compiled step).
- :mod:`~pipeline.decoding.search`: greedy and batched beam search with GNMT length penalty.
"""

from pipeline.decoding.attention import ATTENTION_KINDS, ATTENTION_SCORES, build_attention
from pipeline.decoding.decoder import DECODER_RUNNERS, AttentionDecoder, DecoderState, Memory
from pipeline.decoding.search import (
    Hypothesis,
    beam_search,
    greedy_search,
    length_penalty,
    max_lengths_for,
)

__all__ = [
    "ATTENTION_KINDS",
    "ATTENTION_SCORES",
    "DECODER_RUNNERS",
    "AttentionDecoder",
    "DecoderState",
    "Hypothesis",
    "Memory",
    "beam_search",
    "build_attention",
    "greedy_search",
    "length_penalty",
    "max_lengths_for",
]
