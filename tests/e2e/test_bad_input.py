"""Bad input: one clear error on stderr, exit status 2, and no run marked FINISHED."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.cli import main
from pipeline.tracking import tracking_uri


def finished_runs() -> list:
    client = MlflowClient(tracking_uri())
    experiment = client.get_experiment_by_name("tests")
    if experiment is None:
        return []
    runs = client.search_runs([experiment.experiment_id])
    assert all(run.info.status != "RUNNING" for run in runs)
    return [run for run in runs if run.info.status == "FINISHED"]


def fails_with(capsys: pytest.CaptureFixture, argv: list[str], *fragments: str) -> str:
    """The command exits 2 with one error report (no traceback) containing fragments."""
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and error.count("error: ") == 1, error
    assert "Traceback" not in error
    for fragment in fragments:
        assert fragment in error
    assert finished_runs() == []
    return error


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("model.cell=lstn", ["model.cell", "Did you mean 'lstm'", "rnn_sigmoid"]),
        ("optim.lr=fast", ["optim.lr", "expected float"]),
        ("model.hiden_size=8", ["model.hiden_size", "did you mean model.hidden_size"]),
        ("trainer.max_epochs=0", ["trainer.max_epochs", "out of range"]),
        ("init.embedding=glove", ["init.embedding", "Available"]),
        ("init.options.embedding.aa=1", ["did you mean init.options.embedding.a?"]),
        ("init.options.embedding.a=0.5", ["init.options.embedding", "a < b"]),
    ],
)
def test_config_errors_stop_before_any_run(lm_config: Path, capsys, override, fragments) -> None:
    fails_with(capsys, ["train", str(lm_config), override], *fragments)
    assert not (lm_config.parent / ".cache").exists()  # no data was read


def test_missing_data_file(lm_config: Path, capsys) -> None:
    fails_with(
        capsys,
        ["train", str(lm_config), "data.train=nowhere/train.txt"],
        "data.train",
        "nowhere/train.txt",
    )


def test_empty_corpus(lm_config: Path, workdir: Path, capsys) -> None:
    empty = workdir / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    fails_with(capsys, ["train", str(lm_config), f"data.train={empty}"], "data.train", "empty.txt")


def test_file_that_is_not_utf8(lm_config: Path, workdir: Path, capsys) -> None:
    latin = workdir / "latin.txt"
    latin.write_bytes("El gobierno aprobó un decreto .\n".encode("latin-1") * 50)
    fails_with(
        capsys, ["train", str(lm_config), f"data.train={latin}"], "latin.txt", "data.encoding"
    )


def test_unknown_run_id(workdir: Path, capsys) -> None:
    for argv in (["predict", "--run", "0123abcd", "hola"], ["evaluate", "--run", "0123abcd"]):
        fails_with(capsys, argv, "0123abcd", "does not exist")


def test_missing_config_file(workdir: Path, capsys) -> None:
    fails_with(capsys, ["train", "conf/nope.yaml"], "conf/nope.yaml")


def test_tracking_uri_that_mlflow_refuses(lm_config: Path, capsys) -> None:
    fails_with(
        capsys, ["train", str(lm_config), "--tracking-uri", "bogus://x"], "bogus://x", "sqlite:///"
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["predict", "--run", "0123abcd", "--top-k", "0", "hola"], "--top-k must be at least 1"),
        (["tune", "c.yaml", "--space", "s.yaml", "--n-trials", "0"], "--n-trials must be"),
        (["tune", "c.yaml", "--space", "s.yaml", "--workers", "0"], "--workers must be"),
    ],
)
def test_option_out_of_range(workdir: Path, capsys, argv, fragment) -> None:
    fails_with(capsys, argv, fragment)


@pytest.fixture
def space(workdir: Path) -> Path:
    path = workdir / "space.yaml"
    path.write_text("params:\n  optim.lr: {float: [0.001, 0.1]}\n", encoding="utf-8")
    return path


def test_space_file_that_is_not_yaml(lm_config: Path, space: Path, capsys) -> None:
    space.write_text("params:\n  optim.lr: {float: [0.001, 0.1]\n", encoding="utf-8")
    fails_with(capsys, ["tune", str(lm_config), "--space", str(space)], "space.yaml", "YAML")


def test_storage_url_optuna_cannot_open(lm_config: Path, space: Path, capsys) -> None:
    argv = ["tune", str(lm_config), "--space", str(space), "--storage", "nowhere"]
    fails_with(capsys, argv, "--storage 'nowhere'", "postgresql://")


def test_a_bug_is_not_disguised_as_bad_input(workdir: Path, monkeypatch) -> None:
    """Only UserError is the user's: anything else keeps its traceback (exit status 1)."""

    def broken_command(args: object) -> int:
        raise ValueError("a bug inside a library")

    monkeypatch.setattr("pipeline.cli.cmd_evaluate", broken_command)
    with pytest.raises(ValueError, match="a bug inside a library"):
        main(["evaluate", "--run", "0123abcd"])


@pytest.mark.parametrize(
    ("override", "fragment"),
    [("trainer.strategy=bogus", "strategy='bogus'"), ("trainer.devices=abc", "devices='abc'")],
)
def test_trainer_settings_lightning_refuses(lm_config: Path, capsys, override, fragment) -> None:
    fails_with(capsys, ["train", str(lm_config), override], fragment, "trainer.*")
