"""Storage failures found in an exception's chain and told as the path and the setting."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from pipeline.config import build_config
from pipeline.storage_errors import StorageError, storage_error, storage_errors


def test_a_full_cache_folder_names_data_cache_dir(workdir: Path) -> None:
    cfg = build_config({"data": {"cache_dir": str(workdir / "cache")}})
    path = workdir / "cache" / "abc" / "train.pt"
    with pytest.raises(StorageError) as raised, storage_errors(cfg):
        raise RuntimeError("saving failed") from OSError(errno.ENOSPC, "No space", str(path))
    assert str(raised.value) == (
        f"no space left on the device ({path}): free some space there, or set data.cache_dir "
        "to a writable folder with room"
    )
    assert raised.value.reason == "disk_full"


@pytest.mark.parametrize(
    ("error", "reason", "setting"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "mlruns/local/x"), "permission_denied",
         "run from another folder"),
        (OSError(errno.EROFS, "Read-only file system", "mlruns"), "read_only", "tracking.uri"),
        (sqlite3.OperationalError("database or disk is full"), "disk_full", "tracking.uri"),
    ],
)  # fmt: skip
def test_each_folder_gets_its_setting(
    workdir: Path, error: Exception, reason: str, setting: str
) -> None:
    found = storage_error(error, build_config({}))
    assert found is not None and found.reason == reason and setting in str(found)


def test_other_errors_pass_through_unchanged(workdir: Path) -> None:
    assert storage_error(FileNotFoundError(errno.ENOENT, "gone", "x"), None) is None
    with pytest.raises(ValueError, match="a bug"), storage_errors():
        raise ValueError("a bug")
