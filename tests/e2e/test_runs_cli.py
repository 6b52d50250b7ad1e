"""`pipeline runs list|compare` on a real SQLite store (runs written through the Tracker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_json import run_json

from pipeline.cli import main
from pipeline.tracking import Tracker


def make_run(tracker: Tracker, name: str, cell: str, val_ppl: float | None, exp="demo") -> str:
    run_id = tracker.create_run(exp, name, {})
    tracker.log_params(run_id, {"model.cell": cell, "optim.lr": "0.01", "seed": 42})
    if val_ppl is not None:
        for epoch, factor in ((1, 2.0), (2, 1.0)):
            tracker.log_metrics(run_id, {"val_ppl": val_ppl * factor}, epoch)
    tracker.end(run_id, "FINISHED")
    return run_id


@pytest.fixture
def runs(workdir: Path) -> dict[str, str]:
    tracker = Tracker()
    return {
        "lstm": make_run(tracker, "lstm-1x16-lr1e-2", "lstm", 30.0),
        "gru": make_run(tracker, "gru-1x16-lr1e-2", "gru", 20.0),
        "broken": make_run(tracker, "gru-1x16-lr1e-2", "gru", None),
    }


def test_list_sorts_by_a_metric_with_runs_lacking_it_last(runs, capsys) -> None:
    listed = run_json(capsys, "runs", "list", "--sort", "val_ppl")
    assert listed["experiment"] == "demo"
    assert [r["run_id"] for r in listed["runs"]] == [runs["gru"], runs["lstm"], runs["broken"]]
    assert listed["runs"][0]["metrics"] == {"val_ppl": 20.0}  # the latest value, as the UI's
    descending = run_json(capsys, "runs", "list", "--sort", "val_ppl", "--descending")
    assert [r["run_id"] for r in descending["runs"]][:2] == [runs["lstm"], runs["gru"]]


def test_list_prints_an_aligned_table(runs, capsys) -> None:
    capsys.readouterr()
    assert main(["runs", "list", "--experiment", "demo", "--sort", "val_ppl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "experiment demo: 3 runs"
    header, first = lines[1], lines[2]
    assert header.split() == ["run_id", "name", "status", "started", "val_ppl"]
    assert first.startswith(runs["gru"]) and first.endswith(" 20")
    assert header.index("name") == first.index("gru-1x16-lr1e-2")  # columns line up
    assert len({len(line) for line in lines[2:]}) == 1  # the metric column is right-aligned


def test_compare_shows_only_differing_params_and_every_metric(runs, capsys) -> None:
    compared = run_json(capsys, "runs", "compare", runs["lstm"], runs["gru"])
    assert compared["params"] == {"model.cell": ["lstm", "gru"]}  # optim.lr, seed: the same
    assert compared["metrics"] == {"val_ppl": [30.0, 20.0]}
    capsys.readouterr()
    assert main(["runs", "compare", runs["lstm"], runs["gru"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["lstm-1x16-lr1e-2", "gru-1x16-lr1e-2"]
    cell = next(line for line in lines if line.startswith("model.cell"))
    assert cell.split() == ["model.cell", "lstm", "gru"]
    assert cell.index("lstm") == lines[0].index("lstm-1x16")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "compare", "0" * 32], "at least two run ids"),
        (["runs", "compare", "0" * 32, "1" * 32], "does not exist"),
        (["runs", "compare", "nope", "1" * 32], "32 hex digits"),
        (["runs", "list", "--experiment", "nope"], "--experiment is one of: Default, demo"),
        (["runs", "list", "--sort", "bleu"], "one of: val_ppl"),
    ],
)
def test_mistakes_exit_2_naming_the_fix(runs, capsys, argv: list[str], message: str) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_list_on_an_empty_store_says_to_train_first(workdir, capsys) -> None:
    assert main(["runs", "list"]) == 2
    assert "train one" in capsys.readouterr().err
