"""The per-type entity table of a test split, as Markdown and CSV report files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from plugins.tasks.tagging.metrics import EntityRow


def write_entity_tables(rows: Sequence[EntityRow], directory: Path) -> None:
    """``entities_test.md`` and ``entities_test.csv`` in directory."""
    (directory / "entities_test.md").write_text(_markdown(rows), encoding="utf-8")
    (directory / "entities_test.csv").write_text(_csv(rows), encoding="utf-8")


def _markdown(rows: Sequence[EntityRow]) -> str:
    lines = [
        "Entity-level scores on the test split (exact span and type).",
        "",
        "| type | precision | recall | F1 | support |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {k} | {p:.4f} | {r:.4f} | {f:.4f} | {s} |" for k, p, r, f, s in rows]
    return "\n".join(lines) + "\n"


def _csv(rows: Sequence[EntityRow]) -> str:
    lines = ["type,precision,recall,f1,support"]
    lines += [f"{k},{p:.6f},{r:.6f},{f:.6f},{s}" for k, p, r, f, s in rows]
    return "\n".join(lines) + "\n"
