"""Decoding data files so that every failure names the config key, the file and the line.

A task's file reader starts from :func:`read_text` (or :func:`read_lines` for plain text, one
example a line) and walks the text with :func:`numbered_lines`; a problem in a row is raised as
``DataError(f"{location(key, path, number)}: ...; <the fix>")``::

    text = read_text(path, cfg.data.encoding, "data.train", kind="a CoNLL file")
    for number, line in numbered_lines(text):
        if "\\t" not in line:
            raise DataError(f"{location('data.train', path, number)}: no tab; check task.format")
"""

from __future__ import annotations

import codecs
import functools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import DataError

__all__ = [
    "json_rows",
    "location",
    "looks_like_mojibake",
    "numbered_lines",
    "read_lines",
    "read_text",
]
log = logging.getLogger(__name__)


def location(key: str, path: str | Path, line: int | None = None) -> str:
    """``data.train: file '/x/train.csv'`` [``, line 7``]: the prefix of a row's error."""
    where = f"{key}: file {str(path)!r}"
    return where if line is None else f"{where}, line {line}"


def read_text(path: str | Path, encoding: str, key: str, kind: str = "a text file") -> str:
    """The decoded text of the file at path (a leading BOM dropped).

    ``key`` (e.g. ``data.train``) is the config key that named the file and ``kind`` what it
    should be (``"a CoNLL file"``): a missing file, a folder, an unknown ``data.encoding`` or
    bytes that do not decode raise :class:`DataError` naming them, the line and the fix.
    """
    path = Path(path).expanduser()
    if not path.exists():
        where = "" if path.is_absolute() else f" (relative paths are read from {Path.cwd()})"
        raise DataError(f"{location(key, path)} does not exist{where}; set {key} to {kind}")
    if not path.is_file():
        raise DataError(f"{key}: {str(path)!r} is not a file; set {key} to {kind}")
    data = path.read_bytes()
    try:
        text = data.decode(encoding).removeprefix("\ufeff")
    except LookupError as error:
        raise DataError(f"data.encoding: unknown encoding {encoding!r} ({error})") from error
    except UnicodeDecodeError as error:
        raise DataError(_decode_message(path, key, data, encoding, error)) from error
    if looks_like_mojibake(data, encoding):
        _warn_mojibake(str(path), key, encoding)
    return text


def looks_like_mojibake(data: bytes, encoding: str) -> bool:
    """True when data, read with a non-UTF encoding, is valid UTF-8 holding non-ASCII text:
    almost surely a UTF-8 file read wrongly (``aprobó`` read as latin-1 is ``aprobÃ³``)."""
    if data.isascii() or codecs.lookup(encoding).name.startswith("utf"):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _encoding_key(key: str) -> str:
    """The setting that picks the encoding of the file named by key."""
    split = key.removeprefix("data.")
    if split in ("train", "validation", "test"):
        return f"data.encoding (or data.encodings.{split}, for this file alone)"
    return "data.encoding"


@functools.cache  # once per file and encoding: the preflight and the task both read a file
def _warn_mojibake(path: str, key: str, encoding: str) -> None:
    log.warning(
        "%s: file %r is read as %s but is valid UTF-8 with non-ASCII text, which %s misreads "
        "(e.g. 'ó' as 'Ã³'). If the file is UTF-8, set %s to utf-8",
        key,
        path,
        encoding,
        encoding,
        _encoding_key(key),
    )


def _decode_message(
    path: Path, key: str, data: bytes, encoding: str, error: UnicodeDecodeError
) -> str:
    line = data.count(b"\n", 0, error.start) + 1
    byte = data[error.start : error.start + 1].hex()
    return (
        f"{location(key, path)} is not valid {encoding}: byte 0x{byte} at offset "
        f"{error.start} (line {line}): {error.reason}. Set {_encoding_key(key)} to the "
        "file's encoding, e.g. data.encoding=latin-1"
    )


def numbered_lines(text: str, skip_blank: bool = True) -> Iterator[tuple[int, str]]:
    """``(line number from 1, stripped line)`` of each line; blank ones skipped unless
    ``skip_blank=False`` (a reader whose blank lines mean something, e.g. sentence ends)."""
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if line or not skip_blank:
            yield number, line


def read_lines(path: str | Path, encoding: str, key: str) -> list[str]:
    """Stripped non-blank lines of a text file; ``key`` (e.g. ``data.train``) names it."""
    return [line for _, line in numbered_lines(read_text(path, encoding, key))]


def json_rows(text: str, where: str) -> Iterator[tuple[dict[str, Any], str]]:
    """The JSON object of each non-blank line of a JSON-lines text, with where it stands
    (``{where}, line N``, to start a row's error message); DataError for a line that is not
    a JSON object."""
    for number, line in numbered_lines(text):
        here = f"{where}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{here}: not a JSON object: {error}") from error
        if not isinstance(row, dict):
            raise DataError(f"{here}: expected a JSON object, got {type(row).__name__}")
        yield row, here
