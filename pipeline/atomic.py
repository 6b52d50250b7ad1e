"""Atomic file writes: a crash or a full disk leaves the old file or the new one, never half.

The data goes to a temporary file in the target's folder (same file system, so the rename is
atomic), is flushed and fsynced, and then replaces the target with ``os.replace``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary sibling of path for writing; on success it replaces path.

    On any error (``OSError`` of a full disk, an interrupt) the temporary file is removed and
    path keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it 0600; give what open() would
        with open(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError) and error.filename is None:  # write(): says no path
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    _fsync_folder(path.parent)


def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write text to path atomically."""
    with atomic_writer(path, "w", encoding) as handle:
        handle.write(text)


def move_into_place(source: Path, target: Path) -> None:
    """Sync source, then rename it to target (both on one file system, e.g. siblings)."""
    with open(source, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(source, target)
    _fsync_folder(Path(target).parent)


@functools.cache
def _umask() -> int:
    """The process's umask (reading it means setting it: done once, then restored)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a power loss could otherwise undo it)."""
    with contextlib.suppress(OSError):  # some file systems refuse to open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
