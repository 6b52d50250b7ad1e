"""Parallel text, (source, target) pairs, read from the layouts translation and summarisation
data come in.

Layouts (``task.format``; ``auto`` tells them apart by the name of ``data.train``):

- ``aligned``: one sentence a line in two files side by side, ``NAME.<source_lang>`` and
  ``NAME.<target_lang>``, line n of one translating line n of the other (Multi30k's
  ``train.de``/``train.en``). ``data.train`` (``validation``, ``test``) names the source file;
  the target is the same name with ``task.target_lang`` as its suffix. ``auto`` picks this
  layout when the name ends in ``.<task.source_lang>``.
- ``tsv`` / ``csv`` (``.tsv``, ``.csv``): one pair a row; ``task.source_column`` and
  ``task.target_column`` are header names or 0-based column numbers. The first row is a header
  exactly when the columns are given by name, unless ``task.header`` says otherwise. TSV is read
  without quoting. Tatoeba's headerless ``English<TAB>Spanish``: Spanish to English is
  ``source_column=1, target_column=0``.
- ``jsonl`` (``.jsonl``, ``.ndjson``, ``.json``): one JSON object a line holding the two
  columns as keys, or a ``translation`` object ``{lang: text}`` read with ``task.source_lang``
  and ``task.target_lang``.
- a dataset (``data.name``, any ``task.format`` but ``aligned``): the two columns (e.g.
  ``document`` and ``summary``), or else a ``translation`` column of ``{lang: text}`` dicts.

Texts are stripped. A row with an empty side, a missing column or language, and aligned files of
different lengths raise :class:`pipeline.errors.DataError` naming the config key, the file and
the line. Lines blank in both aligned files are skipped. Lengths are not limited here (the task
applies ``max_source_length`` and ``max_target_length``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pipeline.config import DataConfig
from pipeline.data import DATA_SPLITS, Splits, fingerprint, read_splits
from pipeline.errors import DataError
from pipeline.textfiles import location, numbered_lines, read_text
from plugins.tasks.seq2seq.rows import (
    TRANSLATION_COLUMN,
    Pair,
    column_keys,
    dataset_pairs,
    make_pair,
    named_without_header,
    read_delimited,
    read_jsonl,
)

__all__ = [
    "FORMATS",
    "PARALLEL_OPTIONS",
    "TRANSLATION_COLUMN",
    "Pair",
    "ParallelOptions",
    "aligned_target",
    "dataset_pairs",
    "file_format",
    "parallel_fingerprint",
    "parallel_problems",
    "read_file_pairs",
    "read_pairs",
]

Format = Literal["auto", "aligned", "tsv", "csv", "jsonl"]
FORMATS: tuple[str, ...] = get_args(Format)
SUFFIXES = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
KIND = "a parallel file (NAME.<source_lang> beside NAME.<target_lang>, TSV, CSV or JSON lines)"


@dataclass
class ParallelOptions:
    """Where the two sides of each pair are. A task's ``Options`` subclasses this dataclass, so
    the fields are ``task.<field>`` keys of the config."""

    format: Format = "auto"
    """Layout of local files; auto: by the name of data.train (.tsv, .csv, .jsonl/.json, or
    .<source_lang> for aligned files)."""
    source_lang: str | None = None
    """Source language code: the suffix of aligned files (train.de) and the key in
    translation dicts."""
    target_lang: str | None = None
    """Target language code: the target file's suffix (train.en) and its translation key."""
    source_column: str | int = "source"
    """TSV/CSV: header name or 0-based column number; JSON lines and datasets: key/column."""
    target_column: str | int = "target"
    """Column of the target side, like source_column."""
    header: bool | None = None
    """TSV/CSV: whether the first row names the columns; null: when the columns are names."""


PARALLEL_OPTIONS = tuple(field.name for field in dataclasses.fields(ParallelOptions))
"""The ``task.*`` keys :class:`ParallelOptions` adds (each changes what is read)."""


# ----------------------------------------------------------------------------- a run's splits


def read_pairs(data: DataConfig, seed: int, options: ParallelOptions) -> Splits[Pair]:
    """Pairs of train, validation and test from files or a dataset; a missing validation or
    test split is carved from train with the run's seed (:func:`pipeline.data.read_splits`)."""

    def read_file(path: Path, key: str) -> list[Pair]:
        return read_file_pairs(path, key, options, data.encoding)

    def read_dataset(split: str, dataset: Any) -> list[Pair]:
        return dataset_pairs(dataset, options, f"data.name: split {split!r} of {data.name!r}")

    return read_splits(data, seed, read_file, read_dataset, noun="sentence pairs", kind=KIND)


def parallel_fingerprint(data: DataConfig, options: ParallelOptions) -> dict[str, Any]:
    """What identifies the pairs beyond ``pipeline.data.fingerprint(data)``, for the task's
    cache key: these options and the aligned target files (size and mtime)."""
    values = {name: getattr(options, name) for name in PARALLEL_OPTIONS}
    targets: dict[str, str | None] = dict.fromkeys(DATA_SPLITS)
    if data.name is None:
        for split in DATA_SPLITS:
            path, key = getattr(data, split), f"data.{split}"
            if path is not None and file_format(Path(path), options, key) == "aligned":
                targets[split] = str(existing_target(Path(path).expanduser(), options, key))
    only_targets = dataclasses.replace(
        data, train=targets["train"], validation=targets["validation"], test=targets["test"]
    )
    files = fingerprint(only_targets)["files"] if any(targets.values()) else {}
    return {"options": values, "targets": files}


