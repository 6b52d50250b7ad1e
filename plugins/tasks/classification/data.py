"""Labelled texts as tensors: label ids, token ids and padded batches.

Labels get ids in sorted order of the training labels (numbers numerically); a validation or
test label unseen in train is a DataError. A text that tokenises to nothing is kept as a single
``<unk>`` token, so every text gets a prediction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from pipeline.errors import DataError
from pipeline.tokenizers import Tokenizer
from plugins.tasks.classification.readers import Example

LABELS_FILE = "labels.json"

# ----------------------------------------------------------------------------- labels


def label_order(labels: Sequence[str]) -> list[str]:
    """Distinct labels sorted deterministically: integers by value first, then the rest."""

    def key(label: str) -> tuple[int, int, str]:
        try:
            return (0, int(label), "")
        except ValueError:
            return (1, 0, label)

    return sorted(set(labels), key=key)


def label_ids(examples: Sequence[Example], labels: Sequence[str], split_key: str) -> list[int]:
    """Id of each example's label; a label outside ``labels`` raises DataError naming it."""
    index = {label: i for i, label in enumerate(labels)}
    for example in examples:
        if example.label not in index:
            raise DataError(
                f"{split_key}: label {example.label!r} ({example.where}) does not occur in the "
                f"training data, whose labels are: {', '.join(labels)}. Fix the label, or add "
                "training examples of it"
            )
    return [index[example.label] for example in examples]


def write_labels(directory: Path, labels: Sequence[str]) -> None:
    """The class names in id order, as ``labels.json`` in directory (saved with the run)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"labels": list(labels)}, ensure_ascii=False, indent=1)
    (directory / LABELS_FILE).write_text(text + "\n", encoding="utf-8")


def read_labels(directory: Path) -> list[str]:
    """The class names that :func:`write_labels` saved in directory."""
    labels: list[str] = json.loads((directory / LABELS_FILE).read_text(encoding="utf-8"))["labels"]
    return labels


# ----------------------------------------------------------------------------- encoding


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text; a text with no tokens becomes ``[unk_id]`` (length >= 1)."""
    return [ids or [tokenizer.unk_id] for ids in tokenizer.encode_lines(list(texts), eos=False)]


class EncodedTexts(Dataset[tuple[Tensor, int]]):
    """Token ids and label ids of one split, stored flat: ids (N_tokens,), offsets (N+1,)."""

    def __init__(self, ids: Tensor, offsets: Tensor, labels: Tensor) -> None:
        self.ids, self.offsets, self.labels = ids, offsets, labels

    @classmethod
    def from_lists(cls, ids: list[list[int]], labels: list[int]) -> EncodedTexts:
        lengths = torch.tensor([len(row) for row in ids], dtype=torch.long)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        flat = torch.tensor([i for row in ids for i in row], dtype=torch.long)
        return cls(flat, offsets, torch.tensor(labels, dtype=torch.long))

    def state(self) -> dict[str, Tensor]:
        return {"ids": self.ids, "offsets": self.offsets, "labels": self.labels}

    def __len__(self) -> int:
        return self.labels.numel()

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.ids[start:end], int(self.labels[index])


# ----------------------------------------------------------------------------- batching

Batch = tuple[Tensor, Tensor, Tensor]
"""tokens (B, T) padded with pad_id, lengths (B,), label ids (B,)."""


class Padder:
    """Collate (ids, label) items into a :data:`Batch`."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, items: list[tuple[Tensor, int]]) -> Batch:
        rows = [ids for ids, _ in items]
        lengths = torch.tensor([row.numel() for row in rows], dtype=torch.long)
        tokens = nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=self.pad_id)
        return tokens, lengths, torch.tensor([label for _, label in items], dtype=torch.long)
