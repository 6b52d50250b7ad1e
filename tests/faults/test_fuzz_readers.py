"""Property-based fuzzing: no input makes the override parser or a file reader raise anything
but the documented :class:`pipeline.errors.UserError` family."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import build_config, parse_overrides
from pipeline.errors import UserError
from pipeline.textfiles import read_lines, read_text
from plugins.initializers import pretrained
from plugins.tasks.classification.readers import FORMATS, ReadSettings, read_examples
from plugins.tasks.tagging.conll import read_conll

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text made of the characters that structure these files, so examples hit the parsers' paths.
_STRUCTURE = st.sampled_from(list("\t\n\r ,\"'=.:{}[]-#\\") + ["\ufeff", "\x00", "-DOCSTART-"])
_TEXT = st.lists(st.one_of(_STRUCTURE, st.text(max_size=6)), max_size=40).map("".join)
_BYTES = st.one_of(st.binary(max_size=200), _TEXT.map(lambda text: text.encode("utf-8")))


def only_user_errors(call: Callable[[], Any]) -> None:
    """Run call; a UserError is a documented outcome, anything else fails the property."""
    try:
        call()
    except UserError as error:
        assert str(error).strip(), "a UserError must carry a message"


def in_file(data: bytes, name: str) -> Path:
    """data written to a fresh file called name (hypothesis runs many examples per test)."""
    path = Path(tempfile.mkdtemp(prefix="fuzz-")) / name
    path.write_bytes(data)
    return path


_KEY = st.lists(
    st.one_of(st.sampled_from(["model", "optim", "cell", "lr", "task", "init", ""]), st.text()),
    min_size=1,
    max_size=4,
).map(".".join)
_OVERRIDE = st.one_of(st.text(), st.tuples(_KEY, _TEXT).map("=".join))


@FUZZ
@given(st.lists(_OVERRIDE, max_size=5))
def test_overrides_parse_or_raise_a_config_error(overrides: list[str]) -> None:
    def parse_and_build() -> None:
        build_config(parse_overrides(overrides))

    only_user_errors(parse_and_build)


@pytest.mark.parametrize(
    "overrides",
    [
        ["optim.lr=[1"],  # YAML that does not parse
        ["optim.lr={a: 1"],
        ["model=1", "model.cell=gru"],  # a scalar, then a key below it
        ["model.cell=gru", "model.cell.x=1"],
        ["task=3"],
        ["model..cell=gru"],
        ["=1"],
    ],
)
def test_override_corner_cases_raise_config_errors(overrides: list[str]) -> None:
    with pytest.raises(UserError):
        build_config(parse_overrides(overrides))


@FUZZ
@given(_BYTES, st.sampled_from(["utf-8", "latin-1", "utf-16", "no-such-codec"]))
def test_text_files_decode_or_raise_a_data_error(data: bytes, encoding: str) -> None:
    path = in_file(data, "train.txt")
    only_user_errors(lambda: read_text(path, encoding, "data.train"))
    only_user_errors(lambda: read_lines(path, encoding, "data.train"))


_SUFFIX = st.sampled_from([".csv", ".tsv", ".jsonl", ".txt", ""])
_LINE_PATTERN = st.sampled_from(
    [None, r"(?P<label>\S+)\t(?P<text>.+)", r"(?P<label>\w)(?P<text>.*)"]
)
_TREC = st.sampled_from(["coarse", "fine"])


@FUZZ
@given(_BYTES, _SUFFIX, st.sampled_from(FORMATS), _LINE_PATTERN, _TREC)
def test_classification_readers_raise_only_data_errors(
    data: bytes, suffix: str, kind: str, pattern: str | None, trec: str
) -> None:
    path = in_file(data, f"train{suffix}")
    read = ReadSettings(format=kind, line_pattern=pattern, trec_labels=trec)
    only_user_errors(lambda: read_examples(path, read, "data.train"))


@FUZZ
@given(_BYTES, st.integers(-4, 4), st.integers(-4, 4))
def test_conll_reader_raises_only_data_errors(data: bytes, word: int, tag: int) -> None:
    path = in_file(data, "train.conll")
    only_user_errors(lambda: read_conll(path, "utf-8", word, tag, "data.train"))


_VECTOR_LINE = st.lists(
    st.one_of(
        st.sampled_from(["a", "b", "the", "2", "3", "nan", "inf", "1e400", "-0.5", "x1"]),
        st.text(max_size=4),
    ),
    max_size=5,
).map(" ".join)
_VECTORS = st.one_of(
    st.lists(_VECTOR_LINE, max_size=6).map(lambda lines: "\n".join(lines).encode("utf-8")),
    st.binary(max_size=120),
)


@FUZZ
@given(_VECTORS)
def test_word_vectors_reader_raises_only_option_errors(data: bytes) -> None:
    path = in_file(data, "vectors.txt")
    embedding = torch.empty(3, 2)
    only_user_errors(lambda: pretrained(embedding, path=str(path), vocab=["a", "b", "the"]))
