"""Readers of labelled text: (text, label) examples from files in several formats.

Formats (``task.format`` of the classification task):

- ``csv`` / ``tsv``: a header row, then one example per row; the columns are
  ``data.text_column`` and ``task.label_column``. TSV is read without quoting (as GLUE ships it).
  Without a header (``task.header: false``) the columns are numbered from 0: AG News's
  ``class,title,description`` rows are ``task.label_column: 0, task.text_columns: [1, 2]``.
- ``task.text_columns`` (any column format): several columns joined with a space into one text.
- ``jsonl``: one JSON object per line, with the same two keys.
- ``label_first``: ``LABEL text ...``: the label is the first whitespace-separated word
  (SST-2's ``stsa.binary.*``: ``1 a stirring , funny ...``).
- ``trec``: ``COARSE:fine text ...`` (TREC's ``TREC.train``); ``trec_labels`` picks ``coarse``
  (``DESC``) or ``fine`` (``DESC:manner``) labels.
- ``regex``: ``line_pattern``, a regular expression with the named groups ``label`` and ``text``
  that must match each whole non-blank line.
- ``auto``: by the file name's suffix (``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``/``.json``).

Every problem raises :class:`pipeline.errors.DataError` naming the config key, the file and the
line (files are decoded by :mod:`pipeline.textfiles`). Blank lines are skipped; texts are
stripped; a row without text is an error. :meth:`ClassificationTask.read_splits` feeds these
readers to :func:`pipeline.data.read_splits`, which rejects files and splits without examples.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.errors import DataError
from pipeline.textfiles import json_rows, location, numbered_lines, read_text

FORMATS = ("auto", "csv", "tsv", "jsonl", "label_first", "trec", "regex")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
LINE_FORMATS = ("label_first", "trec", "regex")
"""Formats that need local files (a hub dataset has columns instead)."""
_TREC_LINE = re.compile(r"(?P<coarse>[^:\s]+):(?P<fine>\S+)\s+(?P<text>.*)")
_LABEL_FIRST = re.compile(r"(?P<label>\S+)\s+(?P<text>.*)")


class Example(NamedTuple):
    """One labelled text; ``where`` locates it for error messages (``file:line``)."""

    text: str
    label: str
    where: str


@dataclass(frozen=True)
class ReadSettings:
    """How to read a file: the format and the settings of the formats that need them."""

    format: str = "auto"
    text_column: str = "text"
    label_column: str = "label"
    encoding: str = "utf-8"
    trec_labels: str = "coarse"
    line_pattern: str | None = None
    header: bool = True
    """csv/tsv: the first row names the columns; False: columns are named "0", "1", ..."""
    text_columns: tuple[str, ...] = ()
    """Columns joined with a space into the text, instead of text_column alone."""


def read_examples(path: str | Path, settings: ReadSettings, key: str) -> list[Example]:
    """All examples of one file; ``key`` (e.g. ``data.train``) names the file's config key."""
    path = Path(path).expanduser()
    text = read_text(path, settings.encoding, key, kind="a labelled text file")
    kind = resolve_format(path, settings.format, key)
    return list(READERS[kind](text, settings, location(key, path)))


def resolve_format(path: Path, kind: str, key: str) -> str:
    """The concrete format of a file: kind itself, or the one its suffix names for ``auto``."""
    if kind != "auto":
        return kind
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise DataError(
        f"{key}: cannot tell the format of {str(path)!r} from its suffix {suffix or '(none)'!r}; "
        f"set task.format to one of {', '.join(FORMATS[1:])}"
    )


# ----------------------------------------------------------------------------- line formats


def _read_pattern(
    text: str,
    pattern: re.Pattern[str],
    label: Callable[[re.Match[str]], str],
    where: str,
    hint: str,
) -> Iterator[Example]:
    """Examples of lines that fully match pattern; label(match) -> the label string."""
    for number, line in numbered_lines(text):
        match = pattern.fullmatch(line)
        if match is None or not match.group("text").strip():
            raise DataError(
                f"{where}, line {number}: {line[:60]!r} is not {hint}; check task.format"
            )
        yield Example(match.group("text").strip(), label(match), f"{where}, line {number}")


def _read_label_first(text: str, settings: ReadSettings, where: str) -> Iterator[Example]:
    return _read_pattern(
        text, _LABEL_FIRST, lambda m: m.group("label"), where, "'LABEL text' (label_first)"
    )


def _read_trec(text: str, settings: ReadSettings, where: str) -> Iterator[Example]:
    def label(match: re.Match[str]) -> str:
        coarse = match.group("coarse")
        return coarse if settings.trec_labels == "coarse" else f"{coarse}:{match.group('fine')}"

    return _read_pattern(text, _TREC_LINE, label, where, "'COARSE:fine text' (trec)")


