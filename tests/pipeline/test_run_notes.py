"""Run names and descriptions that tell runs apart in the MLflow UI; the UI's links."""

from __future__ import annotations

import copy
import json
import urllib.parse

import pytest
from tiny import TINY_CONFIG

from pipeline.config import build_config
from pipeline.plugins import default_registries
from pipeline.run_notes import command_note, short_number
from pipeline.runs import run_name
from pipeline.ui import compare_link, run_link, runs_table_link, ui_root


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.005, "5e-3"), (0.0082, "8.2e-3"), (0.00823, "8.2e-3"), (0.1, "1e-1"), (3.0, "3e0")],
)
def test_short_number_keeps_two_significant_digits(value: float, text: str) -> None:
    assert short_number(value) == text


@pytest.mark.parametrize(
    ("model", "lr", "name"),
    [
        ({"cell": "gru", "num_layers": 1, "hidden_size": 128}, 0.005, "gru-1x128-lr5e-3"),
        (
            {"cell": "lstm", "num_layers": 2, "hidden_size": 200},
            0.001,
            "lstm-2x200-lr1e-3",
        ),
    ],
)
def test_run_name_holds_cell_shape_and_learning_rate(model: dict, lr: float, name: str) -> None:
    raw = copy.deepcopy(TINY_CONFIG)
    raw["model"].update(model)
    raw["optim"]["lr"] = lr
    cfg = build_config(raw, default_registries())
    assert run_name(cfg) == name
    cfg.model.bidirectional = True  # e.g. a classifier's encoder
    assert run_name(cfg) == name.replace("-", "-bi-", 1)


def test_command_note_shows_the_command_line_and_each_override() -> None:
    note = command_note(
        ["train", "conf/x.yaml", "model.cell=gru", "optim.lr=0.003"],
        ["model.cell=gru", "optim.lr=0.003"],
    )
    assert "    pipeline train conf/x.yaml model.cell=gru optim.lr=0.003" in note
    assert "- `model.cell=gru`\n- `optim.lr=0.003`" in note
    assert "(none" in command_note(["train", "x.yaml"], [])


def test_links_point_at_pipeline_ui_or_at_the_tracking_server() -> None:
    assert ui_root("sqlite:///mlruns/mlflow.db") == "http://127.0.0.1:5000/"
    assert ui_root("http://mlflow.lab:5000") == "http://mlflow.lab:5000/"
    root = "http://127.0.0.1:5000/"
    assert run_link(root, "3", "abc") == f"{root}#/experiments/3/runs/abc"
    assert runs_table_link(root, "3").endswith("runs?workflowType=machine_learning")
    link = compare_link(root, "3", ["a1", "b2"])
    fragment = urllib.parse.urlsplit(link.split("#", 1)[1])
    query = urllib.parse.parse_qs(fragment.query)
    assert fragment.path == "/compare-runs"
    assert json.loads(query["runs"][0]) == ["a1", "b2"]
    assert json.loads(query["experiments"][0]) == ["3"]
