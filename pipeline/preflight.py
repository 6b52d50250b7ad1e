"""Checks of a config's inputs that run before any MLflow run is opened.

A bad input found here raises a :class:`~pipeline.errors.UserError` and leaves no run in the
store; checks are cheap (each data file is opened and decoded once, a Trainer is built and
dropped, nothing is trained).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pipeline.config import Config
from pipeline.data import DATA_SPLITS, encodings_problems, split_encoding
from pipeline.errors import DataError, UserError
from pipeline.runs import local_root
from pipeline.storage_errors import storage_errors
from pipeline.textfiles import location, read_text
from pipeline.trainer import check_trainer_settings

__all__ = ["preflight"]


def preflight(cfg: Config) -> None:
    """Raise a UserError naming the key and the fix if an input of cfg cannot be used."""
    if not cfg.tracking.experiment.strip():
        raise UserError("tracking.experiment is empty; set it to an experiment name")
    problems = encodings_problems(cfg.data)
    if problems:
        raise DataError("; ".join(problems))
    for split in DATA_SPLITS:
        path = getattr(cfg.data, split)
        if path is not None:
            key = f"data.{split}"
            _check_file(Path(path).expanduser(), key, split_encoding(cfg.data, key))
    for folder in (local_root(), Path(cfg.data.cache_dir).expanduser()):
        _check_writable(folder, cfg)
    check_trainer_settings(cfg.trainer)


def _check_file(path: Path, key: str, encoding: str) -> None:
    """The file exists, is a file, is readable, decodes with encoding and is not blank."""
    if path.is_file() and not os.access(path, os.R_OK):
        raise DataError(f"{key}: file {str(path)!r} is not readable; fix its permissions")
    if not read_text(path, encoding, key).strip():
        raise DataError(f"{location(key, path)} is empty; set {key} to a file with examples")


def _check_writable(folder: Path, cfg: Config) -> None:
    """folder exists (made if missing) and takes a file: a real write, since root passes
    ``os.access`` checks on folders it may not write (and a read-only mount refuses it)."""
    with storage_errors(cfg):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
