"""How a broken contract clause is reported: one AssertionError with expected and actual."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

Notes = list[str]
"""What a check could not verify, and why (empty when it checked everything)."""


def fail(clause: str, expected: Any, actual: Any) -> AssertionError:
    return AssertionError(
        f"contract clause broken: {clause}\n  expected: {expected}\n  actual: {actual}"
    )


def require(ok: bool, clause: str, expected: Any, actual: Any) -> None:
    if not ok:
        raise fail(clause, expected, actual)


def close(a: Tensor, b: Tensor, atol: float) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=atol, rtol=atol)


def max_diff(a: Tensor, b: Tensor) -> str:
    if a.shape != b.shape:
        return f"shapes {tuple(a.shape)} vs {tuple(b.shape)}"
    return f"max |difference| {largest(a - b):.3g}"


def largest(t: Tensor) -> float:
    """Largest absolute value of t (0 for an empty tensor)."""
    return float(t.detach().abs().max()) if t.numel() else 0.0
