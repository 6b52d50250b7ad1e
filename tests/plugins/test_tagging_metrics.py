"""Entity-level scores of the tagging task: counts by hand, DDP sums, and seqeval as oracle."""

from __future__ import annotations

import random

import pytest
import torch
from seqeval.metrics import classification_report

from plugins.tasks.tagging.metrics import (
    ENTITY_METRICS,
    MICRO,
    EntityScore,
    batch_entity_counts,
    count_entities,
    scores,
)
from plugins.tasks.tagging.schemes import Span, scheme_tags, spans, split_tag, tags_from_spans

# ----------------------------------------------------------------------------- by hand


def test_entity_counts_by_hand_with_partial_spans_as_errors() -> None:
    gold = spans(["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG"])
    predicted = spans(["B-PER", "I-PER", "O", "B-PER", "O", "B-ORG", "I-ORG", "O"])
    # PER 0-2 right; LOC 3 predicted as PER (fp PER, fn LOC); ORG 5-7 cut short (fp + fn)
    assert count_entities(gold, predicted) == {
        "PER": (1, 1, 0),
        "LOC": (0, 0, 1),
        "ORG": (0, 1, 1),
    }
    precision, recall, f1 = scores(1, 2, 2)
    assert (precision, recall) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert f1 == pytest.approx(1 / 3)
    assert scores(0, 0, 0) == (0.0, 0.0, 0.0)


def test_batch_counts_and_metric_states_add_up_across_processes() -> None:
    tags = scheme_tags(["LOC", "PER"], "iobes")  # O B-LOC I-LOC E-LOC S-LOC B-PER I-PER E-PER S-PER
    gold = torch.tensor([[5, 7, 0, 4], [4, 0, 0, 0]])  # PER 0-2, LOC 3 | LOC 0
    predicted = torch.tensor([[5, 7, 0, 0], [8, 0, 8, 8]])  # PER 0-2 | PER 0 (padding ignored)
    mask = torch.tensor([[True] * 4, [True, False, False, False]])
    counts = batch_entity_counts(predicted, gold, mask, tags, ["LOC", "PER"])
    assert counts.tolist() == [[0, 1], [0, 1], [2, 0]]  # rows tp, fp, fn; columns LOC, PER
    one, other = EntityScore("f1", 2), EntityScore("f1", 2)
    one.update(counts)
    other.update(torch.tensor([[1, 0], [0, 0], [0, 0]]))
    one.merge_state(other)  # what the "sum" reduction does across DDP ranks
    assert float(one.compute()) == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    recall = EntityScore("recall", 2)
    recall.update(counts)
    assert float(recall.compute()) == pytest.approx(1 / 3)
    assert one.table(["LOC", "PER"]) == [
        ("LOC", 1.0, pytest.approx(1 / 3), 0.5, 3),
        ("PER", 0.5, 1.0, pytest.approx(2 / 3), 1),
        (MICRO, pytest.approx(2 / 3), 0.5, pytest.approx(4 / 7), 4),
    ]


# ----------------------------------------------------------------------------- seqeval as oracle

TYPES = ["LOC", "MISC", "PER"]
TAGS = scheme_tags(TYPES, "iobes")  # the network's tag ids; IOB2 tags are a subset


def random_sentence(generator: random.Random, scheme: str, vocabulary: list[str]) -> list[str]:
    """Well-formed tags of random entities, then some words re-tagged at random (so I- without
    B-, E- without B-, a type change inside an entity ... all occur)."""
    length, position = generator.randint(1, 14), 0
    entities: list[Span] = []
    while position < length:
        size = generator.randint(1, 3)
        if generator.random() < 0.4 and position + size <= length:
            entities.append(Span(position, position + size, generator.choice(TYPES)))
            position += size
        else:
            position += 1
    tags = tags_from_spans(entities, length, scheme)
    noise = generator.choice([0.0, 0.1, 0.3, 1.0])
    return [generator.choice(vocabulary) if generator.random() < noise else t for t in tags]


def perturbed(generator: random.Random, gold: list[str], vocabulary: list[str]) -> list[str]:
    """A prediction: gold with some tags replaced (possibly none, possibly all)."""
    rate = generator.choice([0.0, 0.05, 0.2, 0.5, 1.0])
    return [generator.choice(vocabulary) if generator.random() < rate else t for t in gold]


def our_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, tuple[float, ...]]:
    """The training metric's figures: padded id batches -> batch counts -> EntityScore."""
    index = {tag: i for i, tag in enumerate(TAGS)}
    width = max(len(s) for s in gold)

    def padded(sentences: list[list[str]]) -> torch.Tensor:
        return torch.tensor([[index[t] for t in s] + [0] * (width - len(s)) for s in sentences])

    mask = torch.arange(width) < torch.tensor([len(s) for s in gold]).unsqueeze(1)
    counts = batch_entity_counts(padded(predicted), padded(gold), mask, TAGS, TYPES)
    metrics = {name: EntityScore(name, len(TYPES)) for name in ENTITY_METRICS}
    for metric in metrics.values():
        metric.update(counts)
    micro = tuple(float(metrics[name].compute()) for name in ("precision", "recall", "f1"))
    table = {row.type: row[1:] for row in metrics["f1"].table(TYPES)}
    return {"micro": micro, **table}


def has_malformed(sentence: list[str]) -> bool:
    """Does an I-/E- tag continue no entity (after O, another type, or a closed E-/S-)?"""
    previous = ("O", "")
    for tag in sentence:
        prefix, kind = split_tag(tag)
        if prefix in ("I", "E") and (previous[0] in ("O", "E", "S") or previous[1] != kind):
            return True
        previous = (prefix, kind)
    return False


@pytest.mark.parametrize("scheme", ["iob2", "iobes"])
def test_entity_scores_agree_with_seqeval(scheme: str) -> None:
    generator = random.Random(f"seqeval-{scheme}")
    vocabulary = scheme_tags(TYPES, scheme)
    malformed = 0
    for _ in range(150):
        gold = [random_sentence(generator, scheme, vocabulary) for _ in range(12)]
        predicted = [perturbed(generator, sentence, vocabulary) for sentence in gold]
        malformed += sum(has_malformed(s) for s in gold + predicted)
        ours = our_scores(gold, predicted)
        theirs = classification_report(gold, predicted, output_dict=True, zero_division=0)
        reference = theirs["micro avg"]
        expected = (reference["precision"], reference["recall"], reference["f1-score"])
        assert ours["micro"] == pytest.approx(expected, abs=1e-6)  # float32 metric values
        assert ours[MICRO][-1] == reference["support"]
        for kind in TYPES:
            row = theirs.get(kind, {"precision": 0, "recall": 0, "f1-score": 0, "support": 0})
            expected = (row["precision"], row["recall"], row["f1-score"], row["support"])
            assert ours[kind] == pytest.approx(expected, rel=1e-12), kind
    assert malformed > 1000  # the lenient reading of broken sequences was exercised
