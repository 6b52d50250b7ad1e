"""Captions generated for images: greedy or batched beam search over the captioning network."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pipeline.decoding import Hypothesis, beam_search, greedy_search
from plugins.tasks.captioning.network import CaptioningNetwork


@dataclass(frozen=True)
class Search:
    """How to generate: ``beam_size`` 1 is greedy search."""

    beam_size: int
    length_penalty: float
    max_length: int
    """Most tokens of a caption (``task.max_caption_length``), ``<eos>`` not counted."""
    n_best: int = 1


@torch.no_grad()
def generate(
    network: CaptioningNetwork, images: Tensor, search: Search, eos_id: int
) -> list[list[Hypothesis]]:
    """The ``search.n_best`` best captions of each image (B, 3, S, S), best first.

    The start token is ``<eos>`` (tokenizers have no BOS: see :mod:`pipeline.decoding`).
    """
    memory = network.memory(images)
    lengths = torch.full((images.size(0),), search.max_length, dtype=torch.long)
    lengths = lengths.to(images.device)
    decoder = network.decoder
    if search.beam_size == 1:
        return [[best] for best in greedy_search(decoder, memory, lengths, eos_id, eos_id)]
    return beam_search(
        decoder,
        memory,
        lengths,
        eos_id,
        eos_id,
        beam_size=search.beam_size,
        length_penalty=search.length_penalty,
        n_best=search.n_best,
    )
