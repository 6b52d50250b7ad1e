"""Character-level word features: a small character BiLSTM or CNN per word.

A word's characters (N words, L characters, padded) become one vector per word, which the
tagger concatenates to the embedding of the word's first piece. The BiLSTM reads the
spelling both ways and keeps both final states (Lample et al. 2016, 25 units a direction);
the CNN slides filters over character windows and max-pools over the word (Ma & Hovy 2016,
30 filters of width 3). Both see capitals, suffixes and digits that a word vocabulary loses.

The character embedding is a plain parameter, not an ``nn.Embedding``, so the project's
``init.embedding`` (possibly pretrained *word* vectors) leaves it alone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import rnn as rnn_utils

CHAR_KINDS = ("none", "lstm", "cnn")
PAD_CHAR, UNK_CHAR = 0, 1


class CharVocab:
    """Characters of the training words; id 0 pads, id 1 stands for unseen characters."""

    def __init__(self, chars: Iterable[str] = ()) -> None:
        self.chars = ["<pad>", "<unk>", *chars]
        self._ids = {char: i for i, char in enumerate(self.chars) if i > UNK_CHAR}

    @classmethod
    def fit(cls, words: Iterable[str]) -> CharVocab:
        """Every character of words, most frequent first (ties alphabetical)."""
        counts = Counter(char for word in words for char in word)
        return cls(sorted(counts, key=lambda char: (-counts[char], char)))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, word: str, max_chars: int) -> list[int]:
        """Ids of the first max_chars characters of word (at least one id, even for '')."""
        return [self._ids.get(char, UNK_CHAR) for char in word[:max_chars]] or [UNK_CHAR]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.chars[2:], ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CharVocab:
        return cls(json.loads(path.read_text(encoding="utf-8")))


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
        return torch.cat([final[0], final[1]], dim=1)


class CharCNN(nn.Module):
    """chars (N, L), lengths (N,) -> (N, filters): convolution, max over each word's positions."""

    def __init__(self, num_chars: int, embedding_size: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.embedding = CharEmbedding(num_chars, embedding_size)
        self.conv = nn.Conv1d(embedding_size, filters, kernel, padding=kernel // 2)
        self.output_size = filters

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        embedded = self.embedding(chars).transpose(1, 2)  # (N, D, L)
        windows = self.conv(embedded)[:, :, : chars.size(1)]  # (N, F, L)
        positions = torch.arange(chars.size(1), device=chars.device)
        padded = positions.unsqueeze(0) >= lengths.to(chars.device).unsqueeze(1)  # (N, L)
        windows = windows.masked_fill(padded.unsqueeze(1), float("-inf"))
        return windows.max(dim=2).values


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
    raise ValueError(f"task.char_features must be one of {', '.join(CHAR_KINDS)}, not {kind!r}")
