"""The SQLite tracking store under faults: simultaneous first runs, half-made schemas."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.sqlite_store import BrokenStore
from pipeline.tracking import Tracker


def store_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}"


@pytest.mark.slow
def test_simultaneous_first_runs_in_a_fresh_folder_all_finish(
    lm_config: Path, tmp_path: Path
) -> None:
    """4 `pipeline train` started at once on no store, 5 times: 20/20 FINISHED."""
    finished = 0
    for attempt in range(5):
        folder = tmp_path / f"fresh{attempt}"
        folder.mkdir()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "train", str(lm_config), "--json"],
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outputs = [process.communicate(timeout=600) for process in processes]
        for process, (stdout, stderr) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, stderr[-3000:]
            run_id = json.loads(stdout)["run_id"]
            run = MlflowClient(store_uri(folder)).get_run(run_id)
            finished += run.info.status == "FINISHED"
        experiment = MlflowClient(store_uri(folder)).get_experiment_by_name("tests")
        runs = MlflowClient(store_uri(folder)).search_runs([experiment.experiment_id])
        assert len(runs) == 4
    assert finished == 20


def add_leftover_table(db: Path, table: str) -> None:
    """What a migration killed mid-copy leaves: alembic's temporary copy of table."""
    with sqlite3.connect(db) as connection:
        connection.execute(f"CREATE TABLE _alembic_tmp_{table} AS SELECT * FROM {table}")
    connection.close()


def set_schema_version(db: Path, version: str) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (version,))
    connection.close()


def test_a_leftover_migration_table_is_dropped_and_runs_kept(tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    run_id = Tracker(uri).create_run("exp", "kept", {})
    add_leftover_table(tmp_path / "mlruns" / "mlflow.db", "tags")
    tracker = Tracker(uri)
    assert tracker.get_run(run_id).info.run_name == "kept"
    tracker.set_tags(run_id, {"after": "repair"})  # the store is writable again
    assert tracker.get_run(run_id).data.tags["after"] == "repair"


def test_a_half_made_store_without_runs_is_moved_aside_and_recreated(tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    # made by another process: this one's MLflow would keep its engine on the moved file
    code = f"from pipeline.tracking import Tracker; Tracker({uri!r}).experiment_id('exp')"
    subprocess.run([sys.executable, "-c", code], check=True)
    db = tmp_path / "mlruns" / "mlflow.db"
    set_schema_version(db, "0a8213491aaa")  # an early revision: the migration stopped there
    add_leftover_table(db, "experiments")
    run_id = Tracker(uri).create_run("exp", "fresh", {})
    assert Tracker(uri).get_run(run_id).info.run_name == "fresh"
    kept = list((tmp_path / "mlruns").glob("mlflow.db.broken-*"))
    assert len(kept) == 1, "the broken file is kept, never deleted"


def test_a_half_made_store_with_runs_is_never_touched(tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    Tracker(uri).create_run("exp", "precious", {})
    db = tmp_path / "mlruns" / "mlflow.db"
    set_schema_version(db, "0a8213491aaa")
    before = db.read_bytes()
    with pytest.raises(BrokenStore, match=r"holds 1 runs.*mlflow db upgrade"):
        Tracker(uri).get_run("0" * 32)
    assert db.read_bytes() == before
