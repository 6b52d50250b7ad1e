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

from pipeline.data import Splits, read_splits, split_encoding
from pipeline.errors import DataError
from pipeline.textfiles import location, numbered_lines, read_text
from plugins.tasks.tagging.schemes import INTERNAL_SCHEME, TagError, check_tags, convert

if TYPE_CHECKING:
    from pipeline.config import Config
    from plugins.tasks.tagging.options import TaggingOptions

DOCSTART = "-DOCSTART-"


class Sentence(NamedTuple):
    """One sentence: its words and one tag per word (same length)."""

    words: list[str]
    tags: list[str]


# ----------------------------------------------------------------------------- sentences of a run


def read_sentences(cfg: Config, options: TaggingOptions) -> Splits[Sentence]:
    """Sentences of train, validation and test (missing ones carved from train by
    :func:`pipeline.data.read_splits`), their tags checked against ``task.scheme`` and
    rewritten in IOBES, where each source is read (so an error names its file or split)."""
    scheme, columns = options.scheme, (options.word_column, options.tag_column)

    def read_file(path: Path, key: str) -> list[Sentence]:
        sentences = read_conll(path, split_encoding(cfg.data, key), *columns, key)
        return to_internal(sentences, scheme, location(key, path))

    def read_dataset(split: str, dataset: Any) -> list[Sentence]:
        sentences = _dataset_split(dataset, split, cfg.data.name, options)
        return to_internal(sentences, scheme, f"data.name: split {split!r} of {cfg.data.name!r}")

    return read_splits(
        cfg.data, cfg.seed, read_file, read_dataset, noun="sentences", kind="a CoNLL file"
    )


def to_internal(sentences: Sequence[Sentence], scheme: str, where: str) -> list[Sentence]:
    """Sentences with their tags checked against scheme and rewritten in IOBES; ``where``
    (``data.train: file 'x'``) starts the error of a tag that does not fit the scheme."""
    converted: list[Sentence] = []
    for number, sentence in enumerate(sentences, 1):
        try:
            check_tags(sentence.tags, scheme)
        except TagError as error:
            problem = f"{where}: sentence {number}: {error} (task.scheme={scheme})"
            raise DataError(problem) from error
        converted.append(Sentence(sentence.words, convert(sentence.tags, INTERNAL_SCHEME)))
    return converted


# ----------------------------------------------------------------------------- CoNLL files


def read_conll(
    path: str | Path, encoding: str, word_column: int, tag_column: int, key: str
) -> list[Sentence]:
    """Sentences of a CoNLL column file (tags as written); ``key`` (e.g. ``data.train``)
    names it in errors.

    One word a line, columns separated by whitespace; blank lines end sentences; lines that
    start with ``-DOCSTART-`` are skipped. Columns are 0-based; negative ones count from the end.
    """
    text = read_text(path, encoding, key, kind="a CoNLL file")
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for number, line in numbered_lines(text, skip_blank=False):
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


def _column(columns: list[str], index: int, key: str, path: str | Path, number: int) -> str:
    if -len(columns) <= index < len(columns):
        return columns[index]
    raise DataError(
        f"{key}: column {index} does not exist on line {number} of {str(path)!r}, which has "
        f"{len(columns)} columns; set {key} (0-based, -1 is the last column)"
    )


# ----------------------------------------------------------------------------- datasets


def _dataset_split(
    dataset: Any, split: str, name: str | None, options: TaggingOptions
) -> list[Sentence]:
    columns = list(dataset.column_names)
    for key, column in (("tokens_field", options.tokens_field), ("tags_field", options.tags_field)):
        if column not in columns:
            raise DataError(
                f"task.{key}: column {column!r} is not in split {split!r} of dataset "
                f"{name!r}; its columns are: {', '.join(columns)}"
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
