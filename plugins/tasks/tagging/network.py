"""The tagger network (Lample et al. 2016, without pretrained vectors unless
``init.embedding=pretrained``), read top to bottom::

    pieces (B, T) --embedding--> (B, T, E) --+
    chars of each word (N, L) --CharLSTM/CharCNN--> (N, C), placed on first pieces (B, T, C)
                                             +--> concat (B, T, E+C) -> dropout
    -> recurrent encoder, bidirectional unless task.bidirectional=false -> (B, T, dirs*H)
    -> dropout -> linear -> tag scores (B, T, K)
    -> first piece of each word (B, W, K) -> softmax cross-entropy, or a CRF (``crf.py``)

Shapes: B sentences, T pieces, W words, N words of the batch, L characters, K tags.

Character features (``task.char_features``): the BiLSTM reads the spelling both ways and keeps
both final states (Lample et al. 2016, 25 units a direction); the CNN slides filters over
character windows and max-pools over the word (Ma & Hovy 2016, 30 filters of width 3). Both
see capitals, suffixes and digits that a word vocabulary loses. Their character embedding is a
plain parameter, not an ``nn.Embedding``, so the project's ``init.embedding`` (possibly
pretrained *word* vectors) leaves it alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import rnn as rnn_utils

from pipeline.errors import UserError
from plugins.tasks.tagging.crf import CRF
from plugins.tasks.tagging.data import IGNORE_INDEX, PAD_CHAR, TaggingBatch
from plugins.tasks.tagging.options import CharKind

if TYPE_CHECKING:
    from pipeline.recurrent import RecurrentEncoder

CHAR_KINDS: tuple[str, ...] = get_args(CharKind)


class TaggingNetwork(nn.Module):
    """Piece embedding [+ char features] -> recurrent encoder -> tag scores [-> CRF]."""

    def __init__(
        self,
        embedding: nn.Embedding,
        chars: CharLSTM | CharCNN | None,
        encoder: RecurrentEncoder,
        num_tags: int,
        dropout: float,
        crf: CRF | None,
    ) -> None:
        super().__init__()
        self.embedding, self.chars, self.encoder, self.crf = embedding, chars, encoder, crf
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(encoder.output_size, num_tags)

    def forward(self, batch: TaggingBatch) -> Tensor:
        """Tag scores of every piece: (B, T, K)."""
        inputs = self.embedding(batch.pieces)  # (B, T, E)
        if self.chars is not None:
            per_word = self.chars(batch.chars, batch.char_lengths)  # (N, C)
            placed = per_word.new_zeros(*batch.pieces.shape, per_word.size(1))  # (B, T, C)
            placed[batch.first] = per_word  # on each word's first piece
            inputs = torch.cat([inputs, placed], dim=2)  # (B, T, E+C)
        hidden, _ = self.encoder(self.dropout(inputs), batch.lengths)  # (B, T, dirs*H)
        scores: Tensor = self.output(self.dropout(hidden))  # (B, T, K)
        return scores

    @staticmethod
    def word_scores(emissions: Tensor, batch: TaggingBatch) -> Tensor:
        """The first-piece rows of emissions (B, T, K), one per word: (B, W, K)."""
        words = emissions.new_zeros(*batch.word_mask.shape, emissions.size(2))
        words[batch.word_mask] = emissions[batch.first]
        return words

    def loss(self, emissions: Tensor, batch: TaggingBatch) -> Tensor:
        """Mean loss per word: CRF negative log-likelihood, or cross-entropy on first pieces."""
        if self.crf is None:
            flat = emissions.flatten(0, 1)  # (B*T, K)
            return F.cross_entropy(flat, batch.labels.flatten(), ignore_index=IGNORE_INDEX)
        words = self.word_scores(emissions, batch)  # (B, W, K)
        nll: Tensor = self.crf(words, batch.tags, batch.word_mask)  # (B,)
        return nll.sum() / batch.word_mask.sum()

    @torch.no_grad()
    def decode(self, emissions: Tensor, batch: TaggingBatch) -> Tensor:
        """Best tag id per word (B, W): Viterbi with a CRF, else the arg max per word."""
        words = self.word_scores(emissions, batch)  # (B, W, K)
        if self.crf is None:
            return words.argmax(dim=2)
        return self.crf.decode(words, batch.word_mask)


# ----------------------------------------------------------------------------- character features


class CharEmbedding(nn.Module):
    """Character ids (...) -> vectors (..., D); padding (id 0) gives zeros and no gradient."""

    def __init__(self, num_chars: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_chars, size) * 0.1)

    def forward(self, chars: Tensor) -> Tensor:
        embedded = F.embedding(chars, self.weight, padding_idx=PAD_CHAR)
        return embedded.masked_fill((chars == PAD_CHAR).unsqueeze(-1), 0.0)


class CharLSTM(nn.Module):
    """chars (N, L), lengths (N,) -> (N, 2*hidden): final forward and backward states."""

    def __init__(self, num_chars: int, embedding_size: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = CharEmbedding(num_chars, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden_size

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        embedded = self.embedding(chars)  # (N, L, D)
        packed = rnn_utils.pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (final, _) = self.lstm(packed)  # final (2, N, hidden), in the input order
        return torch.cat([final[0], final[1]], dim=1)  # (N, 2*hidden)


class CharCNN(nn.Module):
    """chars (N, L), lengths (N,) -> (N, filters): convolution, max over each word's positions."""

    def __init__(self, num_chars: int, embedding_size: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.embedding = CharEmbedding(num_chars, embedding_size)
        self.conv = nn.Conv1d(embedding_size, filters, kernel, padding=kernel // 2)
        self.output_size = filters

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        embedded = self.embedding(chars).transpose(1, 2)  # (N, D, L)
        windows: Tensor = self.conv(embedded)[:, :, : chars.size(1)]  # (N, F, L)
        positions = torch.arange(chars.size(1), device=chars.device)
        padded = positions.unsqueeze(0) >= lengths.to(chars.device).unsqueeze(1)  # (N, L)
        windows = windows.masked_fill(padded.unsqueeze(1), float("-inf"))
        return windows.max(dim=2).values  # (N, F)


def build_char_features(
    kind: str, num_chars: int, embedding_size: int, hidden_size: int, kernel: int
) -> CharLSTM | CharCNN | None:
    """The character encoder for ``task.char_features`` (None for ``none``).

    ``hidden_size`` is the units per direction of the LSTM, or the CNN's filters.
    """
    if kind == "lstm":
        return CharLSTM(num_chars, embedding_size, hidden_size)
    if kind == "cnn":
        return CharCNN(num_chars, embedding_size, hidden_size, kernel)
    if kind == "none":
        return None
    raise UserError(f"task.char_features must be one of {', '.join(CHAR_KINDS)}, not {kind!r}")
