"""Read an encoder's initial weights from a local state_dict file (never a download)."""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pipeline.errors import OptionError

OPTIONAL_SUFFIX = "num_batches_tracked"
"""BatchNorm buffer that older weight files lack; it only counts batches, so it may be absent."""


def load_weights(
    module: nn.Module, path: str, name: str, fix: str, ignored: tuple[str, ...] = ()
) -> None:
    """Fill module's parameters and buffers from the state_dict saved at path.

    The file is read with ``torch.load(weights_only=True)`` (a pickle can run code); keys
    starting with one of ``ignored`` (e.g. a classifier the encoder drops) are skipped. A
    missing or unreadable file, or a missing, extra or misshapen key, raises one OptionError
    naming the file, the key and ``fix``.
    """
    file = Path(path).expanduser()
    where = f"{name}: weights file {str(file)!r}"
    if not file.is_file():
        raise OptionError(f"{where} does not exist; {fix} (nothing is downloaded)")
    state = _read(file, where, fix)
    state = {key: value for key, value in state.items() if not key.startswith(ignored)}
    expected = module.state_dict()
    problem = _mismatch(state, expected)
    if problem:
        raise OptionError(f"{where} does not match {name}: {problem}; {fix}")
    module.load_state_dict({**expected, **state})


def _read(file: Path, where: str, fix: str) -> dict[str, Tensor]:
    try:
        state: Any = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's message advises turning the weights-only mode off, which would run the
        # file's code: the user gets the object it refused instead.
        found = re.search(r"GLOBAL (\S+)", str(error))
        if found is None:
            raise OptionError(f"{where} is not a file torch.save wrote; {fix}") from None
        raise OptionError(
            f"{where} holds more than tensors (a {found[1]}); save model.state_dict() instead "
            f"of the model, or {fix}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        reason = f" ({error})" if str(error) else ""
        raise OptionError(f"{where} is not a file torch.save wrote{reason}; {fix}") from None
    tensors = isinstance(state, Mapping) and all(isinstance(v, Tensor) for v in state.values())
    if not tensors:
        raise OptionError(
            f"{where} is not a state_dict (a mapping of parameter names to tensors) but a "
            f"{type(state).__name__}; {fix}"
        )
    return dict(state)


def _mismatch(state: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> str:
    """What keeps state from loading into expected: missing, extra or misshapen keys."""
    missing = [k for k in expected if k not in state and not k.endswith(OPTIONAL_SUFFIX)]
    extra = [k for k in state if k not in expected]
    shapes = [
        f"{k} has shape {tuple(state[k].shape)}, expected {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    for label, keys in (("missing key", missing), ("unexpected key", extra), ("", shapes)):
        if keys:
            more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
            return f"{label} {keys[0]}{more}".strip()
    return ""
