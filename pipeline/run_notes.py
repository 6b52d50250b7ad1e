"""What a run says about itself in the MLflow UI: short numbers for names, its description.

Light imports only: the CLI builds descriptions before torch or MLflow are loaded.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

NOTE_TAG = "mlflow.note.content"
"""The tag the MLflow UI shows (and edits) as a run's description (Markdown)."""


def short_number(value: float) -> str:
    """Two significant digits, exponent without padding: 0.005 -> ``5e-3``, 0.0082 -> ``8.2e-3``."""
    mantissa, exponent = f"{value:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def command_note(
    arguments: Sequence[str], overrides: Sequence[str], extra: Mapping[str, Any] | None = None
) -> str:
    """Markdown for a run's description: the command line, its overrides, extra facts.

    arguments are the ``pipeline`` command's, without the program (``train conf/x.yaml ...``).
    """
    lines = ["Command:", "", f"    {shlex.join(['pipeline', *arguments])}", ""]
    lines += ["Overrides:", ""]
    lines += [f"- `{item}`" for item in overrides] or ["- (none: the config file as it is)"]
    for key, value in (extra or {}).items():
        lines += ["", f"{key}: {value}"]
    return "\n".join(lines)
