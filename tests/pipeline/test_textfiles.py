"""Behaviour tests for decoding data files with errors that name the key, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import DataError, UserError
from pipeline.textfiles import location, numbered_lines, read_lines, read_text

# --- read_lines ---------------------------------------------------------------------------------


def test_read_lines_strips_and_drops_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbf first \r\n\n   \n\tsecond line\nlast")
    assert read_lines(path, "utf-8", "data.train") == ["first", "second line", "last"]


def test_read_lines_missing_file_and_directory_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.validation: file .*nope\.txt.* does not exist"):
        read_lines(tmp_path / "nope.txt", "utf-8", "data.validation")
    with pytest.raises(DataError, match=r"data\.train: .* is not a file"):
        read_lines(tmp_path, "utf-8", "data.train")


def test_read_lines_undecodable_bytes_suggest_data_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("uno\nniño pequeño\n".encode("latin-1"))
    with pytest.raises(DataError) as caught:
        read_lines(path, "utf-8", "data.train")
    message = str(caught.value)
    assert "data.encoding" in message and "latin.txt" in message
    assert "offset 6" in message and "line 2" in message
    assert read_lines(path, "latin-1", "data.train") == ["uno", "niño pequeño"]


def test_unknown_encoding_names_data_encoding(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"data\.encoding: unknown encoding"):
        read_lines(path, "no-such-codec", "data.train")


def test_read_text_drops_the_bom_keeps_blank_lines_and_names_the_kind(tmp_path: Path) -> None:
    path = tmp_path / "a.conll"
    path.write_bytes(b"\xef\xbb\xbfPe\xc3\xb1a B-PER\n\nvino O\n")
    assert read_text(path, "utf-8", "data.train") == "Peña B-PER\n\nvino O\n"
    with pytest.raises(DataError, match=r"data\.test: file .*gone.* set data\.test to a CoNLL"):
        read_text(tmp_path / "gone", "utf-8", "data.test", kind="a CoNLL file")


def test_data_errors_are_user_errors_and_value_errors() -> None:
    assert issubclass(DataError, UserError) and issubclass(DataError, ValueError)


def test_numbered_lines_count_from_one_and_keep_blank_lines_on_request() -> None:
    text = "a\n\n  b  \r\n"
    assert list(numbered_lines(text)) == [(1, "a"), (3, "b")]
    assert list(numbered_lines(text, skip_blank=False)) == [(1, "a"), (2, ""), (3, "b"), (4, "")]


def test_location_names_key_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    assert location("data.train", path) == f"data.train: file {str(path)!r}"
    assert location("data.train", path, 7) == f"data.train: file {str(path)!r}, line 7"
