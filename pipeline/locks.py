"""A lock shared by every process on the machine (or file system) that opens the same file.

``with file_lock(path): ...`` waits until no other process holds ``path`` (the ``filelock``
package: ``flock`` on Unix, ``msvcrt`` on Windows). The operating system frees the lock of a
process that dies, so a killed worker never leaves others waiting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

__all__ = ["LockTimeout", "file_lock", "held_if_free"]

LockTimeout = Timeout
"""Raised by a ``file_lock(path, timeout=...)`` that waited in vain."""


def file_lock(path: Path, timeout: float = -1) -> FileLock:
    """An exclusive lock on ``path`` (created, with its folder, if missing), for a with block;
    it waits ``timeout`` seconds at most (-1: for ever), then raises :data:`LockTimeout`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, timeout=timeout)


@contextlib.contextmanager
def held_if_free(path: Path) -> Iterator[bool]:
    """Hold ``path``'s lock for the block if no other process does: yields whether it could."""
    lock = file_lock(path, timeout=0)
    try:
        lock.acquire()
    except LockTimeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
