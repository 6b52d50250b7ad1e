"""The encoder-decoder: a recurrent encoder reads the source, an attention decoder writes the
target one token at a time.

    source (B, S) --embedding, dropout--> (B, S, E) --recurrent encoder--> outputs (B, S, dirs*H)
    Memory(values=outputs, mask=real source positions, summary=top layer's final h of both
    directions (B, dirs*H)) --AttentionDecoder (bridge, attention, input feeding)--> logits

With ``task.attention=none`` the decoder sees the source only through the summary the bridge
turns into its initial state: the fixed-size bottleneck of Sutskever et al. (2014) and Cho et
al. (2014); bahdanau and luong attend over every encoder output at every step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from pipeline.decoding import AttentionDecoder, Memory

if TYPE_CHECKING:
    from pipeline.recurrent import RecurrentEncoder

__all__ = ["Seq2SeqNetwork"]


class Seq2SeqNetwork(nn.Module):
    """Source embedding -> recurrent encoder -> :class:`Memory` -> :class:`AttentionDecoder`."""

    def __init__(
        self,
        source_embedding: nn.Embedding,
        encoder: RecurrentEncoder,
        decoder: AttentionDecoder,
        dropout: float = 0.0,
        teacher_forcing: float = 1.0,
    ) -> None:
        super().__init__()
        self.source_embedding, self.encoder, self.decoder = source_embedding, encoder, decoder
        self.dropout = nn.Dropout(dropout)
        self.teacher_forcing = teacher_forcing

    def encode(self, source: Tensor, lengths: Tensor) -> Memory:
        """source (B, S) padded, lengths (B,) -> what the decoder attends to and starts from."""
        lengths = lengths.to(source.device)
        embedded = self.dropout(self.source_embedding(source))  # (B, S, E)
        outputs, state = self.encoder(embedded, lengths)  # (B, S, dirs*H), [(L*dirs, B, H)]
        top = state[0][-self.encoder.directions :]  # (dirs, B, H): forward, then backward
        summary = top.transpose(0, 1).reshape(source.size(0), -1)  # (B, dirs*H)
        mask = torch.arange(source.size(1), device=source.device) < lengths.unsqueeze(1)
        return Memory(values=outputs, mask=mask, summary=summary)

    def forward(self, source: Tensor, lengths: Tensor, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher-forced decoding: source (B, S), lengths (B,), inputs (B, T) starting with
        ``<eos>`` -> logits (B, T, V), attention weights (B, T, S).

        While training, ``teacher_forcing`` < 1 feeds back the decoder's own argmax instead of
        the reference token with probability 1 - teacher_forcing per step."""
        memory = self.encode(source, lengths)
        ratio = self.teacher_forcing if self.training else 1.0
        logits, attention = self.decoder(inputs, memory, ratio)
        return logits, attention
