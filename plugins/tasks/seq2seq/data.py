"""Parallel text as tensors: the vocabularies of both sides, encoded splits, padded batches.

The target side of an example is stored as ``<eos> y_1 .. y_n <eos>``: the decoder reads
it without its last token and learns to predict it without its first (``<eos>`` is also the
start token; tokenizers have no BOS). The raw target text is kept as BLEU's reference, so
scores are computed on detokenised text against what the data file says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from pipeline.config import TokenizerConfig
from pipeline.tokenizers import Tokenizer, build_tokenizer, load_tokenizer

__all__ = [
    "Batch",
    "Collate",
    "EncodedPairs",
    "Item",
    "Sides",
    "encode_sources",
]

SHARED_DIR, SOURCE_DIR, TARGET_DIR = "tokenizer", "source_tokenizer", "target_tokenizer"


@dataclass
class Sides:
    """The tokenizers of the source and target side (one object when the vocabulary is shared)."""

    source: Tokenizer
    target: Tokenizer

    @property
    def shared(self) -> bool:
        return self.source is self.target

    @classmethod
    def fitted(
        cls, settings: TokenizerConfig, sources: Sequence[str], targets: Sequence[str], shared: bool
    ) -> Sides:
        """Tokenizers of ``settings`` fitted on the training text: one on both sides, or one
        per side."""
        if shared:
            tokenizer = build_tokenizer(settings)
            tokenizer.fit([*sources, *targets])
            return cls(tokenizer, tokenizer)
        source, target = build_tokenizer(settings), build_tokenizer(settings)
        source.fit(sources)
        target.fit(targets)
        return cls(source, target)

    def save(self, directory: Path) -> None:
        if self.shared:
            self.source.save(directory / SHARED_DIR)
        else:
            self.source.save(directory / SOURCE_DIR)
            self.target.save(directory / TARGET_DIR)

    @classmethod
    def load(cls, directory: Path) -> Sides:
        if (directory / SHARED_DIR).is_dir():
            tokenizer = load_tokenizer(directory / SHARED_DIR)
            return cls(tokenizer, tokenizer)
        return cls(load_tokenizer(directory / SOURCE_DIR), load_tokenizer(directory / TARGET_DIR))


def encode_sources(tokenizer: Tokenizer, texts: Sequence[str], limit: int) -> list[list[int]]:
    """Ids of each source text, cut to ``limit`` tokens; an empty one becomes ``[unk_id]``."""
    return [(ids or [tokenizer.unk_id])[:limit] for ids in tokenizer.encode_lines(texts, eos=False)]


def _flat(rows: list[list[int]]) -> tuple[Tensor, Tensor]:
    """Rows of ids stored flat: ids (N_tokens,), offsets (N+1,)."""
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    return torch.tensor([i for row in rows for i in row], dtype=torch.long), offsets


class Item(NamedTuple):
    position: int  # in the split, from 0
    source: Tensor  # (S,)
    target: Tensor  # (T+2,) <eos> y <eos>
    reference: str


class EncodedPairs(Dataset[Item]):
    """One split: source and target ids stored flat, the raw source and target texts."""

    def __init__(self, state: dict[str, object]) -> None:
        self.state = state
        self.source_ids: Tensor = state["source_ids"]  # type: ignore[assignment]
        self.source_offsets: Tensor = state["source_offsets"]  # type: ignore[assignment]
        self.target_ids: Tensor = state["target_ids"]  # type: ignore[assignment]
        self.target_offsets: Tensor = state["target_offsets"]  # type: ignore[assignment]
        self.sources: list[str] = state["sources"]  # type: ignore[assignment]
        self.references: list[str] = state["references"]  # type: ignore[assignment]

    @classmethod
    def encode(
        cls,
        sides: Sides,
        sources: Sequence[str],
        targets: Sequence[str],
        limits: tuple[int, int],
    ) -> EncodedPairs:
        """Pairs as tensors; limits: (max source tokens, max target tokens)."""
        eos = sides.target.eos_id
        source_rows = encode_sources(sides.source, sources, limits[0])
        target_rows = [
            [eos, *ids[: limits[1]], eos] for ids in sides.target.encode_lines(targets, eos=False)
        ]
        source_ids, source_offsets = _flat(source_rows)
        target_ids, target_offsets = _flat(target_rows)
        return cls(
            {
                "source_ids": source_ids,
                "source_offsets": source_offsets,
                "target_ids": target_ids,
                "target_offsets": target_offsets,
                "sources": list(sources),
                "references": list(targets),
            }
        )

    def __len__(self) -> int:
        return len(self.references)

    def target_lengths(self) -> Tensor:
        """(N,) tokens of each target (the decoder's steps)."""
        return self.target_offsets.diff()

    def __getitem__(self, index: int) -> Item:
        source = self.source_ids[self.source_offsets[index] : self.source_offsets[index + 1]]
        target = self.target_ids[self.target_offsets[index] : self.target_offsets[index + 1]]
        return Item(index, source, target, self.references[index])


class Batch(NamedTuple):
    """Padded pairs; ``search`` and ``decode`` say what an evaluation step generates."""

    source: Tensor  # (B, S) padded with pad_id
    source_lengths: Tensor  # (B,)
    target: Tensor  # (B, T+2) <eos> y <eos>, padded with pad_id
    decode: Tensor  # (B,) bool: translate this example to score BLEU/chrF
    references: tuple[str, ...]  # raw target texts
    search: int  # beam size of the translation: 1 greedy; 0 when nothing is decoded


class Collate:
    """Items -> :class:`Batch`; ``decode`` of a split's ``size`` examples are translated.

    They are spread evenly over the split (position p when ``p * decode % size < decode``:
    exactly ``min(decode, size)`` of them), not its first ones: a file sorted by length, as
    Tatoeba's is, would otherwise score only its shortest sentences.
    """

    def __init__(self, pad_id: int, search: int = 0, decode: int = 0, size: int = 1) -> None:
        self.pad_id, self.search = pad_id, search
        self.decode, self.size = min(decode, size), size

    def decoded(self, position: int) -> bool:
        """Whether the example at position of the split is translated."""
        return position * self.decode % self.size < self.decode

    def __call__(self, items: list[Item]) -> Batch:
        pad = self.pad_id
        sources = [item.source for item in items]
        return Batch(
            nn.utils.rnn.pad_sequence(sources, batch_first=True, padding_value=pad),
            torch.tensor([row.numel() for row in sources], dtype=torch.long),
            nn.utils.rnn.pad_sequence(
                [item.target for item in items], batch_first=True, padding_value=pad
            ),
            torch.tensor([self.decoded(item.position) for item in items], dtype=torch.bool),
            tuple(item.reference for item in items),
            self.search,
        )
