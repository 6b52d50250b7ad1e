"""Sentences with tags: CoNLL column files or datasets, IOB1/IOB2/IOBES, entity counting.

Tag schemes (Ratinov & Roth 2009 compare them):

- ``iob1``: ``I-X`` inside an entity; ``B-X`` only on the first word of an entity that
  directly follows another entity of the same type (CoNLL-2003 English as distributed);
- ``iob2``: ``B-X`` on the first word of every entity, ``I-X`` on the rest (CoNLL-2002);
- ``iobes``: ``S-X`` for single-word entities, else ``B-X``, ``I-X`` ..., ``E-X``.

Tags are read in any of them and converted through entity spans, so a conversion is exact
for valid sequences. Spans are read leniently, as the CoNLL evaluation script reads them: an
``I-X`` after ``O`` or after another type starts a new entity, and so does every ``B-X``/``S-X``.
Everything here is plain Python (no torch); ``datasets`` is imported only to read one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pipeline.data import SPLITS as DATA_SPLITS
from pipeline.data import DataError, carve, dataset_splits

if TYPE_CHECKING:
    from pipeline.config import Config, DataConfig
    from plugins.tasks.tagging import TaggingOptions

SCHEMES = ("iob1", "iob2", "iobes")
INTERNAL_SCHEME = "iobes"
"""The scheme the network predicts: IOBES (as Lample et al. 2016), whose explicit ends give
the CRF more transitions to rule out than IOB2."""
OUTSIDE = "O"
PREFIXES = ("B", "I", "E", "S")
DOCSTART = "-DOCSTART-"


class Sentence(NamedTuple):
    """One sentence: its words and one tag per word (same length)."""

    words: list[str]
    tags: list[str]


@dataclass(frozen=True, order=True)
class Span:
    """An entity: words ``[start, end)`` of a sentence, of entity ``type`` (e.g. ``PER``)."""

    start: int
    end: int
    type: str


# ----------------------------------------------------------------------------- reading


def read_conll(
    path: str | Path, encoding: str, word_column: int, tag_column: int, key: str
) -> list[Sentence]:
    """Sentences of a CoNLL column file; ``key`` (e.g. ``data.train``) names it in errors.

    One word a line, columns separated by whitespace; blank lines end sentences; lines that
    start with ``-DOCSTART-`` are skipped. Columns are 0-based; negative ones count from the end.
    """
    text = _read_text(Path(path).expanduser(), encoding, key)
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        columns = line.split()
        if not columns or columns[0] == DOCSTART:
            if words:
                sentences.append(Sentence(words, tags))
            words, tags = [], []
            continue
        words.append(_column(columns, word_column, "task.word_column", path, number))
        tags.append(_column(columns, tag_column, "task.tag_column", path, number))
    if words:
        sentences.append(Sentence(words, tags))
    return sentences


def _read_text(path: Path, encoding: str, key: str) -> str:
    if not path.is_file():
        raise DataError(f"{key}: file {str(path)!r} does not exist; set {key} to a CoNLL file")
    data = path.read_bytes()
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except LookupError as error:
        raise DataError(f"data.encoding: unknown encoding {encoding!r} ({error})") from error
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{key}: file {str(path)!r} is not valid {encoding} (line {line}: {error.reason}); "
            "set data.encoding to the file's encoding, e.g. data.encoding=latin-1"
        ) from error


def _column(columns: list[str], index: int, key: str, path: str | Path, number: int) -> str:
    if -len(columns) <= index < len(columns):
        return columns[index]
    raise DataError(
        f"{key}: column {index} does not exist on line {number} of {str(path)!r}, which has "
        f"{len(columns)} columns; set {key} (0-based, -1 is the last column)"
    )


# ----------------------------------------------------------------------------- sentences of a run


def read_sentences(
    cfg: Config, options: TaggingOptions
) -> tuple[dict[str, list[Sentence]], list[str]]:
    """Sentences of train, validation and test (missing ones carved from train), and the carved."""
    data = cfg.data
    if data.name is not None and any((data.train, data.validation, data.test)):
        raise DataError(
            "data.name and data.train/validation/test are both set; use either a dataset "
            "(data.name) or CoNLL files (data.train ...), and set the other to null"
        )
    splits = _dataset_sentences(data, options) if data.name else _file_sentences(data, options)
    missing = [split for split in DATA_SPLITS if split not in splits]
    if missing:
        splits.update(carve(splits["train"], missing, data, cfg.seed))
    return splits, missing


def _file_sentences(data: DataConfig, options: TaggingOptions) -> dict[str, list[Sentence]]:
    if data.train is None:
        raise DataError("data.train: no training data; set data.train to a CoNLL file")
    splits = {}
    for split in DATA_SPLITS:
        path = getattr(data, split)
        if path is not None:
            key = f"data.{split}"
            sentences = read_conll(
                path, data.encoding, options.word_column, options.tag_column, key
            )
            if not sentences:
                raise DataError(f"{key}: file {path!r} has no sentences")
            splits[split] = sentences
    return splits


def _dataset_sentences(data: DataConfig, options: TaggingOptions) -> dict[str, list[Sentence]]:
    return dataset_splits(data, lambda name, dataset: _dataset_split(dataset, name, data, options))


def _dataset_split(
    dataset: Any, split: str, data: DataConfig, options: TaggingOptions
) -> list[Sentence]:
    columns = list(dataset.column_names)
    for key, column in (("tokens_field", options.tokens_field), ("tags_field", options.tags_field)):
        if column not in columns:
            raise DataError(
                f"task.{key}: column {column!r} is not in split {split!r} of dataset "
                f"{data.name!r}; its columns are: {', '.join(columns)}"
            )
    names = _tag_names(dataset.features[options.tags_field])
    sentences = []
    rows = zip(dataset[options.tokens_field], dataset[options.tags_field], strict=True)
    for number, (words, tags) in enumerate(rows, 1):
        if len(words) != len(tags):
            raise DataError(
                f"task.tags_field: row {number} of split {split!r} has {len(words)} words but "
                f"{len(tags)} tags in {options.tags_field!r}"
            )
        if words:
            sentences.append(Sentence(list(words), [_tag_name(t, names) for t in tags]))
    return sentences


def _tag_names(feature: Any) -> list[str] | None:
    """Names of a Sequence/List(ClassLabel) feature's classes, or None."""
    return getattr(getattr(feature, "feature", None), "names", None)