def parallel_problems(options: ParallelOptions, data: DataConfig) -> list[str]:
    """Problems between these options and the data keys, for a task's ``config_problems``."""
    problems = []
    if options.format == "aligned" and None in (options.source_lang, options.target_lang):
        problems.append(
            "task.format=aligned needs task.source_lang and task.target_lang, the files' "
            "suffixes (train.de and train.en: de and en)"
        )
    if options.format == "aligned" and data.name is not None:
        problems.append(
            "task.format=aligned reads local files, but data.name is set; set data.train to "
            "the source file (and data.name=null), or task.format=auto for a dataset"
        )
    if options.source_lang is not None and options.source_lang == options.target_lang:
        problems.append(
            f"task.source_lang and task.target_lang are both {options.source_lang!r}; "
            "set them to the two languages"
        )
    if options.source_column == options.target_column:
        problems.append(
            f"task.source_column and task.target_column are both {options.source_column!r}; "
            "set them to the two columns"
        )
    if options.header is False and options.format in ("auto", "tsv", "csv"):
        named = [key for key, column in column_keys(options) if isinstance(column, str)]
        if named:
            problems.append(named_without_header(named[0]))
    return problems


# ----------------------------------------------------------------------------- files


def read_file_pairs(
    path: str | Path, key: str, options: ParallelOptions, encoding: str = "utf-8"
) -> list[Pair]:
    """All pairs of one file (for ``aligned``: of the source file and its target file);
    ``key`` (e.g. ``data.train``) is the config key that names it."""
    path = Path(path).expanduser()
    kind = file_format(path, options, key)
    if kind == "aligned":
        return _read_aligned(path, key, options, encoding)
    text = read_text(path, encoding, key, kind=KIND)
    where = location(key, path)
    if kind == "jsonl":
        return list(read_jsonl(text, options, where))
    return list(read_delimited(text, options, where, tsv=kind == "tsv"))


def file_format(path: Path, options: ParallelOptions, key: str) -> str:
    """The layout of the file at path: ``task.format``, or for ``auto`` the one its name says."""
    if options.format != "auto":
        return options.format
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if options.source_lang is not None and path.name.endswith(f".{options.source_lang}"):
        return "aligned"
    raise DataError(
        f"{key}: cannot tell the layout of {str(path)!r} from its name; set task.format to "
        f"one of {', '.join(FORMATS[1:])} (aligned files end in .<task.source_lang>)"
    )


def aligned_target(path: Path, options: ParallelOptions, key: str) -> Path:
    """The target file beside the source file at path: ``NAME.<source_lang>`` ->
    ``NAME.<target_lang>``."""
    source, target = options.source_lang, options.target_lang
    if source is None or target is None:
        raise DataError(
            f"{key}: aligned files need task.source_lang and task.target_lang, the files' "
            f"suffixes (train.de and train.en: de and en); set both"
        )
    if not path.name.endswith(f".{source}"):
        raise DataError(
            f"{location(key, path)} does not end in '.{source}' (task.source_lang); aligned "
            f"files are NAME.{source} and NAME.{target}: set {key} to the source file"
        )
    return path.with_name(path.name[: -len(source)] + target)


def existing_target(path: Path, options: ParallelOptions, key: str) -> Path:
    """:func:`aligned_target`, which must be a file."""
    target = aligned_target(path, options, key)
    if not target.is_file():
        raise DataError(
            f"{key}: no target file {str(target)!r} beside the source {str(path)!r}; aligned "
            f"files are NAME.{options.source_lang} and NAME.{options.target_lang} in one "
            "folder: add it, or check task.target_lang"
        )
    return target


def _read_aligned(path: Path, key: str, options: ParallelOptions, encoding: str) -> list[Pair]:
    """Pairs of line n of the source file and line n of its target file."""
    sources = _all_lines(read_text(path, encoding, key, kind=KIND))
    target_path = existing_target(path, options, key)
    targets = _all_lines(read_text(target_path, encoding, key, kind=KIND))
    if len(sources) != len(targets):
        shorter, longer = (
            (path, target_path) if len(sources) < len(targets) else (target_path, path)
        )
        raise DataError(
            f"{key}: aligned files of different lengths: {str(shorter)!r} ends at line "
            f"{min(len(sources), len(targets))}, {str(longer)!r} goes on to line "
            f"{max(len(sources), len(targets))}; each line of one must translate the same "
            "line of the other"
        )
    pairs = []
    for number, (source, target) in enumerate(zip(sources, targets, strict=True), 1):
        if source or target:  # lines blank on both sides are skipped
            where = location(key, target_path if source else path, number)
            pairs.append(make_pair(source, target, where, ("the source line", "the target line")))
    return pairs


def _all_lines(text: str) -> list[str]:
    """Stripped lines, blank ones included, without the blank lines at the end."""
    lines = [line for _, line in numbered_lines(text, skip_blank=False)]
    while lines and not lines[-1]:
        lines.pop()
    return lines
