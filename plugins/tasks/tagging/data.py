"""Tagged sentences as tensors: characters, encoding, padded batches.

Words and pieces: the tokenizer splits each word (``tokenizer.kind=word``: one piece a word;
``sentencepiece``: one or more pieces). A word's tag sits on its first piece; the other pieces
carry ``IGNORE_INDEX`` and are left out of the loss, so predictions are one per original word.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from pipeline.tokenizers import PAD_ID, UNK_ID, Tokenizer

IGNORE_INDEX = -100
"""Label of pieces that are not a word's first piece, and of padding (F.cross_entropy's)."""
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


def encode_sentences(
    words: Sequence[Sequence[str]],
    tags: Sequence[Sequence[int]],
    tokenizer: Tokenizer,
    char_vocab: CharVocab,
    max_chars: int,
) -> dict[str, Tensor]:
    """Flat tensors of sentences (S sentences, W words, P pieces, C characters).

    ``pieces`` (P,), ``first`` (P,) True on each word's first piece, ``piece_offsets`` (S+1,);
    ``tags`` (W,), ``word_offsets`` (S+1,); ``chars`` (C,), ``char_offsets`` (W+1,).
    """
    flat_words = [word for sentence in words for word in sentence]
    per_word = [ids or [UNK_ID] for ids in tokenizer.encode_lines(flat_words, eos=False)]
    chars = [char_vocab.encode(word, max_chars) for word in flat_words]
    word_offsets = [0, *itertools.accumulate(len(sentence) for sentence in words)]
    pieces_per_sentence = [
        sum(len(per_word[i]) for i in range(start, end))
        for start, end in itertools.pairwise(word_offsets)
    ]
    return {
        "pieces": _long([i for ids in per_word for i in ids]),
        "first": torch.tensor([k == 0 for ids in per_word for k in range(len(ids))]),
        "piece_offsets": _long([0, *itertools.accumulate(pieces_per_sentence)]),
        "tags": _long([t for sentence in tags for t in sentence]),
        "word_offsets": _long(word_offsets),
        "chars": _long([c for word in chars for c in word]),
        "char_offsets": _long([0, *itertools.accumulate(len(word) for word in chars)]),
    }


def _long(values: Sequence[int]) -> Tensor:
    return torch.tensor(values, dtype=torch.long)


class TaggingBatch(NamedTuple):
    """A padded batch: B sentences, T pieces, W words, N = all words, L characters."""

    pieces: Tensor  # (B, T) piece ids, PAD_ID after each length
    lengths: Tensor  # (B,) pieces per sentence
    first: Tensor  # (B, T) True on each word's first piece
    labels: Tensor  # (B, T) tag id on first pieces, IGNORE_INDEX elsewhere
    tags: Tensor  # (B, W) tag id per word, 0 after each sentence's words
    word_mask: Tensor  # (B, W) True for real words
    chars: Tensor  # (N, L) character ids of every word, sentence by sentence
    char_lengths: Tensor  # (N,)

    def to(self, device: torch.device) -> TaggingBatch:
        return TaggingBatch(*(t.to(device) for t in self))


class SentenceData(Dataset[dict[str, Tensor]]):
    """Sentences of an ``encode_sentences`` result; items are per-sentence tensor dicts."""

    def __init__(self, encoded: dict[str, Tensor]) -> None:
        self.encoded = encoded

    def __len__(self) -> int:
        return self.encoded["word_offsets"].numel() - 1

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        e = self.encoded
        p0, p1 = e["piece_offsets"][index : index + 2].tolist()
        w0, w1 = e["word_offsets"][index : index + 2].tolist()
        offsets = e["char_offsets"][w0 : w1 + 1]
        return {
            "pieces": e["pieces"][p0:p1],
            "first": e["first"][p0:p1],
            "tags": e["tags"][w0:w1],
            "chars": e["chars"][offsets[0] : offsets[-1]],
            "char_lengths": offsets.diff(),
        }


def collate(items: Sequence[dict[str, Tensor]]) -> TaggingBatch:
    """Pad a list of ``SentenceData`` items into one ``TaggingBatch``."""
    pad = nn.utils.rnn.pad_sequence
    pieces = pad([i["pieces"] for i in items], batch_first=True, padding_value=PAD_ID)
    first = pad([i["first"] for i in items], batch_first=True, padding_value=False)
    tags = pad([i["tags"] for i in items], batch_first=True, padding_value=0)
    word_counts = torch.tensor([i["tags"].numel() for i in items])
    labels = torch.full_like(pieces, IGNORE_INDEX)
    labels[first] = torch.cat([i["tags"] for i in items])
    char_lengths = torch.cat([i["char_lengths"] for i in items])
    words = torch.split(torch.cat([i["chars"] for i in items]), char_lengths.tolist())
    return TaggingBatch(
        pieces=pieces,
        lengths=torch.tensor([i["pieces"].numel() for i in items]),
        first=first,
        labels=labels,
        tags=tags,
        word_mask=torch.arange(tags.size(1)) < word_counts.unsqueeze(1),
        chars=pad(list(words), batch_first=True, padding_value=PAD_CHAR),
        char_lengths=char_lengths,
    )
