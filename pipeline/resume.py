"""``--resume`` checked before the run is touched: not training elsewhere, the same network and
data, a usable checkpoint.

The checks read the run and never write it, so a resume they refuse leaves the run exactly as
it was (a FINISHED run stays FINISHED, its params untouched).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mlflow.entities import Run

from pipeline import config as config_module
from pipeline.checkpoints import RunBusy, check_run_id, verified_checkpoint
from pipeline.config import Config
from pipeline.errors import UserError
from pipeline.heartbeat import HEARTBEAT_TAG, now_ms
from pipeline.plugins import Registries
from pipeline.repair import is_stale
from pipeline.runs import checkpoint_dir, fetch_run_files, is_launched_rank, local_dir
from pipeline.tracking import Tracker

FIXED_KEYS = ("seed", "task.", "data.", "tokenizer.", "model.", "init.", "optim.")
"""Keys a resumed run keeps: they shape its network, its data or its optimizer's saved state."""
FREE_KEYS = frozenset({"data.cache_dir", "data.num_workers"})
"""Keys under FIXED_KEYS that change neither (where and how the same data is read)."""
FALLBACKS = ("last.ckpt", "best.ckpt")
log = logging.getLogger(__name__)


class ResumeConflict(UserError):
    """A --resume whose config changes keys that the run was trained with."""


class NoUsableCheckpoint(UserError):
    """A --resume of a run none of whose checkpoints can be loaded."""


def check_resume(tracker: Tracker, cfg: Config, registries: Registries, run_id: str) -> Path:
    """The checkpoint to resume run_id from, after checking cfg against the run's config."""
    run = tracker.get_run(check_run_id(run_id))
    if not is_launched_rank():  # other ranks resume the run that rank 0 has just reopened
        _refuse_if_alive_elsewhere(run)
    logged = fetch_run_files(tracker, run_id, "config.yaml")
    raw = config_module.load_yaml(logged.read_text(encoding="utf-8"))
    changed = changed_keys(config_module.build_config(raw, registries), cfg)
    if changed:
        listed = ", ".join(f"{key} ({old!r} -> {new!r})" for key, (old, new) in changed.items())
        raise ResumeConflict(
            f"--resume {run_id}: the config changes {listed}, which the run was trained with; "
            "a resumed run keeps its network, data and optimizer (trainer.* and tracking.* may "
            "change). Drop those overrides, or train a new run without --resume"
        )
    return usable_checkpoint(tracker, run_id)


def _refuse_if_alive_elsewhere(run: Run) -> None:
    """A RUNNING run that still beats and was never trained here is training on another
    machine (one trained here is guarded by its run folder's lock instead)."""
    run_id = run.info.run_id
    if run.info.status != "RUNNING" or checkpoint_dir(run_id).is_dir():
        return
    beat = run.data.tags.get(HEARTBEAT_TAG)
    if beat is not None and not is_stale(run):
        seconds = max(0.0, (now_ms() - int(beat)) / 1000)
        raise RunBusy(
            f"run {run_id} is RUNNING and beat {seconds:.0f} s ago: it is still training "
            "elsewhere (another machine or folder); wait for it to end or stop it, then resume"
        )


def changed_keys(logged: Config, new: Config) -> dict[str, tuple[Any, Any]]:
    """Fixed keys whose value differs between the run's config and the new one: old, new."""
    before = config_module.flatten(config_module.to_dict(logged))
    after = config_module.flatten(config_module.to_dict(new))
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if key.startswith(FIXED_KEYS) and key not in FREE_KEYS and before.get(key) != after.get(key)
    }


def usable_checkpoint(tracker: Tracker, run_id: str) -> Path:
    """last.ckpt (local, else the logged copy), else best.ckpt, each verified and loaded.

    Falling back to best.ckpt says so: the epochs after the best one are trained again.
    """
    problems: list[str] = []
    for name in FALLBACKS:
        try:
            path, _ = verified_checkpoint(
                tracker, run_id, checkpoint_dir(run_id) / name, local_dir(run_id) / "downloaded"
            )
        except UserError as error:  # damaged, tampered with, or never logged
            problems.append(f"{name}: {error}")
            continue
        if problems:
            log.warning("%s; resuming run %s from %s instead", "; ".join(problems), run_id, path)
        return path
    raise NoUsableCheckpoint(
        f"run {run_id} has no usable checkpoint to resume from ({'; '.join(problems)}); "
        "nothing was changed. Train a new run without --resume"
    )
