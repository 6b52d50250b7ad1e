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


# --- mojibake -----------------------------------------------------------------------------------


def test_a_utf8_file_read_as_latin1_warns_once_naming_the_split_setting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "valid.txt"
    path.write_text("El gobierno aprobó un decreto\n", encoding="utf-8")
    assert read_text(path, "latin-1", "data.validation") == "El gobierno aprobÃ³ un decreto\n"
    read_text(path, "latin-1", "data.validation")  # the preflight and the task both read it
    warnings = [r.getMessage() for r in caplog.records if "valid UTF-8" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert str(path) in warnings[0] and "data.encodings.validation" in warnings[0]


@pytest.mark.parametrize(
    ("text", "encoding", "file_encoding"),
    [
        ("El gobierno aprobó un decreto\n", "latin-1", "latin-1"),  # a true latin-1 file
        ("plain ascii only\n", "latin-1", "utf-8"),  # reads the same either way
        ("El gobierno aprobó un decreto\n", "utf-8", "utf-8"),
    ],
)
def test_no_mojibake_warning_when_the_reading_is_right(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, encoding: str, file_encoding: str
) -> None:
    path = tmp_path / f"{encoding}-{file_encoding}-{text.isascii()}.txt"
    path.write_text(text, encoding=file_encoding)
    assert read_text(path, encoding, "data.train") == text
    assert "valid UTF-8" not in caplog.text


def test_undecodable_bytes_name_the_per_split_setting(tmp_path: Path) -> None:
    path = tmp_path / "test.txt"
    path.write_bytes("niño\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"data\.encodings\.test, for this file alone"):
        read_text(path, "utf-8", "data.test")
