"""`pipeline plugins check --deep`: the conformance checks on installed plugins, one line per
plugin, non-zero exit when a clause breaks; and ``check_tokenizer`` on a broken tokenizer."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest
import torch
from broken_cells import TWO_STATE_CELL

from pipeline.cli import main
from pipeline.testing import check_tokenizer
from plugins.tokenizers import WordTokenizer


@pytest.fixture
def state_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterable[None]:
    """An installed distribution ``state-cells 1.0`` with the cell ``two_state``."""
    (tmp_path / "state_cells.py").write_text(textwrap.dedent(TWO_STATE_CELL), encoding="utf-8")
    info = tmp_path / "state_cells-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: state-cells\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[rnn_pipeline.cells]\ntwo_state = state_cells:TwoStateCell\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    import sys

    sys.modules.pop("state_cells", None)


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = main(["plugins", "check", "--deep", *argv])
    return status, capsys.readouterr().out.strip().splitlines()


def test_plugins_passing_their_checks_exit_0_one_line_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines = check(capsys, "cells:test_good_cell", "zeros", "tokenizers:word")
    assert status == 0, lines
    assert [line.split(": ")[0] for line in lines] == [
        "ok           cells:test_good_cell (rnn-pipeline-testplugins 0.0.1)",
        "ok           initializers:zeros (rnn-pipeline 0.1.0)",
        "ok           tokenizers:word (rnn-pipeline 0.1.0)",
    ]


def test_a_cell_breaking_the_state_contract_fails_naming_the_clause(
    state_dist: None, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = check(capsys, "two_state", "cells:test_good_cell")
    assert status == 1
    assert lines[0] == (
        "failed       cells:two_state (state-cells 1.0): forward returns the new state: the "
        "state is a list of state_size=2 tensors (expected: list of 2, actual: list of 1)"
    )
    assert lines[1].startswith("ok           cells:test_good_cell")


def test_a_plugin_that_fails_to_load_is_one_failed_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines = check(capsys, "test_broken_cell")
    assert status == 1 and len(lines) == 1
    assert "failed to import: ImportError" in lines[0] and lines[0].startswith("failed ")


def test_unknown_plugin_names_suggest_close_matches(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["plugins", "check", "--deep", "cells:lstn"]) == 2
    err = capsys.readouterr().err
    assert "'lstn'" in err and "lstm" in err, err


def test_names_without_deep_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "check", "lstm"]) == 2
    assert "NAME arguments need --deep" in capsys.readouterr().err


@pytest.mark.slow
def test_a_builtin_task_is_checked_on_generated_data(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = check(capsys, "tasks:language_model", "--no-ddp")
    assert status == 0
    assert lines == [
        "ok           tasks:language_model (rnn-pipeline 0.1.0): ddp=False: sharding and "
        "metric reduction under DDP not checked"
    ]


class KeepsEos(WordTokenizer):
    kind = "keeps_eos"

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.id_to_token(i) for i in ids if i != self.pad_id)


def test_check_tokenizer_names_the_broken_clause() -> None:
    with pytest.raises(AssertionError, match="contract clause broken: decode drops <eos> and"):
        check_tokenizer(KeepsEos)


NEEDY_ENCODER = """
from plugins.image_encoders.small_cnn import SmallCNN


class NeedyEncoder(SmallCNN):
    def __init__(self, palette: str, **options):
        super().__init__(**options)
"""


def test_image_encoders_are_checked_or_say_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "needy_encoders.py").write_text(NEEDY_ENCODER, encoding="utf-8")
    info = tmp_path / "needy_encoders-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: needy-encoders\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[rnn_pipeline.image_encoders]\nneedy = needy_encoders:NeedyEncoder\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    status, lines = check(capsys, "image_encoders:needy", "small_cnn")
    assert status == 0, lines
    assert lines == [
        "not checked  image_encoders:needy (needy-encoders 1.0): it has required options and "
        "none are generated for it: call pipeline.testing.check_image_encoder(Encoder, "
        "**options) in its own tests",
        "ok           image_encoders:small_cnn (rnn-pipeline 0.1.0): "
        + (
            ""
            if torch.cuda.is_available()
            else "no CUDA device: .to(device) checked for dtype only; "
        )
        + "no 'weights' option: loading a weights file not checked",
    ]
