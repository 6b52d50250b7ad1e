"""A lock shared by every process on the machine (or file system) that opens the same file.

``with file_lock(path): ...`` waits until no other process holds ``path`` (the ``filelock``
package: ``flock`` on Unix, ``msvcrt`` on Windows). The operating system frees the lock of a
process that dies, so a killed worker never leaves others waiting.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

__all__ = ["file_lock"]


def file_lock(path: Path) -> FileLock:
    """An exclusive lock on ``path`` (created, with its folder, if missing), for a with block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path)
