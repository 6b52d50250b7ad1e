"""Atomic writes: a failure or a full disk leaves the previous file whole and no litter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pipeline.atomic import atomic_writer, write_text
from pipeline.atomic_checkpoint_io import AtomicCheckpointIO


def test_write_text_replaces_the_file_with_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("old\n")
    write_text(target, "new: 1\n")
    assert target.read_text() == "new: 1\n"
    assert os.listdir(tmp_path) == ["config.yaml"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_an_error_while_writing_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "facts.json"
    target.write_text("whole")
    with pytest.raises(RuntimeError), atomic_writer(target, "w", "utf-8") as handle:
        handle.write("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "whole"
    assert os.listdir(tmp_path) == ["facts.json"]


def test_a_full_disk_keeps_the_old_file(tmp_path: Path) -> None:
    """A real write failure: the file size limit makes write() fail with EFBIG, as ENOSPC does."""
    target = tmp_path / "report.txt"
    target.write_text("whole")
    code = (
        "import resource, signal, sys; from pipeline.atomic import write_text\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "write_text(sys.argv[1], 'x' * 1_000_000)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "File too large" in result.stderr
    assert target.read_text() == "whole"
    assert os.listdir(tmp_path) == ["report.txt"]


def test_lightning_checkpoints_are_saved_atomically(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(2)}}, target)
    assert torch.equal(torch.load(target, weights_only=True)["state_dict"]["w"], torch.ones(2))
    with pytest.raises(Exception, match="pickle"):
        io.save_checkpoint({"state_dict": {}, "unsaveable": lambda: None}, target)
    assert torch.equal(torch.load(target, weights_only=True)["state_dict"]["w"], torch.ones(2))
    assert os.listdir(tmp_path) == ["last.ckpt"]
