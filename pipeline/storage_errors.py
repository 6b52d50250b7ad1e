"""A full disk, a denied permission or a read-only folder as one message: the path, the setting.

Such an error is not the pipeline's bug, and its traceback (often several, from Lightning's and
MLflow's own handlers) hides the one fact a user needs: which folder, and which setting moves
the files elsewhere. :func:`storage_errors` finds the ``OSError`` (or SQLite's own words) in an
exception's chain and raises :class:`StorageError` instead, whose ``reason`` a run records.
"""

from __future__ import annotations

import errno
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import UserError

if TYPE_CHECKING:
    from pipeline.config import Config

REASONS = {
    errno.ENOSPC: ("disk_full", "no space left on the device"),
    errno.EDQUOT: ("disk_full", "the disk quota is exceeded"),
    errno.EACCES: ("permission_denied", "permission denied"),
    errno.EPERM: ("permission_denied", "operation not permitted"),
    errno.EROFS: ("read_only", "the file system is read-only"),
}
SQLITE_WORDS = {  # sqlite3 reports these without an errno
    "database or disk is full": errno.ENOSPC,
    "attempt to write a readonly database": errno.EROFS,
    "unable to open database file": errno.EACCES,
}


class StorageError(UserError):
    """Writing or reading a file failed for a reason of the machine's (space, permissions)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@contextmanager
def storage_errors(cfg: Config | None = None) -> Iterator[None]:
    """Raise a StorageError naming the path and the setting for any storage failure inside."""
    try:
        yield
    except StorageError:
        raise
    except Exception as error:
        found = storage_error(error, cfg)
        if found is None:
            raise
        raise found from error


def storage_error(error: BaseException, cfg: Config | None) -> StorageError | None:
    """The StorageError for error (or an exception it came from), None if it is none of them."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        number, path = _errno_and_path(current, cfg)
        if number in REASONS:
            reason, what = REASONS[number]
            where = f" ({path})" if path else ""
            return StorageError(f"{what}{where}: {advice(path, cfg, reason)}", reason)
        current = current.__cause__ or current.__context__
    return None


def _errno_and_path(error: BaseException, cfg: Config | None) -> tuple[int | None, str | None]:
    if isinstance(error, OSError) and error.errno in REASONS:
        return error.errno, str(error.filename) if error.filename else None
    text = str(error)
    for words, number in SQLITE_WORDS.items():
        if words in text:
            return number, _store_file(cfg)
    return None, None


def advice(path: str | None, cfg: Config | None, reason: str) -> str:
    """What to do: free space or fix permissions, or the setting that puts the files elsewhere."""
    fix = "free some space" if reason == "disk_full" else "make it writable"
    if path is None:
        return f"{fix}, or move the files elsewhere (tracking.uri, data.cache_dir, TMPDIR)"
    resolved = Path(path).expanduser().resolve()
    matches = [  # the folder holding it (the closest first), else one it would hold
        (resolved == folder or folder in resolved.parents, len(folder.parts), setting)
        for folder, setting in _settings(cfg)
        if resolved == folder or folder in resolved.parents or resolved in folder.parents
    ]
    if matches:
        return f"{fix} there, or {max(matches)[2]}"
    if Path(tempfile.gettempdir()).resolve() in resolved.parents:
        return f"{fix} there, or set TMPDIR to a folder with room"
    return f"{fix} there"


def _settings(cfg: Config | None) -> list[tuple[Path, str]]:
    """Folders the pipeline writes to and what moves the files of each elsewhere."""
    local = (Path.cwd() / "mlruns" / "local").resolve()  # runs.local_root(), without torch
    pairs = [
        (local, "run from another folder (checkpoints go under ./mlruns/local of the current one)"),
    ]
    if cfg is not None:
        cache = Path(cfg.data.cache_dir).expanduser().resolve()
        pairs.insert(0, (cache, "set data.cache_dir to a writable folder with room"))
    store = _store_file(cfg)
    if store is not None:
        pairs.append(
            (Path(store).parent, "set tracking.uri (or --tracking-uri) to a store elsewhere")
        )
    return pairs


def _store_file(cfg: Config | None) -> str | None:
    from pipeline.tracking import tracking_uri  # mlflow: only once an error is being reported

    uri = tracking_uri(cfg.tracking.uri if cfg is not None else None)
    if not uri.startswith("sqlite:///"):
        return None
    return str(Path(uri.removeprefix("sqlite:///")).resolve())
