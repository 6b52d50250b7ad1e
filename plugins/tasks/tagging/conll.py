"""Sentences with tags, read from CoNLL column files or from a dataset, for the tagging task.

A CoNLL file has one word a line, columns separated by whitespace (``task.word_column``,
``task.tag_column``), blank lines between sentences and ``-DOCSTART-`` lines between
documents. A dataset (``data.name``) has a column of word lists and one of tag lists
(``task.tokens_field``, ``task.tags_field``); integer tags are named by its ``ClassLabel``.
Plain Python (no torch); ``datasets`` is imported only to read one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pipeline.data import SPLITS as DATA_SPLITS
from pipeline.data import DataError, carve, dataset_splits
from plugins.tasks.tagging.schemes import INTERNAL_SCHEME, TagError, check_tags, convert

if TYPE_CHECKING:
    from pipeline.config import Config, DataConfig
    from plugins.tasks.tagging.options import TaggingOptions

DOCSTART = "-DOCSTART-"


class Sentence(NamedTuple):
    """One sentence: its words and one tag per word (same length)."""

    words: list[str]
    tags: list[str]


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
    splits: dict[str, list[Sentence]] = {}
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
    sentences: list[Sentence] = []
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
    converted: list[list[str]] = []
    for number, sentence in enumerate(sentences, 1):
        try:
            check_tags(sentence.tags, scheme)
        except TagError as error:
            raise DataError(f"{key}: sentence {number}: {error} (task.scheme={scheme})") from error
        converted.append(convert(sentence.tags, INTERNAL_SCHEME))
    return converted
