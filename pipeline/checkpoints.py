"""Checkpoints that never run code: checked run ids, confined folders, checksums, safe loading.

Unpickling a file with torch's full unpickler runs whatever the pickle says (PITFALLS.md), so
every checkpoint is loaded in torch's weights-only mode: tensors and plain containers only.
Each logged checkpoint's sha256 is a tag of its run; a file that does not match it is never loaded.
A local copy that is corrupt or differs is replaced by the run's logged copy, saying so.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline import atomic
from pipeline.errors import UserError
from pipeline.locks import held_if_free
from pipeline.tracking import Tracker

RUN_ID = re.compile(r"[0-9a-f]{32}")  # MLflow's run ids: uuid4().hex
FOLDER_NAME = re.compile(r"[A-Za-z0-9_-]*")  # no separator, no dot: never leaves its root
CHECKSUM_TAG = "checkpoint.sha256.{name}"  # e.g. checkpoint.sha256.best.ckpt
LOCAL_CHECKSUM_TAG = "checkpoint.local_sha256.{name}"
"""The last local save of a checkpoint, which may be newer than its logged copy (a run killed
after more epochs than it last logged)."""
ARTIFACT_FOLDER = "checkpoints"
log = logging.getLogger(__name__)


class UnsafeCheckpoint(UserError):
    """A checkpoint that does not match its recorded checksum, or holds more than data."""


class RunBusy(UserError):
    """A run folder another process is writing (e.g. the run is still training)."""


def check_run_id(run_id: str) -> str:
    """run_id when it has MLflow's format (32 lowercase hex digits); else a UserError."""
    if not RUN_ID.fullmatch(run_id):
        raise UserError(
            f"run {run_id!r} does not exist: a run id is 32 hex digits (copy one from "
            "`pipeline train` output or the MLflow UI)"
        )
    return run_id


def confined_run_dir(root: Path, name: str) -> Path:
    """root/name, refused unless name is one plain folder name resolving inside root.

    name is a run id, or a fixed name such as ``tune``; an empty name gives root itself (a
    DDP rank that torchrun started learns its run id once the process group exists).
    """
    if not FOLDER_NAME.fullmatch(name):
        raise UserError(f"{name!r} is not a run id: MLflow run ids are 32 hex digits")
    root = root.resolve()
    folder = (root / name).resolve()
    if folder != root and folder.parent != root:  # e.g. a symlink planted to elsewhere
        raise UserError(f"the run folder {root / name} leads outside {root}; remove it")
    return folder


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def log_checkpoint(tracker: Tracker, run_id: str, path: Path) -> None:
    """Log path as the run's checkpoint artifact, with its sha256 as a tag."""
    tracker.set_tags(run_id, {CHECKSUM_TAG.format(name=path.name): sha256(path)})
    tracker.log_artifact(run_id, path, ARTIFACT_FOLDER)


def record_local_checksum(tracker: Tracker, run_id: str, path: Path, digest: str) -> None:
    """Record digest, the sha256 of path's content about to be saved, with the previous one
    (``NEW,OLD``): the local file verifies whether or not the save got to replace it."""
    key = LOCAL_CHECKSUM_TAG.format(name=path.name)
    previous = tracker.get_run(run_id).data.tags.get(key, "").split(",")[0]
    tracker.set_tags(run_id, {key: f"{digest},{previous}" if previous else digest})


def load_weights_only(path: Path) -> dict[str, Any]:
    """The checkpoint at path as tensors and plain data; a UserError if it holds anything else."""
    import torch

    try:
        loaded: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        return loaded
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpoint(
            f"{path} holds objects other than tensors and plain data; it was not loaded, "
            "since unpickling them could run code. Use a checkpoint this pipeline wrote"
        ) from error
    except (RuntimeError, EOFError, OSError) as error:
        raise UnsafeCheckpoint(f"{path} is not a readable checkpoint ({error})") from error


def verified_checkpoint(
    tracker: Tracker, run_id: str, local: Path, downloads: Path
) -> tuple[Path, dict[str, Any]]:
    """The run's checkpoint named local.name, checked and loaded: (path, content).

    The local file is used when it matches the sha256 recorded at its last local save (else at
    its logging; or none is recorded) and loads as data; otherwise the run's logged copy,
    downloaded into downloads, must match the sha256 recorded when it was logged.
    """
    tags = tracker.get_run(run_id).data.tags
    expected = tags.get(CHECKSUM_TAG.format(name=local.name))
    if local.is_file():
        try:
            saved = tags.get(LOCAL_CHECKSUM_TAG.format(name=local.name), expected)
            return local, _checked(local, saved)
        except UnsafeCheckpoint as error:
            log.warning("%s; using the copy logged in run %s instead", error, run_id)
    copy = _download(tracker, run_id, f"{ARTIFACT_FOLDER}/{local.name}", downloads)
    return copy, _checked(copy, expected)


def _checked(path: Path, expected: str | None) -> dict[str, Any]:
    """path's content, when its sha256 is one of expected's (comma-separated) or none is."""
    if expected is not None and sha256(path) not in expected.split(","):
        raise UnsafeCheckpoint(
            f"{path} does not match the sha256 recorded when it was logged (tampered with or "
            "damaged); it was not loaded"
        )
    return load_weights_only(path)


def _download(tracker: Tracker, run_id: str, artifact: str, downloads: Path) -> Path:
    """The artifact downloaded to downloads/artifact, replaced atomically (never half there)."""
    target = downloads / artifact
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".download-") as staging:
        atomic.move_into_place(tracker.download(run_id, artifact, Path(staging)), target)
    return target


@contextmanager
def run_folder_lock(folder: Path) -> Iterator[None]:
    """Hold folder's lock for the with block: one process writes a run's checkpoints at a time.

    A second process (``--resume`` of a run that is still training) is refused at once.
    """
    with held_if_free(folder / ".lock") as held:
        if not held:
            raise RunBusy(
                f"another process is writing {folder} (is the run still training?); wait for "
                "it to end or stop it, then resume"
            )
        yield