def _read_regex(text: str, settings: ReadSettings, where: str) -> Iterator[Example]:
    pattern = re.compile(settings.line_pattern or "")
    hint = f"matched by task.line_pattern {settings.line_pattern!r}"
    return _read_pattern(text, pattern, lambda m: m.group("label").strip(), where, hint)


# ----------------------------------------------------------------------------- column formats


def _column(row: dict[str, Any], column: str, key: str, where: str) -> str:
    """The row's value in column as stripped text; a missing column names the available ones."""
    if column not in row:
        raise DataError(
            f"{where}: no column {column!r} (columns: {', '.join(map(str, row))}); "
            f"set {key} to one of them"
        )
    value = row[column]
    return "" if value is None else str(value).strip()


def row_example(row: dict[str, Any], settings: ReadSettings, where: str) -> Example:
    """An Example from a mapping with the text and label columns (CSV row, JSON object)."""
    if settings.text_columns:
        parts = [_column(row, c, "task.text_columns", where) for c in settings.text_columns]
        text = " ".join(part for part in parts if part)
    else:
        text = _column(row, settings.text_column, "data.text_column", where)
    label = _column(row, settings.label_column, "task.label_column", where)
    if not text or not label:
        missing = "text" if not text else "label"
        raise DataError(f"{where}: the row has no {missing}; fill it in or remove the row")
    return Example(text, label, where)


def _read_delimited(text: str, settings: ReadSettings, where: str, tsv: bool) -> Iterator[Example]:
    stream = io.StringIO(text, newline="")
    dialect: dict[str, Any] = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if tsv else {}
    reader = csv.reader(stream, **dialect)
    names: list[str] | None = None if settings.header else []
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if names is None:  # the header row
                names = values
                continue
            yield row_example(_named(values, names), settings, f"{where}, line {reader.line_num}")
    except csv.Error as error:
        raise DataError(f"{where}, line {reader.line_num}: not valid CSV: {error}") from error


def _named(values: list[str], names: list[str]) -> dict[str, Any]:
    """A row as {column name: value}; without names (no header) the columns are "0", "1", ...

    As ``csv.DictReader`` does, missing values are None and extra ones are listed under None.
    """
    if not names:
        return {str(index): value for index, value in enumerate(values)}
    row: dict[Any, Any] = dict(zip(names, values, strict=False))
    row.update({name: None for name in names[len(values) :]})
    if len(values) > len(names):
        row[None] = values[len(names) :]
    return row


def _read_csv(text: str, settings: ReadSettings, where: str) -> Iterator[Example]:
    return _read_delimited(text, settings, where, tsv=False)


def _read_tsv(text: str, settings: ReadSettings, where: str) -> Iterator[Example]:
    return _read_delimited(text, settings, where, tsv=True)


def _read_jsonl(text: str, settings: ReadSettings, where: str) -> Iterator[Example]:
    for row, here in json_rows(text, where):
        yield row_example(row, settings, here)


READERS: dict[str, Callable[[str, ReadSettings, str], Iterator[Example]]] = {
    "csv": _read_csv,
    "tsv": _read_tsv,
    "jsonl": _read_jsonl,
    "label_first": _read_label_first,
    "trec": _read_trec,
    "regex": _read_regex,
}


# ----------------------------------------------------------------------------- datasets


def dataset_examples(dataset: Any, settings: ReadSettings, where: str) -> list[Example]:
    """Examples of one split of a ``datasets`` dataset; ``where`` names the split in errors.

    A ``ClassLabel`` label column gives its class names (``neg``/``pos``) instead of ints.
    """
    column = settings.label_column
    names = getattr(dataset.features.get(column), "names", None)
    examples = []
    for index, row in enumerate(dataset):
        if names is not None and isinstance(row.get(column), int):
            row = {**row, column: names[row[column]] if row[column] >= 0 else row[column]}
        examples.append(row_example(row, settings, f"{where}, row {index}"))
    return examples


def pattern_problems(pattern: str | None) -> list[str]:
    """Problems with a ``task.line_pattern``: it must compile and name groups label and text."""
    if pattern is None:
        return ["task.line_pattern: task.format=regex needs a pattern with groups label and text"]
    try:
        groups = re.compile(pattern).groupindex
    except re.error as error:
        return [f"task.line_pattern: not a valid regular expression: {error}"]
    missing = [name for name in ("label", "text") if name not in groups]
    if missing:
        return [
            f"task.line_pattern: missing named group(s) {', '.join(missing)}; "
            r"e.g. '(?P<label>\S+)\t(?P<text>.+)'"
        ]
    return []
