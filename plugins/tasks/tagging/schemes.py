"""Tag schemes IOB1, IOB2 and IOBES, and the entity spans a tag sequence marks.

Tag schemes (Ratinov & Roth 2009 compare them):

- ``iob1``: ``I-X`` inside an entity; ``B-X`` only on the first word of an entity that
  directly follows another entity of the same type (CoNLL-2003 English as distributed);
- ``iob2``: ``B-X`` on the first word of every entity, ``I-X`` on the rest (CoNLL-2002);
- ``iobes``: ``S-X`` for single-word entities, else ``B-X``, ``I-X`` ..., ``E-X``.

Tags are read in any of them and converted through entity spans, so a conversion is exact
for valid sequences. Spans are read leniently, as the CoNLL evaluation script reads them: an
``I-X`` after ``O`` or after another type starts a new entity, and so does every ``B-X``/``S-X``.
Plain Python, no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.data import DataError

Scheme = Literal["iob1", "iob2", "iobes"]
SCHEMES: tuple[Scheme, ...] = ("iob1", "iob2", "iobes")
INTERNAL_SCHEME: Scheme = "iobes"
"""The scheme the network predicts: IOBES (as Lample et al. 2016), whose explicit ends give
the CRF more transitions to rule out than IOB2."""
OUTSIDE = "O"
PREFIXES = ("B", "I", "E", "S")


class TagError(DataError):
    """A tag that is malformed, or that belongs to another scheme than ``task.scheme``."""


@dataclass(frozen=True, order=True)
class Span:
    """An entity: words ``[start, end)`` of a sentence, of entity ``type`` (e.g. ``PER``)."""

    start: int
    end: int
    type: str


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``. Raises TagError otherwise."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in PREFIXES or not kind:
        raise TagError(f"tag {tag!r} is neither O nor PREFIX-TYPE with PREFIX in B, I, E, S")
    return prefix, kind


def check_tags(tags: Iterable[str], scheme: str) -> None:
    """Raise TagError for a malformed tag, or an E-/S- tag where scheme has none."""
    for tag in tags:
        prefix, _ = split_tag(tag)
        if prefix in ("E", "S") and scheme != "iobes":
            raise TagError(f"tag {tag!r} belongs to iobes, not {scheme}; set task.scheme=iobes")


def _ends_before(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """Does the entity open at the previous word end before the current word?"""
    (prefix, kind), (now, now_kind) = previous, current
    if prefix in ("E", "S"):
        return True
    if prefix in ("B", "I"):
        return now in (OUTSIDE, "B", "S") or now_kind != kind
    return False


def _starts_at(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """Does a new entity start at the current word?"""
    (prefix, kind), (now, now_kind) = previous, current
    if now in ("B", "S"):
        return True
    if now in ("I", "E"):
        return prefix in (OUTSIDE, "E", "S") or now_kind != kind
    return False


def spans(tags: Sequence[str]) -> list[Span]:
    """Entities of a tag sequence in any scheme, read as the CoNLL evaluation script does."""
    found: list[Span] = []
    previous, start = (OUTSIDE, ""), -1
    for index, tag in enumerate(tags):
        current = split_tag(tag)
        if start >= 0 and _ends_before(previous, current):
            found.append(Span(start, index, previous[1]))
            start = -1
        if _starts_at(previous, current):
            start = index
        previous = current
    if start >= 0:
        found.append(Span(start, len(tags), previous[1]))
    return found


def _entity_prefixes(span: Span, previous: Span | None, scheme: str) -> list[str]:
    """The prefixes of span's words in scheme; previous is the entity before it, if any."""
    size = span.end - span.start
    if scheme == "iobes":
        return ["B"] + ["I"] * (size - 2) + ["E"] if size > 1 else ["S"]
    if scheme == "iob2":
        return ["B"] + ["I"] * (size - 1)
    # iob1: B only where an entity of the same type ends right before
    touching = previous is not None and previous.end == span.start and previous.type == span.type
    return ["B" if touching else "I"] + ["I"] * (size - 1)


def tags_from_spans(entities: Iterable[Span], length: int, scheme: str) -> list[str]:
    """The tag sequence of ``length`` words that marks ``entities`` (non-overlapping) in scheme."""
    tags = [OUTSIDE] * length
    previous: Span | None = None
    for span in sorted(entities):
        for offset, prefix in enumerate(_entity_prefixes(span, previous, scheme)):
            tags[span.start + offset] = f"{prefix}-{span.type}"
        previous = span
    return tags


def convert(tags: Sequence[str], target: str) -> list[str]:
    """tags (any scheme) rewritten in the target scheme, through their entity spans."""
    return tags_from_spans(spans(tags), len(tags), target)


def scheme_tags(types: Iterable[str], scheme: str) -> list[str]:
    """All tags of scheme for entity types: ``O`` first, then each sorted type's prefixes."""
    prefixes = PREFIXES if scheme == "iobes" else ("B", "I")
    return [OUTSIDE] + [f"{p}-{kind}" for kind in sorted(set(types)) for p in prefixes]


def entity_types(tags: Iterable[str]) -> list[str]:
    """The sorted entity types that tags name (``O`` names none)."""
    return sorted({split_tag(tag)[1] for tag in tags} - {""})
