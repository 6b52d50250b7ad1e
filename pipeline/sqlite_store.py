"""Opening MLflow's SQLite store safely: one creator at a time, half-made schemas repaired.

Several processes creating a fresh store at once race in MLflow's schema migration (alembic);
one race left a ``_alembic_tmp_tags`` table behind and every later command failed with "table
_alembic_tmp_tags already exists" (PITFALLS.md, MLflow). A file lock beside the database makes
the first opening (schema creation) one process at a time; under it, a schema that a killed
migration left half-made is repaired, or, when it holds no run, moved aside for a fresh one.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from pipeline.errors import UserError
from pipeline.locks import LockTimeout, file_lock

LOCK_TIMEOUT_S = 600.0  # creating the schema takes seconds; a lock held longer is stuck
TMP_PREFIX = "_alembic_tmp_"  # alembic's copy of a table during a SQLite batch migration
log = logging.getLogger(__name__)


class BrokenStore(UserError):
    """A tracking database whose schema is neither complete nor safely repairable."""


def open_sqlite_client(uri: str) -> MlflowClient:
    """An MlflowClient on ``sqlite:///PATH``, its schema created or repaired under a file lock."""
    path = Path(uri.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = file_lock(Path(f"{path}.lock"), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            repair(path)
            return MlflowClient(tracking_uri=uri)  # creates the tables when missing
    except LockTimeout as error:
        raise BrokenStore(
            f"waited {LOCK_TIMEOUT_S:.0f} s for {lock.lock_file} (another process creating the "
            "store); if no pipeline process is running, delete that lock file"
        ) from error


def repair(path: Path) -> None:
    """Make a half-made store at path usable again; call with the store's lock held.

    Leftover alembic copies of a table that still exists are dropped (the migration that made
    them never finished). A store whose schema is still incomplete is moved aside when it has
    no run (a fresh one is created in its place); one with runs is never touched.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = _tables(db)
        for name in sorted(t for t in tables if t.startswith(TMP_PREFIX)):
            if name.removeprefix(TMP_PREFIX) in tables:
                db.execute(f'DROP TABLE "{name}"')
                log.warning("dropped %s left by an interrupted migration in %s", name, path)
        db.commit()
        tables = _tables(db)
        problem = _schema_problem(db, tables)
        runs = _count_runs(db, tables)
    if problem is None:
        return
    if runs:
        raise BrokenStore(
            f"the tracking store {path} is not usable ({problem}) and holds {runs} runs: back it "
            f"up, then run `mlflow db upgrade sqlite:///{path}`, or point tracking.uri elsewhere"
        )
    aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(aside)
    log.warning("%s had a half-made schema (%s) and no run: moved to %s", path, problem, aside)


def _schema_problem(db: sqlite3.Connection, tables: set[str]) -> str | None:
    """Why the schema is incomplete, or None when it is complete (or not started at all)."""
    if not tables:
        return None
    leftovers = sorted(t for t in tables if t.startswith(TMP_PREFIX))
    if leftovers:
        return f"leftover migration tables {', '.join(leftovers)}"
    if "alembic_version" not in tables:
        return "no schema version"
    from mlflow.store.db.utils import _get_latest_schema_revision

    row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    found = row[0] if row else None
    head = _get_latest_schema_revision()  # type: ignore[no-untyped-call]  # MLflow's own
    return None if found == head else f"schema version {found}, expected {head}"


def _count_runs(db: sqlite3.Connection, tables: set[str]) -> int:
    return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] if "runs" in tables else 0


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
