"""Behaviour tests for the content-addressed build cache."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
from pathlib import Path

import pytest

from pipeline.cache import cached_dir, key_hash


def build_counting(log: Path, pause: float = 0.0) -> object:
    """A build function that records each call as a file in log and writes ``out.txt``."""

    def build(directory: Path) -> None:
        (log / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
        time.sleep(pause)
        (directory / "out.txt").write_text("built", encoding="utf-8")

    return build


def builds(log: Path) -> int:
    return len(list(log.iterdir()))


@pytest.fixture
def log(tmp_path: Path) -> Path:
    directory = tmp_path / "log"
    directory.mkdir()
    return directory


def test_second_call_reuses_without_building(tmp_path: Path, log: Path) -> None:
    key = {"data": {"path": "x.txt", "size": 3}, "vocab": 100}
    path, hit = cached_dir(tmp_path / "cache", key, build_counting(log))
    assert (hit, builds(log)) == (False, 1)
    assert path == tmp_path / "cache" / key_hash(key) and len(path.name) == 16
    assert (path / "out.txt").read_text(encoding="utf-8") == "built"
    assert (path / ".complete").is_file()
    assert json.loads((path / "key.json").read_text(encoding="utf-8")) == key
    again, hit = cached_dir(tmp_path / "cache", dict(reversed(key.items())), build_counting(log))
    assert (again, hit, builds(log)) == (path, True, 1)


def test_different_keys_get_different_directories(tmp_path: Path, log: Path) -> None:
    first, _ = cached_dir(tmp_path, {"vocab": 100}, build_counting(log))
    second, _ = cached_dir(tmp_path, {"vocab": 200}, build_counting(log))
    assert first != second and builds(log) == 2


def test_failed_build_leaves_nothing_and_is_retried(tmp_path: Path, log: Path) -> None:
    def fail(directory: Path) -> None:
        (directory / "half.txt").touch()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cached_dir(tmp_path / "cache", {"k": 1}, fail)
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()] == []
    path, hit = cached_dir(tmp_path / "cache", {"k": 1}, build_counting(log))
    assert not hit and (path / "out.txt").is_file() and not (path / "half.txt").exists()


def test_incomplete_directory_is_rebuilt(tmp_path: Path, log: Path) -> None:
    stale = tmp_path / key_hash({"k": 2})
    stale.mkdir()
    (stale / "junk").touch()
    path, hit = cached_dir(tmp_path, {"k": 2}, build_counting(log))
    assert path == stale and not hit and not (path / "junk").exists()


def _race(root: str, log: str, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    cached_dir(Path(root), {"shared": True}, build_counting(Path(log), pause=0.5))


def test_concurrent_processes_build_exactly_once(tmp_path: Path, log: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=_race, args=(str(tmp_path / "cache"), str(log), barrier))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert builds(log) == 1
    path, hit = cached_dir(tmp_path / "cache", {"shared": True}, build_counting(log))
    assert hit and (path / "out.txt").is_file()
