"""The text classifier: one label per text, from a pooled recurrent encoding.

    tokens (B, T) --word dropout (training)--> embedding (B, T, E) --dropout-->
    recurrent encoder (B, T, dirs*H) --pool over time--> (B, dirs*H) --dropout-->
    linear layer -> logits (B, C)

Pooling (``task.pooling``):

- ``last``: the final hidden state of the top layer, taken at each text's length; with two
  directions the forward final state (after the last token) and the backward final state
  (after reading back to the first token) are concatenated (Schuster & Paliwal 1997);
- ``mean`` / ``max``: mean or max of the top layer's outputs over the valid positions
  (padding masked out), as in the BiLSTM-max encoder of Conneau et al. 2017.

Word dropout (``task.word_dropout``, Iyyer et al. 2015) replaces whole tokens by ``<unk>``
while training, so the classifier cannot lean on a few rare words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from pipeline.recurrent import RecurrentEncoder


def pool(outputs: Tensor, final_h: Tensor, lengths: Tensor, mode: str, directions: int) -> Tensor:
    """One vector per text from the encoder's top layer.

    outputs (B, T, dirs*H) with zeros at padding; final_h (L*dirs, B, H), the final hidden
    state of every layer and direction taken at each length; lengths (B,) -> (B, dirs*H).
    """
    if mode == "last":
        top = final_h[-directions:]  # (dirs, B, H): forward, then backward
        return top.transpose(0, 1).reshape(outputs.size(0), -1)
    mask = torch.arange(outputs.size(1), device=outputs.device) < lengths.unsqueeze(1)
    mask = mask.unsqueeze(2)  # (B, T, 1)
    if mode == "mean":
        total = outputs.masked_fill(~mask, 0.0).sum(1)  # (B, dirs*H)
        return total / lengths.clamp(min=1).unsqueeze(1).to(outputs.dtype)
    if mode == "max":
        return outputs.masked_fill(~mask, float("-inf")).max(1).values
    # Config validation admits only the three modes, so another one is a caller's bug.
    raise ValueError(f"pool: mode must be last, mean or max, not {mode!r}")


def drop_words(tokens: Tensor, lengths: Tensor, probability: float, unk_id: int) -> Tensor:
    """tokens (B, T) with each valid (non-padding) token replaced by unk_id with probability."""
    valid = torch.arange(tokens.size(1), device=tokens.device) < lengths.unsqueeze(1)  # (B, T)
    drop = torch.rand(tokens.shape, device=tokens.device) < probability  # (B, T)
    return tokens.masked_fill(drop & valid, unk_id)


class ClassifierNetwork(nn.Module):
    """Embedding -> recurrent encoder -> pooling -> dropout -> linear layer over the classes."""

    def __init__(
        self,
        embedding: nn.Embedding,
        encoder: RecurrentEncoder,
        num_classes: int,
        pooling: str,
        dropout: float,
        word_dropout: tuple[float, int] = (0.0, 1),
    ) -> None:
        """word_dropout: (probability, unk_id) of :func:`drop_words`, applied when training."""
        super().__init__()
        self.embedding, self.encoder, self.pooling = embedding, encoder, pooling
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(encoder.output_size, num_classes)
        self.word_dropout = word_dropout

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """tokens (B, T) padded, lengths (B,) -> logits (B, C)."""
        lengths = lengths.to(tokens.device)
        if self.training and self.word_dropout[0] > 0:
            tokens = drop_words(tokens, lengths, *self.word_dropout)
        embedded = self.dropout(self.embedding(tokens))  # (B, T, E)
        outputs, state = self.encoder(embedded, lengths)  # (B, T, dirs*H), [(L*dirs, B, H)]
        pooled = pool(outputs, state[0], lengths, self.pooling, self.directions)  # (B, dirs*H)
        logits: Tensor = self.output(self.dropout(pooled))  # (B, C)
        return logits

    @property
    def directions(self) -> int:
        return self.encoder.directions
