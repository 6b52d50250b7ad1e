"""Tiny decoders and memories for the decoding tests (CPU, a few units)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from pipeline.decoding import AttentionDecoder, Memory
from pipeline.interfaces import Cell
from plugins.cells.lstm import LSTMCell

V, E, H, M, M_S = 13, 6, 8, 10, 7
EOS = 2


def random_memory(lengths: list[int], seed: int = 0) -> Memory:
    """Memory of len(lengths) examples, padded to the longest with garbage at the padding."""
    generator = torch.Generator().manual_seed(seed)
    positions = max(lengths)
    values = torch.randn(len(lengths), positions, M, generator=generator)
    mask = torch.arange(positions) < torch.tensor(lengths).unsqueeze(1)
    values = values.masked_fill(~mask.unsqueeze(2), 50.0)  # must never be read
    return Memory(values, mask, torch.randn(len(lengths), M_S, generator=generator))


def pad_memory(memory: Memory, extra: int) -> Memory:
    """The same memory with ``extra`` more padded positions (garbage values) at the end."""
    batch = memory.values.size(0)
    garbage = torch.full((batch, extra, memory.values.size(2)), -30.0)
    padding = torch.zeros(batch, extra, dtype=torch.bool)
    return Memory(
        torch.cat([memory.values, garbage], 1), torch.cat([memory.mask, padding], 1), memory.summary
    )


def make_decoder(
    cell: type[Cell] = LSTMCell, layers: int = 2, seed: int = 0, **keywords: Any
) -> AttentionDecoder:
    """An eager decoder in eval mode with random weights, its output layer scaled up so that
    its choices are not near-ties."""
    torch.manual_seed(seed)
    options: dict[str, Any] = {"runner": "eager", **keywords}
    decoder = AttentionDecoder(cell, nn.Embedding(V, E), H, layers, M, M_S, **options)
    with torch.no_grad():
        decoder.output.weight.mul_(4.0)
    return decoder.eval()


class LastTokenCell(Cell):
    """h_t = the first ``hidden_size`` inputs: with one-hot embeddings, the previous token."""

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h = p_t[:, : self.hidden_size]
        return h, [h]


def bigram_decoder(table: dict[int, dict[int, float]], vocab: int = 6) -> AttentionDecoder:
    """A decoder whose next-token distribution is ``table[previous token]`` exactly (other
    tokens share a tiny rest), whatever the memory: for search tests with known answers."""
    decoder = AttentionDecoder(
        LastTokenCell,
        nn.Embedding(vocab, vocab),
        vocab,
        1,
        M,
        M_S,
        attention="none",
        runner="eager",
    )
    log_probs = torch.full((vocab, vocab), math.log(1e-6))
    for previous, row in table.items():
        for token, p in row.items():
            log_probs[previous, token] = math.log(p)
    log_probs = torch.log_softmax(log_probs, dim=1)  # rows sum to 1 with the tiny rest
    with torch.no_grad():
        decoder.embedding.weight.copy_(torch.eye(vocab))
        decoder.combine.weight.zero_()
        decoder.combine.weight[:, M:] = torch.eye(vocab)  # h~ = tanh(one-hot previous token)
        decoder.output.weight.copy_(log_probs.t() / math.tanh(1.0))
        decoder.output.bias.zero_()
    return decoder.eval()
