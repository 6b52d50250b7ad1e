"""Report tables: the same rows as CSV (for programs) and as Markdown (for people).

A task's ``write_reports`` builds rows as dicts, one key per column, and writes both files::

    rows = [{"label": "sport", "precision": 0.91, "recall": 0.88, "support": 120}, ...]
    write_table(rows, directory / "per_class", title="Per-class scores on the test split.")
    # -> per_class.csv and per_class.md; numbers right-aligned, floats with 4 decimals
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["csv_table", "markdown_table", "write_table"]

Row = Mapping[str, Any]


def write_table(rows: Sequence[Row], stem: Path, title: str | None = None, digits: int = 4) -> None:
    """``stem.csv`` and ``stem.md`` of rows (columns: the first row's keys, in order)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_name(f"{stem.name}.csv").write_text(csv_table(rows), encoding="utf-8")
    markdown = markdown_table(rows, title, digits)
    stem.with_name(f"{stem.name}.md").write_text(markdown, encoding="utf-8")


def csv_table(rows: Sequence[Row]) -> str:
    """A header line, then one line per row; values as Python prints them (full precision)."""
    handle = io.StringIO(newline="")
    writer = csv.DictWriter(handle, _columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return handle.getvalue()


def markdown_table(rows: Sequence[Row], title: str | None = None, digits: int = 4) -> str:
    """A Markdown table [under a title line]; numeric columns right-aligned, floats rounded."""
    columns = _columns(rows)
    numeric = [all(_is_number(row[c]) for row in rows) for c in columns]
    lines = [f"{title}", ""] if title else []
    lines.append(f"| {' | '.join(columns)} |")
    lines.append(f"| {' | '.join('---:' if n else '---' for n in numeric)} |")
    for row in rows:
        lines.append(f"| {' | '.join(_cell(row[c], digits) for c in columns)} |")
    return "\n".join(lines) + "\n"


def _columns(rows: Sequence[Row]) -> list[str]:
    if not rows:
        raise ValueError("a report table needs at least one row")
    return list(rows[0])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
