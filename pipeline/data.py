"""Splits of a run's data: a dataset or local files, ``data.train`` required, the missing
validation/test carved from train with the run's seed; and the data's cache fingerprint.

A task reads its examples with :func:`read_splits`, giving it two readers: one for a local
file (``data.train`` ...) and one for a split of a ``datasets`` dataset (``data.name``: a hub
name or a local directory, one written by ``save_to_disk`` or a folder of text/csv/json files).
Plain text, one example a line, is ready-made: :func:`load_text_splits`::

    def read_file(path: Path, key: str) -> list[Sentence]:  # key: "data.train", ...
        text = read_text(path, split_encoding(cfg.data, key), key, kind="a CoNLL file")
        return parse_sentences(text, key, path)  # the task's parser (pipeline.textfiles)

    def read_dataset(split: str, dataset: datasets.Dataset) -> list[Sentence]: ...

    splits = read_splits(cfg.data, cfg.seed, read_file, read_dataset, noun="sentences")
    splits.examples["validation"], splits.carved  # e.g. [Sentence(...), ...], ["test"]
"""

from __future__ import annotations

import codecs
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pipeline.config import DataConfig
from pipeline.errors import DataError
from pipeline.textfiles import read_lines

__all__ = [
    "DATA_SPLITS",
    "LOADER_SPLITS",
    "SPLIT_ALIASES",
    "DataError",
    "Splits",
    "carve",
    "dataset_splits",
    "encodings_problems",
    "fingerprint",
    "load_text_splits",
    "read_splits",
    "split_encoding",
]

DATA_SPLITS = ("train", "validation", "test")
"""Split names of the data: the config keys ``data.train``, ``data.validation``, ``data.test``."""
LOADER_SPLITS = {"train": "train", "val": "validation", "test": "test"}
"""Split names of ``Task.dataloader`` (Lightning's) -> data split names."""
SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
}
"""Dataset split names (lower case) -> data split names; other splits are ignored."""

E = TypeVar("E")
T = TypeVar("T")


@dataclass
class Splits(Generic[E]):
    """Examples per data split (keys ``train``, ``validation``, ``test``, in that order)."""

    examples: dict[str, list[E]]
    carved: list[str] = field(default_factory=list)
    """Splits that were carved from train because no source provided them."""


# ----------------------------------------------------------------------------- splits


def read_splits(
    data: DataConfig,
    seed: int,
    read_file: Callable[[Path, str], list[E]],
    read_dataset: Callable[[str, Any], list[E]],
    noun: str = "examples",
    kind: str = "a text file",
) -> Splits[E]:
    """Examples of train, validation and test; the missing validation/test carved from train.

    ``read_file(path, key)`` reads one local file (``key`` is ``data.train`` etc.; see
    :mod:`pipeline.textfiles`); ``read_dataset(split_name, dataset)`` converts one split of a
    ``datasets`` dataset. ``noun`` (``"sentences"``) and ``kind`` (``"a CoNLL file"``) word the
    errors: no ``data.train``, a file or split without examples, a dataset and files both set.
    """
    if data.name is not None and any((data.train, data.validation, data.test)):
        raise DataError(
            "data.name and data.train/validation/test are both set; use either a dataset "
            "(data.name) or local files (data.train ...), and set the other to null"
        )
    if data.name is None:
        splits = _read_files(data, read_file, noun, kind)
    else:
        splits = dataset_splits(data, _nonempty(data, read_dataset, noun))
    missing = [split for split in DATA_SPLITS if split not in splits]
    if missing:
        splits.update(carve(splits["train"], missing, data, seed, noun))
    return Splits({split: splits[split] for split in DATA_SPLITS}, missing)


def _read_files(
    data: DataConfig, read_file: Callable[[Path, str], list[E]], noun: str, kind: str
) -> dict[str, list[E]]:
    if data.train is None:
        raise DataError(
            f"data.train: no training data; set data.train to {kind} (or data.name to a dataset)"
        )
    splits = {}
    for split in DATA_SPLITS:
        path = getattr(data, split)
        if path is not None:
            examples = read_file(Path(path).expanduser(), f"data.{split}")
            if not examples:
                raise DataError(f"data.{split}: file {str(path)!r} has no {noun}")
            splits[split] = examples
    return splits


def _nonempty(
    data: DataConfig, read_dataset: Callable[[str, Any], list[E]], noun: str
) -> Callable[[str, Any], list[E]]:
    """read_dataset, raising DataError for a split that gives no examples."""

    def read(name: str, dataset: Any) -> list[E]:
        examples = read_dataset(name, dataset)
        if not examples:
            raise DataError(f"data.name: split {name!r} of dataset {data.name!r} has no {noun}")
        return examples

    return read


def carve(
    examples: Sequence[E],
    missing: Sequence[str],
    data: DataConfig,
    seed: int,
    noun: str = "examples",
) -> dict[str, list[E]]:
    """The missing splits cut off examples (and the new ``train``), each in its original order.

    Sizes are ``data.validation_fraction`` / ``data.test_fraction`` of the examples (at least
    one each); which examples go where is a shuffle seeded with ``seed``.
    """
    fractions = {"validation": data.validation_fraction, "test": data.test_fraction}
    sizes = {split: max(1, round(len(examples) * fractions[split])) for split in missing}
    if len(examples) - sum(sizes.values()) < 1:
        raise DataError(
            f"data.train: only {len(examples)} {noun}, too few to carve "
            f"{' and '.join(missing)} from; add more {noun} or set "
            f"{' and '.join(f'data.{split}' for split in missing)} to files"
        )
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    carved, start = {}, 0
    for split in missing:
        carved[split] = sorted(order[start : start + sizes[split]])
        start += sizes[split]
    carved["train"] = sorted(order[start:])
    return {split: [examples[i] for i in indices] for split, indices in carved.items()}


