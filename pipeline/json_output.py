"""The one JSON object a command prints with ``--json``: strict JSON, whatever the numbers.

Python's json writes ``NaN`` and ``Infinity``, which strict parsers (JavaScript, jq, Go)
reject; a diverged run's perplexity is exactly that. They become ``null``, and the object gets
``"non_finite"``: the paths of those values (e.g. ``metrics.test_ppl``) with what they were.
"""

from __future__ import annotations

import json
import math
from typing import Any

FLAG = "non_finite"


def dumps(payload: dict[str, Any], ensure_ascii: bool = True) -> str:
    """payload as strict JSON; non-finite floats as null, listed under ``non_finite``."""
    found: dict[str, str] = {}
    clean = _finite(payload, "", found)
    if found:
        clean[FLAG] = found
    return json.dumps(clean, ensure_ascii=ensure_ascii, allow_nan=False, default=str)


def _finite(value: Any, path: str, found: dict[str, str]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        found[path] = repr(value)  # 'nan', 'inf' or '-inf'
        return None
    if isinstance(value, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value
