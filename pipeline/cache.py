"""Content-addressed cache directories, built once even when several processes ask at once.

``cached_dir(root, key, build)`` names a directory after a hash of ``key``. The first caller
builds it in a temporary sibling and renames it into place; a file lock on
``root/<hash>.lock`` makes concurrent callers (e.g. DDP ranks) wait and then reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.locks import file_lock

__all__ = ["cached_dir", "key_hash"]

COMPLETE = ".complete"
KEY_FILE = "key.json"
HASH_LENGTH = 16


def key_hash(key: dict[str, Any]) -> str:
    """First 16 hex digits of the sha256 of key as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def cached_dir(root: Path, key: dict[str, Any], build: Callable[[Path], None]) -> tuple[Path, bool]:
    """``(root/<hash of key>, hit)``: reuse a complete directory or ``build(tmp)`` it once.

    ``build`` receives an empty directory to fill; on success it is renamed into place with
    a ``.complete`` marker and ``key.json``. If build raises, nothing is left behind.
    """
    root = Path(root)
    digest = key_hash(key)
    target = root / digest
    if (target / COMPLETE).is_file():
        return target, True
    with file_lock(root / f"{digest}.lock"):
        if (target / COMPLETE).is_file():
            return target, True
        _remove_leftovers(root, digest)
        _build_into(root, digest, key, build)
    return target, False


def _build_into(
    root: Path, digest: str, key: dict[str, Any], build: Callable[[Path], None]
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"{digest}.tmp-", dir=root))
    try:
        build(tmp)
        text = json.dumps(key, sort_keys=True, indent=2, ensure_ascii=False, default=str)
        (tmp / KEY_FILE).write_text(text + "\n", encoding="utf-8")
        (tmp / COMPLETE).touch()
        os.rename(tmp, root / digest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (root / digest / COMPLETE).is_file():
            raise  # else another process (without a lock) renamed its build first: reuse it
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_leftovers(root: Path, digest: str) -> None:
    """Delete an incomplete target and temporary dirs of crashed builds (lock held)."""
    for path in [root / digest, *root.glob(f"{digest}.tmp-*")]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
