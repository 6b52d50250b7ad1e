"""A read-only working folder and a full disk, for real: one message naming the path and the
setting, exit 2, no traceback, no run left RUNNING, never a partial file in place of a good one.

Read-only folders are read-only tmpfs mounts when root (root writes through chmod), else
chmod 555; the full disk is a tiny tmpfs, which needs root (CI runs as root).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from pipeline.runs import REASON_TAG

pytestmark = pytest.mark.slow
ROOT = os.geteuid() == 0
PAGE = 4096


@contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """folder as a fresh tmpfs mounted with options; skips the test if it cannot be mounted."""
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """An empty folder that this process cannot write into."""
    if ROOT:
        with tmpfs(folder, "ro,size=64k") as mounted:
            yield mounted
        return
    folder.mkdir()
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def pipeline(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [shutil.which("pipeline") or f"{sys.prefix}/bin/pipeline", *argv]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def one_error(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The command failed with exit 2 and one error line holding fragments; that line."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def statuses(store: Path) -> list[str]:
    with sqlite3.connect(store) as connection:
        return [row[0] for row in connection.execute("select status from runs")]


@pytest.fixture
def trained(lm_config: Path, workdir: Path) -> tuple[str, str]:
    """(run id, tracking URI) of a run trained in workdir, whose store then serves elsewhere."""
    done = pipeline("train", str(lm_config), "trainer.max_epochs=1", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split('"run_id": "')[1].split('"')[0]
    return run_id, f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_predict_and_evaluate_write_nothing_into_the_current_folder(
    trained: tuple[str, str], tmp_path: Path, command: str
) -> None:
    run_id, uri = trained
    extra = ["El gobierno"] if command == "predict" else []
    with read_only_folder(tmp_path / "elsewhere") as cwd:
        done = pipeline(command, "--run", run_id, "--tracking-uri", uri, *extra, cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert f"run id: {run_id}" in done.stdout
        assert list(cwd.iterdir()) == []


def test_train_in_a_read_only_folder_is_one_message_and_no_run(
    lm_config: Path, trained: tuple[str, str], workdir: Path, tmp_path: Path
) -> None:
    _, uri = trained
    before = statuses(workdir / "mlruns" / "mlflow.db")
    with read_only_folder(tmp_path / "read-only") as cwd:
        own_store = pipeline("train", str(lm_config), cwd=cwd)
        one_error(own_store, f"({cwd / 'mlruns'})", "set tracking.uri (or --tracking-uri)")
        store_elsewhere = pipeline("train", str(lm_config), "--tracking-uri", uri, cwd=cwd)
        one_error(store_elsewhere, f"({cwd / 'mlruns'})", "run from another folder")
    assert statuses(workdir / "mlruns" / "mlflow.db") == before  # no run opened, none RUNNING


@pytest.mark.skipif(not ROOT, reason="mounting a tmpfs needs root (CI runs as root)")
def test_a_full_disk_fails_the_run_and_keeps_the_last_good_checkpoint(
    lm_config: Path, workdir: Path, tmp_path: Path
) -> None:
    bigger = ["model.hidden_size=64", "model.embedding_size=64"]  # pages matter less
    cache = f"data.cache_dir={workdir / 'cache'}"  # outside the small disk
    first = pipeline("train", str(lm_config), *bigger, cache, "trainer.max_epochs=1", cwd=workdir)
    assert first.returncode == 0, first.stderr
    (local,) = (workdir / "mlruns" / "local").iterdir()
    checkpoint = (local / "checkpoints" / "last.ckpt").stat().st_size
    inputs = sum(p.stat().st_size for p in (local / "inputs").rglob("*") if p.is_file())
    # Room for the inputs and the first epoch's best.ckpt and last.ckpt, not for a third copy:
    # the second epoch's (atomic) save runs out of space.
    size = (inputs + checkpoint * 5 // 2) // PAGE * PAGE + 16 * PAGE
    uri = f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"
    with tmpfs(tmp_path / "small-disk", f"size={size}") as cwd:
        done = pipeline(
            "train", str(lm_config), *bigger, cache, "trainer.max_epochs=3", "--tracking-uri", uri,
            cwd=cwd,
        )  # fmt: skip
        one_error(done, "no space left on the device", str(cwd / "mlruns" / "local"))
        (folder,) = (cwd / "mlruns" / "local").iterdir()
        saved = sorted(p.name for p in (folder / "checkpoints").iterdir())
        assert saved == [".lock", "best.ckpt", "last.ckpt"], saved  # no temporary file left
        state = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
        assert state["epoch"] == 0  # the first epoch's, whole
    run = MlflowClient(uri).get_run(folder.name)
    assert run.info.status == "FAILED"
    assert run.data.tags[REASON_TAG] == "disk_full"
