"""Checks of a config's inputs that run before any MLflow run is opened.

A bad input found here raises a :class:`~pipeline.errors.UserError` and leaves no run in the
store; checks are cheap (each data file is opened and decoded once, nothing is trained).
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import Config
from pipeline.data import DATA_SPLITS
from pipeline.errors import DataError, UserError
from pipeline.textfiles import read_text

__all__ = ["preflight"]


def preflight(cfg: Config) -> None:
    """Raise a UserError naming the key and the fix if an input of cfg cannot be used."""
    if not cfg.tracking.experiment.strip():
        raise UserError("tracking.experiment is empty; set it to an experiment name")
    for split in DATA_SPLITS:
        path = getattr(cfg.data, split)
        if path is not None:
            _check_file(Path(path).expanduser(), f"data.{split}", cfg.data.encoding)


def _check_file(path: Path, key: str, encoding: str) -> None:
    """The file exists, is a file, is readable and decodes with encoding."""
    if path.is_file() and not os.access(path, os.R_OK):
        raise DataError(f"{key}: file {str(path)!r} is not readable; fix its permissions")
    read_text(path, encoding, key)