def _tag_name(tag: Any, names: list[str] | None) -> str:
    if isinstance(tag, str):
        return tag
    if names is None:
        raise DataError(
            f"task.tags_field: tag {tag!r} is a number, but the column is not a sequence of "
            "ClassLabel with names; give string tags or a ClassLabel feature"
        )
    return names[int(tag)]


def to_internal(sentences: Sequence[Sentence], scheme: str, key: str) -> list[list[str]]:
    """Each sentence's tags checked against scheme and rewritten in IOBES."""
    converted = []
    for number, sentence in enumerate(sentences, 1):
        try:
            check_tags(sentence.tags, scheme)
        except ValueError as error:
            raise DataError(f"{key}: sentence {number}: {error} (task.scheme={scheme})") from error
        converted.append(convert(sentence.tags, INTERNAL_SCHEME))
    return converted


# ----------------------------------------------------------------------------- schemes


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``. Raises ValueError otherwise."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in PREFIXES or not kind:
        raise ValueError(f"tag {tag!r} is neither O nor PREFIX-TYPE with PREFIX in B, I, E, S")
    return prefix, kind


def check_tags(tags: Iterable[str], scheme: str) -> None:
    """Raise ValueError for a malformed tag, or an E-/S- tag where scheme has none."""
    for tag in tags:
        prefix, _ = split_tag(tag)
        if prefix in ("E", "S") and scheme != "iobes":
            raise ValueError(f"tag {tag!r} belongs to iobes, not {scheme}; set task.scheme=iobes")


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


def tags_from_spans(entities: Iterable[Span], length: int, scheme: str) -> list[str]:
    """The tag sequence of ``length`` words that marks ``entities`` (non-overlapping) in scheme."""
    tags = [OUTSIDE] * length
    previous: Span | None = None
    for span in sorted(entities):
        size = span.end - span.start
        if scheme == "iobes":
            inside = ["B"] + ["I"] * (size - 2) + ["E"] if size > 1 else ["S"]
        elif scheme == "iob2":
            inside = ["B"] + ["I"] * (size - 1)
        else:  # iob1: B only where an entity of the same type ends right before
            touching = previous is not None and previous.end == span.start
            first = "B" if touching and previous.type == span.type else "I"
            inside = [first] + ["I"] * (size - 1)
        for offset, prefix in enumerate(inside):
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


# ----------------------------------------------------------------------------- evaluation


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
