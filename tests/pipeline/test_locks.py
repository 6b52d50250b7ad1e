"""Behaviour test for the cross-process file lock."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from pipeline.locks import file_lock


def _hold(lock: str, log: str, name: str, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    with file_lock(Path(lock)), open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{name} in\n")
        handle.flush()
        time.sleep(0.3)
        handle.write(f"{name} out\n")


def test_processes_hold_the_lock_one_at_a_time(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    lock, log = tmp_path / "locks" / "x.lock", tmp_path / "log.txt"
    workers = [
        context.Process(target=_hold, args=(str(lock), str(log), str(i), barrier)) for i in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):  # never interleaved
        assert enter.endswith(" in") and leave == enter.replace(" in", " out")
