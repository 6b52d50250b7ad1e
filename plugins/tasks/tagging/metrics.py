"""Entity-level precision, recall and F1, counted as the CoNLL evaluation script counts them.

An entity counts only with its exact span and type: a predicted entity is a true positive if
the gold sentence has the same one, else a false positive; a gold entity nobody predicted is a
false negative. Scores are micro averages over entity types. The counts are kept per type as
sum states, so DDP ranks add theirs up before the score is computed (the mean of per-rank F1
would not be the F1 of the split). ``tests/plugins/test_tagging_metrics.py`` holds it to
seqeval's figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor
from torchmetrics import Metric

from plugins.tasks.tagging.schemes import Span, spans

EntityKind = Literal["f1", "precision", "recall"]
ENTITY_METRICS: tuple[EntityKind, ...] = ("f1", "precision", "recall")
MICRO = "micro avg"


class EntityRow(NamedTuple):
    """One line of a per-type table; support is the number of gold entities."""

    type: str
    precision: float
    recall: float
    f1: float
    support: int


def count_entities(
    gold: Iterable[Span], predicted: Iterable[Span]
) -> dict[str, tuple[int, int, int]]:
    """``{type: (tp, fp, fn)}``: an entity counts only when span and type match exactly."""
    gold_set, predicted_set = set(gold), set(predicted)
    counts: dict[str, list[int]] = {}
    for span in predicted_set:
        counts.setdefault(span.type, [0, 0, 0])[0 if span in gold_set else 1] += 1
    for span in gold_set - predicted_set:
        counts.setdefault(span.type, [0, 0, 0])[2] += 1
    return {kind: (tp, fp, fn) for kind, (tp, fp, fn) in counts.items()}


def scores(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """(precision, recall, F1) from counts; 0 where a denominator is 0."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


def entity_counts(
    sentences: Iterable[tuple[Sequence[str], Sequence[str]]], types: Sequence[str]
) -> Tensor:
    """(3, types) tp, fp, fn summed over ``(gold tags, predicted tags)`` of each sentence."""
    column = {kind: i for i, kind in enumerate(types)}
    totals = [[0] * len(types) for _ in range(3)]
    for gold, predicted in sentences:
        for kind, values in count_entities(spans(gold), spans(predicted)).items():
            for row, value in zip(totals, values, strict=True):
                row[column[kind]] += value
    return torch.tensor(totals, dtype=torch.long).reshape(3, len(types))


def tag_names(ids: Tensor, mask: Tensor, tags: Sequence[str]) -> list[list[str]]:
    """The tags of each sentence's words: ids (B, W) of tags, mask (B, W) of real words."""
    lengths = mask.sum(1).tolist()
    return [[tags[i] for i in row[:n]] for row, n in zip(ids.tolist(), lengths, strict=True)]


def batch_entity_counts(
    predicted: Tensor, gold: Tensor, mask: Tensor, tags: Sequence[str], types: Sequence[str]
) -> Tensor:
    """(3, types) tp/fp/fn of predicted vs gold tag ids (B, W) over the words in mask."""
    pairs = zip(tag_names(gold, mask, tags), tag_names(predicted, mask, tags), strict=True)
    return entity_counts(pairs, types).to(predicted.device)


class EntityScore(Metric):
    """Micro precision, recall or F1 of entities from summed (tp, fp, fn) per entity type."""

    full_state_update = False
    higher_is_better = True
    tp: Tensor  # (types,) sum states, added up across DDP ranks
    fp: Tensor
    fn: Tensor

    def __init__(self, kind: EntityKind, num_types: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        for name in ("tp", "fp", "fn"):
            self.add_state(name, torch.zeros(num_types, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, counts: Tensor) -> None:
        """counts (3, types): tp, fp, fn of one batch."""
        self.tp += counts[0]
        self.fp += counts[1]
        self.fn += counts[2]

    def compute(self) -> Tensor:
        precision, recall, f1 = scores(*(int(s.sum()) for s in (self.tp, self.fp, self.fn)))
        value = {"precision": precision, "recall": recall, "f1": f1}[self.kind]
        return torch.tensor(value, dtype=torch.float32)

    def table(self, types: Sequence[str]) -> list[EntityRow]:
        """One row per type (``types`` names the state's columns), then the micro average."""
        counts = torch.stack([self.tp, self.fp, self.fn]).cpu()  # (3, types)
        columns = [*counts.T.tolist(), counts.sum(1).tolist()]
        return [
            EntityRow(kind, *scores(tp, fp, fn), tp + fn)
            for kind, (tp, fp, fn) in zip([*types, MICRO], columns, strict=True)
        ]