# ----------------------------------------------------------------------------- plain text


def split_encoding(data: DataConfig, key: str) -> str:
    """The encoding of the file that key (``data.train``, ...) names: ``data.encodings`` of
    its split, else ``data.encoding``."""
    return data.encodings.get(key.removeprefix("data."), data.encoding)


def encodings_problems(data: DataConfig) -> list[str]:
    """``data.encodings`` keys that are not split names, and encodings Python does not know."""
    problems = [
        f"data.encodings.{split}: not a split; use {', '.join(DATA_SPLITS)}"
        for split in data.encodings
        if split not in DATA_SPLITS
    ]
    for key, name in [("data.encoding", data.encoding)] + [
        (f"data.encodings.{split}", name) for split, name in data.encodings.items()
    ]:
        try:
            codecs.lookup(name)
        except LookupError:
            problems.append(f"{key}: unknown encoding {name!r}; e.g. utf-8, latin-1, cp1252")
    return problems


def load_text_splits(data: DataConfig, seed: int) -> Splits[str]:
    """Text lines of train, validation and test: local files (stripped, blank lines dropped)
    or the ``data.text_column`` of a dataset; missing validation/test carved from train."""

    def read_file(path: Path, key: str) -> list[str]:
        return read_lines(path, split_encoding(data, key), key)

    def read_dataset(split: str, dataset: Any) -> list[str]:
        return _column_lines(data, split, dataset)

    return read_splits(data, seed, read_file, read_dataset, noun="text lines")


def _column_lines(data: DataConfig, split: str, dataset: Any) -> list[str]:
    columns = list(dataset.column_names)
    if data.text_column not in columns:
        raise DataError(
            f"data.text_column: column {data.text_column!r} is not in split {split!r} of "
            f"dataset {data.name!r}; its columns are: {', '.join(columns)}. "
            "Set data.text_column to one of them"
        )
    lines = []
    for value in dataset[data.text_column]:
        if value is not None and not isinstance(value, str):
            raise DataError(
                f"data.text_column: column {data.text_column!r} holds "
                f"{type(value).__name__} values, not text; choose a text column"
            )
        if value and value.strip():
            lines.append(value.strip())
    return lines


# ----------------------------------------------------------------------------- datasets


def dataset_splits(data: DataConfig, convert: Callable[[str, Any], T]) -> dict[str, T]:
    """``convert(split_name, dataset)`` for each train/validation/test split of ``data.name``.

    A folder written by ``save_to_disk`` is loaded from disk; anything else goes through
    ``datasets.load_dataset(data.name, data.config)`` (hub names, local data folders). Split
    names are matched through ``SPLIT_ALIASES`` (``dev`` and ``valid`` are validation).
    """
    import datasets

    loaded = _open_dataset(data, datasets)
    if isinstance(loaded, datasets.Dataset):
        loaded = {"train": loaded}
    splits: dict[str, T] = {}
    for name, dataset in loaded.items():
        split = SPLIT_ALIASES.get(str(name).lower())
        if split is not None and split not in splits:
            splits[split] = convert(str(name), dataset)
    if "train" not in splits:
        raise DataError(
            f"data.name: dataset {data.name!r} has no train split (splits: "
            f"{', '.join(map(str, loaded)) or 'none'}); use local files via data.train"
        )
    return splits


def _open_dataset(data: DataConfig, datasets: Any) -> Any:
    """load_from_disk for a save_to_disk directory, else load_dataset(name, config)."""
    assert data.name is not None
    path = Path(data.name).expanduser()
    try:
        if _saved_to_disk(path):
            return datasets.load_from_disk(str(path))
        return datasets.load_dataset(data.name, data.config)
    except Exception as error:
        config = f" (data.config={data.config!r})" if data.config else ""
        raise DataError(
            f"data.name: could not load dataset {data.name!r}{config}: "
            f"{type(error).__name__}: {error}. Check data.name and data.config, or read local "
            "text files instead: set data.name=null and data.train (data.validation, "
            "data.test) to file paths"
        ) from error


def _saved_to_disk(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).is_file() for name in ("dataset_dict.json", "state.json")
    )


# ----------------------------------------------------------------------------- cache keys


def fingerprint(data: DataConfig) -> dict[str, Any]:
    """What identifies the data for cache keys (the seed, which carving uses, is not in it)."""
    settings = {
        "encoding": data.encoding,
        **({"encodings": data.encodings} if data.encodings else {}),  # old cache keys kept
        "validation_fraction": data.validation_fraction,
        "test_fraction": data.test_fraction,
    }
    if data.name is None:
        files = {s: _file_identity(getattr(data, s), s) for s in DATA_SPLITS if getattr(data, s)}
        return {"files": files, **settings}
    identity: dict[str, Any] = {
        "name": data.name,
        "config": data.config,
        "text_column": data.text_column,
    }
    path = Path(data.name).expanduser()
    if path.is_dir():
        identity["directory"] = _tree_identity(path)
    return {"dataset": identity, **settings}


def _file_identity(path: str, split: str) -> dict[str, Any]:
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise DataError(f"data.{split}: file {path!r} does not exist; set data.{split}")
    stat = resolved.stat()
    return {"path": str(resolved), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _tree_identity(directory: Path) -> dict[str, Any]:
    """Resolved path plus a digest of every file's relative path, size and mtime_ns."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = path.stat()
        entry = [str(path.relative_to(directory)), stat.st_size, stat.st_mtime_ns]
        digest.update(json.dumps(entry).encode())
    return {"path": str(directory.resolve()), "files": digest.hexdigest()[:16]}
