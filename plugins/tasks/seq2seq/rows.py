"""Rows of parallel text as (source, target) pairs: TSV/CSV rows, JSON objects and the rows of
a ``datasets`` dataset, with the checks every pair gets (both sides text, neither empty).

Errors are :class:`pipeline.errors.DataError` starting with ``where`` (the config key, the file
and the line, or the dataset split and row) and naming the ``task.*`` key to fix. The layouts
and options are described in :mod:`plugins.tasks.seq2seq.readers`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from pipeline.errors import DataError
from pipeline.textfiles import json_rows

if TYPE_CHECKING:
    from plugins.tasks.seq2seq.readers import ParallelOptions

__all__ = [
    "TRANSLATION_COLUMN",
    "Pair",
    "column_keys",
    "dataset_pairs",
    "make_pair",
    "named_without_header",
    "read_delimited",
    "read_jsonl",
]

TRANSLATION_COLUMN = "translation"
"""Column (or JSON key) of ``{lang: text}`` dicts, as Hugging Face translation datasets have."""
COLUMN_KEYS = ("task.source_column", "task.target_column")


class Pair(NamedTuple):
    """One example: the source text and the target text it should become."""

    source: str
    target: str


# ----------------------------------------------------------------------------- TSV, CSV, JSON


def read_delimited(text: str, options: ParallelOptions, where: str, tsv: bool) -> Iterator[Pair]:
    """Pairs of the rows of a CSV (or, ``tsv``, unquoted TSV) text; blank rows skipped; a header
    row (``task.header``, or names as columns) gives the column numbers of names."""
    stream = io.StringIO(text, newline="")
    if tsv:
        reader = csv.reader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(stream)
    header = options.header
    if header is None:
        header = any(isinstance(column, str) for _, column in column_keys(options))
    indices: list[tuple[str, int]] | None = None if header else _numbers(options)
    try:
        for row in reader:
            here = f"{where}, line {reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if indices is None:
                indices = _header_indices(row, options, here)
                continue
            values = [_cell(row, index, key, here) for key, index in indices]
            yield make_pair(values[0], values[1], here, tuple(key for key, _ in indices))
    except csv.Error as error:
        raise DataError(f"{where}, line {reader.line_num}: not valid CSV: {error}") from error


def column_keys(options: ParallelOptions) -> list[tuple[str, str | int]]:
    """(config key, column) of the source and the target side."""
    return list(zip(COLUMN_KEYS, (options.source_column, options.target_column), strict=True))


def _numbers(options: ParallelOptions) -> list[tuple[str, int]]:
    """The column numbers of a file without a header row (a name there is an error)."""
    numbers = []
    for key, column in column_keys(options):
        if isinstance(column, str):
            raise DataError(named_without_header(key))
        numbers.append((key, column))
    return numbers


def named_without_header(key: str) -> str:
    return (
        f"{key}: a column name needs a header row, but task.header=false; give 0-based "
        "column numbers (task.source_column=0 task.target_column=1) or set task.header=true"
    )


def _header_indices(row: list[str], options: ParallelOptions, where: str) -> list[tuple[str, int]]:
    """Column numbers of the two sides, names looked up in the header row."""
    names = [cell.strip() for cell in row]
    indices = []
    for key, column in column_keys(options):
        if isinstance(column, int):
            indices.append((key, column))
        elif column in names:
            indices.append((key, names.index(column)))
        else:
            raise DataError(
                f"{where}: no column {column!r} in the header ({', '.join(names)}); set {key} "
                "to one of them, or to a 0-based number with task.header=false for a file "
                "without a header"
            )
    return indices


def _cell(row: list[str], index: int, key: str, where: str) -> str:
    if -len(row) <= index < len(row):
        return row[index]
    raise DataError(
        f"{where}: no column {index} ({key}): the row has {len(row)} column(s); fix the row, "
        f"or check {key} and task.format (the delimiter)"
    )


def read_jsonl(text: str, options: ParallelOptions, where: str) -> Iterator[Pair]:
    """Pairs of the JSON objects of a JSON-lines text, one a non-blank line."""
    for row, here in json_rows(text, where):
        yield _row_pair(row, options, here)


def _row_pair(row: Mapping[Any, Any], options: ParallelOptions, where: str) -> Pair:
    """The pair of a JSON object: its two columns, or else its translation dict."""
    source, target = options.source_column, options.target_column
    if source in row and target in row:
        return make_pair(
            row[source], row[target], where, ("task.source_column", "task.target_column")
        )
    if TRANSLATION_COLUMN in row:
        return _translation_pair(row[TRANSLATION_COLUMN], options, where)
    missing = source if source not in row else target
    raise DataError(
        f"{where}: no key {missing!r} (keys: {', '.join(map(str, row))}); set "
        "task.source_column and task.target_column to two of them, or give a "
        f"{TRANSLATION_COLUMN!r} object of {{lang: text}} with task.source_lang/target_lang"
    )


# ----------------------------------------------------------------------------- datasets


def dataset_pairs(dataset: Any, options: ParallelOptions, where: str) -> list[Pair]:
    """Pairs of one split of a ``datasets`` dataset; ``where`` names the split in errors.

    Its ``task.source_column`` and ``task.target_column`` when it has both, else its
    ``translation`` column read with ``task.source_lang`` and ``task.target_lang``.
    """
    columns = list(dataset.column_names)
    source, target = options.source_column, options.target_column
    if source in columns and target in columns:
        rows = zip(dataset[source], dataset[target], strict=True)
        return [make_pair(s, t, f"{where}, row {i}", COLUMN_KEYS) for i, (s, t) in enumerate(rows)]
    if TRANSLATION_COLUMN in columns:
        return [
            _translation_pair(value, options, f"{where}, row {i}")
            for i, value in enumerate(dataset[TRANSLATION_COLUMN])
        ]
    missing = source if source not in columns else target
    raise DataError(
        f"{where}: no column {missing!r} (columns: {', '.join(columns)}); set "
        "task.source_column and task.target_column to two of them (e.g. document and "
        f"summary), or use a dataset with a {TRANSLATION_COLUMN!r} column"
    )


def _translation_pair(value: Any, options: ParallelOptions, where: str) -> Pair:
    """The pair in a ``{lang: text}`` dict, picked by task.source_lang and task.target_lang."""
    if not isinstance(value, Mapping):
        raise DataError(
            f"{where}: {TRANSLATION_COLUMN!r} holds {type(value).__name__}, not a "
            "{lang: text} mapping; set task.source_column and task.target_column instead"
        )
    languages = ", ".join(map(str, value))
    langs = (("task.source_lang", options.source_lang), ("task.target_lang", options.target_lang))
    for key, lang in langs:
        if lang is None or lang not in value:
            found = "is not set" if lang is None else f"{lang!r} is not among them"
            raise DataError(
                f"{where}: {TRANSLATION_COLUMN!r} has languages {languages}, but {key} {found}; "
                f"set {key} to one of them"
            )
    keys = (f"task.source_lang={options.source_lang}", f"task.target_lang={options.target_lang}")
    return make_pair(value[options.source_lang], value[options.target_lang], where, keys)


# ----------------------------------------------------------------------------- one pair


def make_pair(source: Any, target: Any, where: str, keys: Sequence[str]) -> Pair:
    """A Pair of two stripped texts; ``keys`` name where each side came from in errors."""
    texts = [_text(value, key, where) for value, key in zip((source, target), keys, strict=True)]
    for side, key, text in zip(("source", "target"), keys, texts, strict=True):
        if not text:
            raise DataError(f"{where}: empty {side} ({key}); fill it in or remove the row")
    return Pair(texts[0], texts[1])


def _text(value: Any, key: str, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(
            f"{where}: {key} holds {type(value).__name__} {str(value)[:40]!r}, not text; "
            "point it at a text column"
        )
    return value.strip()
