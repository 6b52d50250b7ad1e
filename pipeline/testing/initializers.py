"""``check_initializer``: an initializer called the way ``pipeline.initialization`` calls it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from pipeline.testing.clauses import Notes, fail, max_diff, require

__all__ = ["check_initializer"]


def check_initializer(
    fn: Callable[..., Any],
    *,
    options: dict[str, Any] | None = None,
    shapes: Sequence[tuple[int, ...]] = ((16,), (8, 12)),
    seed: int = 0,
) -> Notes:
    """Check an initializer against the Initializer contract of :mod:`pipeline.interfaces`.

    Called as the pipeline does, ``fn(tensor, generator=g, **options)``, on each of ``shapes``
    in float32 and float64. Checked: it fills the tensor in place (no NaN, no untouched
    sentinel values), keeps shape and dtype, returns None or a dict, gives equal values for
    equally seeded generators, draws no numbers from torch's global generator when given one,
    and touches no other tensor. An initializer meant for 2-D weights only may raise
    ValueError for a 1-D tensor, and one meant for 1-D biases only may raise it for a 2-D
    tensor once it filled a 1-D one: that is accepted and reported in the notes.
    """
    notes: Notes = []
    options = dict(options or {})
    filled: set[int] = set()
    for shape in shapes:
        for dtype in (torch.float32, torch.float64):
            if not _check_fill(fn, options, shape, dtype, seed, notes, filled):
                break
            filled.add(len(shape))
    return notes


def _call(fn: Callable[..., Any], tensor: Tensor, seed: int, options: dict[str, Any]) -> Any:
    return fn(tensor, generator=torch.Generator().manual_seed(seed), **options)


def _check_fill(
    fn: Callable[..., Any],
    options: dict[str, Any],
    shape: tuple[int, ...],
    dtype: torch.dtype,
    seed: int,
    notes: Notes,
    filled: set[int],
) -> bool:
    """One shape and dtype; False when a 1-D tensor is declined with ValueError, or a 2-D
    one after a 1-D tensor was filled (``filled``: dimensions filled so far)."""
    where = f"[shape {shape}, {dtype}]"
    sentinel = 12345.0
    tensor = torch.full(shape, sentinel, dtype=dtype)
    other = torch.full(shape, sentinel, dtype=dtype)
    pointer, rng = tensor.data_ptr(), torch.get_rng_state()
    try:
        result = _call(fn, tensor, seed, options)
    except ValueError as error:
        if len(shape) == 1:
            notes.append(f"declines 1-D tensors (2-D weights only): {error}")
            return False
        if len(shape) == 2 and 1 in filled:
            notes.append(f"declines 2-D tensors (1-D biases only): {error}")
            return False
        raise fail(f"fills a {len(shape)}-D tensor {where}", "no error", repr(error)) from error
    require(
        result is None or isinstance(result, dict),
        f"returns None or a dict {where}",
        "None or dict",
        type(result).__name__,
    )
    require(
        tuple(tensor.shape) == shape and tensor.dtype == dtype and tensor.data_ptr() == pointer,
        f"fills the tensor in place, keeping shape and dtype {where}",
        (shape, dtype),
        (tuple(tensor.shape), tensor.dtype),
    )
    require(
        bool(torch.isfinite(tensor).all()) and not bool((tensor == sentinel).any()),
        f"fills every element with a finite value {where}",
        "no NaN/inf, no element left as it was",
        f"{tensor.flatten()[:6].tolist()}...",
    )
    require(
        torch.equal(torch.get_rng_state(), rng),
        f"uses only the generator for randomness, not torch's global one {where}",
        "global RNG untouched",
        "global RNG advanced",
    )
    require(
        bool((other == sentinel).all()),
        f"does not touch other tensors {where}",
        "untouched",
        "changed",
    )
    again = torch.full(shape, sentinel, dtype=dtype)
    _call(fn, again, seed, options)
    require(
        torch.equal(tensor, again),
        f"is deterministic under a seeded generator {where}",
        "equal values",
        max_diff(tensor, again),
    )
    return True
