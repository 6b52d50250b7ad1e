"""Behaviour tests for report tables (CSV and Markdown from the same rows)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.reports import markdown_table, write_table

ROWS = [
    {"type": "LOC", "precision": 0.5, "f1": 2 / 3, "support": 4},
    {"type": "micro avg", "precision": 1.0, "f1": 0.25, "support": 10},
]


def test_write_table_writes_csv_and_markdown_of_the_same_rows(tmp_path: Path) -> None:
    write_table(ROWS, tmp_path / "reports" / "entities_test", title="Entity scores.")
    with (tmp_path / "reports" / "entities_test.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["type"] for row in rows] == ["LOC", "micro avg"]
    assert float(rows[0]["f1"]) == pytest.approx(2 / 3, abs=1e-12)  # full precision
    markdown = (tmp_path / "reports" / "entities_test.md").read_text(encoding="utf-8")
    assert markdown.splitlines() == [
        "Entity scores.",
        "",
        "| type | precision | f1 | support |",
        "| --- | ---: | ---: | ---: |",
        "| LOC | 0.5000 | 0.6667 | 4 |",
        "| micro avg | 1.0000 | 0.2500 | 10 |",
    ]


def test_markdown_without_title_and_a_mixed_column_stays_left_aligned() -> None:
    table = markdown_table([{"name": "a", "value": 1}, {"name": "b", "value": "n/a"}], digits=2)
    assert table.splitlines()[:2] == ["| name | value |", "| --- | --- |"]
    with pytest.raises(ValueError, match="at least one row"):
        markdown_table([])
