"""Text splits from local files or a ``datasets`` dataset, with seeded carving of missing splits.

Local files are read line by line (blank lines dropped). A dataset is a Hugging Face hub name
or a local directory: one written by ``save_to_disk`` or a folder of text/csv/json files. When
the validation or test split is missing, it is carved from train with a seeded shuffle.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pipeline.config import DataConfig
from pipeline.errors import UserError

SPLITS = ("train", "validation", "test")
LOADER_SPLITS = {"train": "train", "val": "validation", "test": "test"}
"""Split names of ``Task.dataloader`` (Lightning's) -> data split names."""
SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
}
"""Dataset split names (lower case) -> our split names; other splits are ignored."""


T = TypeVar("T")


class DataError(UserError, ValueError):
    """A data problem, naming the config key or file at fault and how to fix it."""


@dataclass
class TextSplits:
    """Lines of text per split (keys ``train``, ``validation``, ``test``)."""

    lines: dict[str, list[str]]
    carved: list[str] = field(default_factory=list)
    """Splits that were carved from train because no source provided them."""


# ----------------------------------------------------------------------------- local files


def read_lines(path: str | Path, encoding: str, key: str) -> list[str]:
    """Stripped non-blank lines of a text file; ``key`` (e.g. ``data.train``) names it."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{key}: file {str(path)!r} does not exist; set {key} to a text file")
    if not path.is_file():
        raise DataError(f"{key}: {str(path)!r} is not a file; set {key} to a text file")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except LookupError as error:
        raise DataError(f"data.encoding: unknown encoding {encoding!r} ({error})") from error
    except UnicodeDecodeError as error:
        raise DataError(_decode_message(path, key, data, encoding, error)) from error
    lines = (line.strip() for line in text.removeprefix("\ufeff").split("\n"))
    return [line for line in lines if line]


def _decode_message(
    path: Path, key: str, data: bytes, encoding: str, error: UnicodeDecodeError
) -> str:
    line = data.count(b"\n", 0, error.start) + 1
    byte = data[error.start : error.start + 1].hex()
    return (
        f"{key}: file {str(path)!r} is not valid {encoding}: byte 0x{byte} at offset "
        f"{error.start} (line {line}): {error.reason}. Set data.encoding to the file's "
        "encoding, e.g. data.encoding=latin-1"
    )


def _read_files(cfg: DataConfig) -> dict[str, list[str]]:
    if cfg.train is None:
        raise DataError(
            "data.train: no training data; set data.train to a text file "
            "(or data.name to a dataset)"
        )
    splits = {}
    for split in SPLITS:
        path = getattr(cfg, split)
        if path is not None:
            lines = read_lines(path, cfg.encoding, f"data.{split}")
            if not lines:
                raise DataError(f"data.{split}: file {str(path)!r} has no text lines")
            splits[split] = lines
    return splits


# ----------------------------------------------------------------------------- datasets


def _read_dataset(cfg: DataConfig) -> dict[str, list[str]]:
    return dataset_splits(cfg, lambda name, dataset: _column_lines(cfg, name, dataset))


def dataset_splits(cfg: DataConfig, convert: Callable[[str, Any], T]) -> dict[str, T]:
    """``convert(split_name, dataset)`` for each train/validation/test split of ``data.name``.

    A folder written by ``save_to_disk`` is loaded from disk; anything else goes through
    ``datasets.load_dataset(data.name, data.config)`` (hub names, local data folders).
    """
    import datasets

    loaded = _open_dataset(cfg, datasets)
    if isinstance(loaded, datasets.Dataset):
        loaded = {"train": loaded}
    splits: dict[str, T] = {}
    for name, dataset in loaded.items():
        split = SPLIT_ALIASES.get(str(name).lower())
        if split is not None and split not in splits:
            splits[split] = convert(str(name), dataset)
    if "train" not in splits:
        raise DataError(
            f"data.name: dataset {cfg.name!r} has no train split (splits: "
            f"{', '.join(map(str, loaded)) or 'none'}); use local files via data.train"
        )
    return splits


def _open_dataset(cfg: DataConfig, datasets: Any) -> Any:
    """load_from_disk for a save_to_disk directory, else load_dataset(name, config)."""
    assert cfg.name is not None
    path = Path(cfg.name).expanduser()
    try:
        if _saved_to_disk(path):
            return datasets.load_from_disk(str(path))
        return datasets.load_dataset(cfg.name, cfg.config)
    except Exception as error:
        config = f" (data.config={cfg.config!r})" if cfg.config else ""
        raise DataError(
            f"data.name: could not load dataset {cfg.name!r}{config}: "
            f"{type(error).__name__}: {error}. Check data.name and data.config, or read local "
            "text files instead: set data.name=null and data.train (data.validation, "
            "data.test) to file paths"
        ) from error


def _saved_to_disk(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).is_file() for name in ("dataset_dict.json", "state.json")
    )


def _column_lines(cfg: DataConfig, split: str, dataset: Any) -> list[str]:
    columns = list(dataset.column_names)
    if cfg.text_column not in columns:
        raise DataError(
            f"data.text_column: column {cfg.text_column!r} is not in split {split!r} of "
            f"dataset {cfg.name!r}; its columns are: {', '.join(columns)}. "
            "Set data.text_column to one of them"
        )
    lines = []
    for value in dataset[cfg.text_column]:
        if value is not None and not isinstance(value, str):
            raise DataError(
                f"data.text_column: column {cfg.text_column!r} holds "
                f"{type(value).__name__} values, not text; choose a text column"
            )
        if value and value.strip():
            lines.append(value.strip())
    if not lines:
        raise DataError(f"data.name: split {split!r} of dataset {cfg.name!r} has no text lines")
    return lines


# ----------------------------------------------------------------------------- splits


def load_text_splits(cfg: DataConfig, seed: int) -> TextSplits:
    """Train, validation and test lines; missing validation/test are carved from train."""
    if cfg.name is not None and any((cfg.train, cfg.validation, cfg.test)):
        raise DataError(
            "data.name and data.train/validation/test are both set; use either a dataset "
            "(data.name) or local files (data.train ...), and set the other to null"
        )
    splits = _read_dataset(cfg) if cfg.name is not None else _read_files(cfg)
    missing = [split for split in SPLITS if split not in splits]
    if missing:
        splits.update(carve(splits["train"], missing, cfg, seed))
    return TextSplits({split: splits[split] for split in SPLITS}, missing)


def carve(lines: list[str], missing: list[str], cfg: DataConfig, seed: int) -> dict[str, list[str]]:
    """Split missing splits off lines (new ``train`` included), each in its original order."""
    fractions = {"validation": cfg.validation_fraction, "test": cfg.test_fraction}
    sizes = {split: max(1, round(len(lines) * fractions[split])) for split in missing}
    if len(lines) - sum(sizes.values()) < 1:
        raise DataError(
            f"data.train: only {len(lines)} text lines, too few to carve "
            f"{' and '.join(missing)} from; add more lines or set "
            f"{' and '.join(f'data.{split}' for split in missing)} to files"
        )
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    carved, start = {}, 0
    for split in missing:
        carved[split] = sorted(order[start : start + sizes[split]])
        start += sizes[split]
    carved["train"] = sorted(order[start:])
    return {split: [lines[i] for i in indices] for split, indices in carved.items()}


# ----------------------------------------------------------------------------- cache keys


def fingerprint(cfg: DataConfig) -> dict[str, Any]:
    """What identifies the data for cache keys (the seed, which carving uses, is not in it)."""
    settings = {
        "encoding": cfg.encoding,
        "validation_fraction": cfg.validation_fraction,
        "test_fraction": cfg.test_fraction,
    }
    if cfg.name is None:
        files = {s: _file_identity(getattr(cfg, s), s) for s in SPLITS if getattr(cfg, s)}
        return {"files": files, **settings}
    identity: dict[str, Any] = {
        "name": cfg.name,
        "config": cfg.config,
        "text_column": cfg.text_column,
    }
    path = Path(cfg.name).expanduser()
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
