"""A catalogue of bad inputs to every command, run through the real ``pipeline`` executable.

Each case must end with exit status 2, one error report on stderr (argparse adds its usage
lines above it), no traceback, and no run in the case's own SQLite store. The cases run as
concurrent subprocesses once per module; each test then checks one recorded outcome.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from tiny import TINY_CONFIG

from plugins.tasks.language_model.demo_corpus import write_demo_corpus

pytestmark = pytest.mark.slow  # about 75 CLI processes (minutes on 2 shared cores)

# {cfg}: a valid tiny LM config; {d}: the folder with the fixture files below.
TRAIN_OVERRIDES = [
    "model.cell=lstn",
    "model.cell=3",
    "model.hidden_size=-4",
    "model.hidden_size=big",
    "model.hiden_size=8",
    "model.num_layers=0",
    "model.dropout=1.5",
    "model.embedding_size=0.5",
    "optim.lr=fast",
    "optim.lr=-1",
    "optim.name=sgdd",
    "optim=adam",
    "trainer.max_epochs=0",
    "trainer.max_epochs=[1, 2]",
    "trainer.accelerator=tpu9",
    "trainer.devices=abc",
    "trainer.strategy=bogus",
    "trainer.threads=-2",
    "data.batch_size=0",
    "data.train=nowhere/train.txt",
    "data.train={d}",
    "data.train={d}/empty.txt",
    "data.train={d}/latin.txt",
    "data.encoding=no-such-codec",
    "data.encodings.valid=latin-1",
    "data.encodings.test=no-such-codec",
    "data.validation={d}/empty.txt",
    "task.name=translation",
    "task.bptt=0",
    "task=3",
    "tokenizer.vocab_size=-1",
    "init.embedding=glove",
    "init.options.embedding.aa=1",
    "init.options.embedding.a=0.5",
    "tracking=none",
    "colour=blue",
    "optim.lr=[1",
    "model=1 model.cell=gru",
    "model.cell=gru model.cell.x=1",
    "novalue",
    "=1",
]
OTHER_CASES = [
    "train {cfg} --tracking-uri",
    "frobnicate",
    "train",
    "train {d}/missing.yaml",
    "train {d}/invalid.yaml",
    "train {d}/list.yaml",
    "train {d}/latin.yaml",
    "train {d}/extends_missing.yaml",
    "train {d}/extends_cycle.yaml",
    "train {d}",
    "train {cfg} --resume 0123abcd",
    "train {cfg} --frobnicate",
    "evaluate",
    "evaluate --run 0123abcd",
    "evaluate --run 0123abcd --split train",
    "predict --run 0123abcd hola",
    "predict --run 0123abcd",
    "predict --run 0123abcd --top-k 0 hola",
    "predict --run 0123abcd --top-k many hola",
    "predict --run 0123abcd --temperature hot hola",
    "tune {cfg}",
    "tune {cfg} --space {d}/missing.yaml",
    "tune {cfg} --space {d}/invalid.yaml",
    "tune {cfg} --space {d}/list.yaml",
    "tune {d}/missing.yaml --space {d}/space.yaml",
    "tune {cfg} --space {d}/space.yaml --n-trials zero",
    "tune {cfg} --space {d}/space.yaml --timeout soon",
    "tune {cfg} --space {d}/space.yaml --workers many",
    "plugins",
    "plugins frobnicate",
    "plugins list --frobnicate",
    "plugins new",
    "ui --port 99999",
    "ui --port http",
    "ui --experiment nope",
    "ui --tracking-uri bogus://nowhere",
    "demo model.cell=lstn",
    "demo novalue",
]
CASES = [f"train {{cfg}} {override}" for override in TRAIN_OVERRIDES] + OTHER_CASES


class Outcome(NamedTuple):
    code: int
    stderr: str
    runs: int


def write_fixture_files(folder: Path) -> Path:
    """The tiny config, its corpus and the bad files the cases name; returns the config."""
    corpus = write_demo_corpus(folder / "corpus", n_train=60, n_valid=10, n_test=10, seed=1)
    data = {**TINY_CONFIG["data"], **{split: str(path) for split, path in corpus.items()}}
    config = folder / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY_CONFIG, "data": data}), encoding="utf-8")
    (folder / "empty.txt").write_text("\n  \n", encoding="utf-8")
    (folder / "latin.txt").write_bytes("El gobierno aprobó .\n".encode("latin-1") * 20)
    (folder / "invalid.yaml").write_text("model: {cell: [lstm\n", encoding="utf-8")
    (folder / "list.yaml").write_text("- model\n- optim\n", encoding="utf-8")
    (folder / "latin.yaml").write_bytes("# año\nmodel: {cell: lstm}\n".encode("latin-1"))
    (folder / "extends_missing.yaml").write_text("extends: gone.yaml\n", encoding="utf-8")
    (folder / "extends_cycle.yaml").write_text("extends: extends_cycle.yaml\n", encoding="utf-8")
    space = "params:\n  optim.lr: {float: [1.0e-4, 1.0e-2], log: true}\n"
    (folder / "space.yaml").write_text(space, encoding="utf-8")
    return config


def run_case(case: str, config: Path, folder: Path, cwd: Path) -> Outcome:
    """Run one case in its own cwd (so its own store), killed after 120 s."""
    cwd.mkdir()
    argv = case.format(cfg=config, d=folder).split()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [shutil.which("pipeline") or f"{sys.prefix}/bin/pipeline", *argv]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return Outcome(done.returncode, done.stderr, count_runs(cwd / "mlruns" / "mlflow.db"))


def count_runs(store: Path) -> int:
    """How many runs the SQLite store holds (0 when no store was made)."""
    if not store.exists():
        return 0
    with sqlite3.connect(store) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
        return (
            connection.execute("select count(*) from runs").fetchone()[0] if "runs" in tables else 0
        )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    folder = tmp_path_factory.mktemp("catalogue")
    config = write_fixture_files(folder)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            case: pool.submit(run_case, case, config, folder, folder / f"case{index}")
            for index, case in enumerate(CASES)
        }
        return {case: future.result() for case, future in futures.items()}


def test_the_catalogue_has_sixty_kinds() -> None:
    assert len(set(CASES)) == len(CASES) >= 60


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_error(outcomes: dict[str, Outcome], case: str) -> None:
    outcome = outcomes[case]
    report = outcome.stderr.strip()
    assert "Traceback" not in report, report
    assert outcome.code == 2, report
    error_lines = [line for line in report.splitlines() if "error: " in line]
    assert len(error_lines) == 1, report
    last_report = report[report.index(error_lines[0]) :]
    assert len(last_report) > len("error: ") + 5, report
    assert outcome.runs == 0, f"{outcome.runs} run(s) left in the store: {report}"
