"""Captioned images as tensors: decoded images, token ids of every caption, batches.

One split is stored as :class:`CaptionSet`: the images decoded once (uint8, the encoder's
side), the captions' token ids flat with offsets, the image of each caption, and the reference
texts of each image (kept whole for BLEU). Training walks (image, one caption) pairs, so an
image with five references is seen five times an epoch; validation and test walk images, each
with all its captions (the loss covers every caption, BLEU one generated caption per image
against all the references).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from pipeline.tokenizers import Tokenizer

SEARCHES = ("none", "greedy", "beam")
"""What an evaluation batch decodes for BLEU: nothing (train), greedy (val), beam (test)."""


class CaptionBatch(NamedTuple):
    """B images with C >= B captions (one per image in training, all of them in evaluation)."""

    images: Tensor
    """(B, 3, S, S) uint8."""
    captions: Tensor
    """(C, T + 1) start token (``<eos>``), the caption's ids, ``<eos>``, then padding."""
    image_index: Tensor
    """(C,) which of the B images each caption describes."""
    references: list[list[str]]
    """The reference texts of each image (B lists)."""
    search: str
    """One of :data:`SEARCHES`."""


Item = tuple[Tensor, list[Tensor], list[str]]
"""(image (3, S, S), token ids of its caption(s), its references)."""


class CaptionSet(Dataset[Item]):
    """One split: images (N, 3, S, S) uint8, token ids of captions, references per image.

    Item i is image i with all of its captions; :class:`CaptionPairs` walks the pairs.
    """

    def __init__(
        self,
        images: Tensor,
        ids: Tensor,
        offsets: Tensor,
        caption_image: Tensor,
        references: list[list[str]],
        names: list[str],
    ) -> None:
        """ids (N_tokens,), offsets (C + 1,), caption_image (C,); names: each image's file."""
        self.images, self.ids, self.offsets = images, ids, offsets
        self.caption_image, self.references, self.names = caption_image, references, names
        first = torch.searchsorted(caption_image, torch.arange(len(images) + 1))
        self.first_caption = first  # (N + 1,) captions of image i: first[i]:first[i + 1]

    @classmethod
    def build(
        cls,
        images: Tensor,
        captions: Sequence[Sequence[list[int]]],
        references: list[list[str]],
        names: list[str],
    ) -> CaptionSet:
        """From images (N, 3, S, S) and, per image, the token ids of each caption."""
        rows = [row for per_image in captions for row in per_image]
        lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        flat = torch.tensor([i for row in rows for i in row], dtype=torch.long)
        owner = [image for image, per_image in enumerate(captions) for _ in per_image]
        return cls(images, flat, offsets, torch.tensor(owner, dtype=torch.long), references, names)

    def state(self) -> dict[str, Any]:
        """What :meth:`__init__` takes, for the cache (``torch.save``)."""
        return {
            "images": self.images,
            "ids": self.ids,
            "offsets": self.offsets,
            "caption_image": self.caption_image,
            "references": self.references,
            "names": self.names,
        }

    def caption(self, index: int) -> Tensor:
        """Token ids of caption ``index`` (its length,)."""
        return self.ids[int(self.offsets[index]) : int(self.offsets[index + 1])]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Item:
        first, last = int(self.first_caption[index]), int(self.first_caption[index + 1])
        captions = [self.caption(c) for c in range(first, last)]
        return self.images[index], captions, self.references[index]


class CaptionPairs(Dataset[Item]):
    """The (image, caption) pairs of a :class:`CaptionSet`: item i holds caption i alone."""

    def __init__(self, captions: CaptionSet) -> None:
        self.captions = captions

    def __len__(self) -> int:
        return len(self.captions.caption_image)

    def __getitem__(self, index: int) -> Item:
        data = self.captions
        image = int(data.caption_image[index])
        return data.images[image], [data.caption(index)], data.references[image]


class Collate:
    """Items of :class:`CaptionSet` -> :class:`CaptionBatch` (captions framed and padded)."""

    def __init__(self, tokenizer: Tokenizer, search: str) -> None:
        self.pad_id, self.eos_id, self.search = tokenizer.pad_id, tokenizer.eos_id, search

    def __call__(self, items: list[Item]) -> CaptionBatch:
        images = torch.stack([image for image, _, _ in items])
        eos = torch.tensor([self.eos_id])
        rows = [torch.cat([eos, ids, eos]) for _, captions, _ in items for ids in captions]
        owner = [i for i, (_, captions, _) in enumerate(items) for _ in captions]
        captions = nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=self.pad_id)
        references = [list(refs) for _, _, refs in items]
        index = torch.tensor(owner, dtype=torch.long)
        return CaptionBatch(images, captions, index, references, self.search)


def encode_captions(
    tokenizer: Tokenizer, captions: Sequence[Sequence[str]], max_length: int
) -> list[list[list[int]]]:
    """Token ids of each image's captions, cut to max_length; an empty caption -> ``<unk>``."""
    flat = [text for per_image in captions for text in per_image]
    encoded = iter(tokenizer.encode_lines(flat, eos=False))
    return [
        [(next(encoded) or [tokenizer.unk_id])[:max_length] for _ in per_image]
        for per_image in captions
    ]
