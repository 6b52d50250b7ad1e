"""Inputs checked before a run opens: a bad one leaves no run at all in the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.cli import main
from pipeline.tracking import tracking_uri


def all_runs() -> list:
    client = MlflowClient(tracking_uri())
    experiments = client.search_experiments()
    return client.search_runs([e.experiment_id for e in experiments]) if experiments else []


def fails_without_run(capsys: pytest.CaptureFixture, argv: list[str], *fragments: str) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in error, error
    assert all_runs() == []


def test_undecodable_data_file_opens_no_run(lm_config: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "latin.txt"
    bad.write_bytes("caf\u00e9 au lait\n".encode("latin-1"))
    fails_without_run(
        capsys,
        ["train", str(lm_config), f"data.validation={bad}"],
        "data.validation",
        "not valid utf-8",
        "data.encoding",
    )


def test_data_folder_opens_no_run(lm_config: Path, tmp_path: Path, capsys) -> None:
    fails_without_run(
        capsys, ["train", str(lm_config), f"data.test={tmp_path}"], "data.test", "is not a file"
    )


def test_empty_experiment_opens_no_run(lm_config: Path, capsys) -> None:
    fails_without_run(
        capsys, ["train", str(lm_config), "tracking.experiment= "], "tracking.experiment"
    )


def test_empty_data_file_opens_no_run(lm_config: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "blank.txt"
    empty.write_text("\n   \n", encoding="utf-8")
    fails_without_run(
        capsys, ["train", str(lm_config), f"data.validation={empty}"], "data.validation", "is empty"
    )


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("trainer.accelerator=tpu9", "invalid accelerator name"),
        ("trainer.devices=abc", "devices"),
        ("trainer.strategy=bogus", "invalid strategy name"),
    ],
)
def test_trainer_settings_lightning_refuses_open_no_run(
    lm_config: Path, capsys, override: str, fragment: str
) -> None:
    fails_without_run(
        capsys, ["train", str(lm_config), override], "Lightning refuses the trainer", fragment
    )


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("data.encodings.valid=latin-1", "data.encodings.valid: not a split"),
        ("data.encodings.test=no-such-codec", "data.encodings.test: unknown encoding"),
    ],
)
def test_bad_per_split_encodings_open_no_run(
    lm_config: Path, capsys, override: str, fragment: str
) -> None:
    fails_without_run(capsys, ["train", str(lm_config), override], fragment)
