"""Text of evidence values shared by the HTML and Markdown reports."""

from __future__ import annotations

from typing import Any


def value_text(value: Any) -> str:
    """Floats with 4 significant digits, lists of floats shortened the same way."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(item) for item in value) + "]"
    return str(value)


VERDICT_MARKS = {"reproduced": "✅", "not reproduced": "❌", "not available": "⚪"}
