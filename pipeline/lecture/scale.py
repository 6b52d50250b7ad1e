"""How big the lecture's experiments are: ``quick`` (<= 15 min on 2 CPU cores), ``full``
(<= 90 min), and ``tiny`` (seconds per run, for the tests; numbers mean nothing)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    hidden: int
    """Units of every recurrent layer (embedding size too)."""
    lm_sentences: int
    """Training sentences of the generated Spanish corpus (valid and test: a tenth each)."""
    lm_epochs: int
    lengths: tuple[int, ...]
    """T of the adding problem (claim f); the longest also serves g and j."""
    long_train: int
    long_epochs: int
    copy_lengths: tuple[int, ...]
    """T of the copy-memory problem (claim f): 10 digits recalled after T + 10 steps."""
    copy_train: int
    copy_epochs: int
    probe_per_distance: int
    probe_distances: tuple[int, ...]
    probe_epochs: int
    synthetic_size: int
    """Training sentences of the tagging and classification data (claim e)."""
    synthetic_epochs: int
    throughput_batches: int
    """Forward + backward passes timed per cell (claim h)."""


QUICK = Scale(
    "quick", 64, 2000, 4, (10, 30), 4000, 10, (5, 20), 8000, 25, 600, (6, 15), 50, 400, 8, 30
)
FULL = Scale(
    "full",
    64,
    6000,
    8,
    (10, 30, 60),
    8000,
    20,
    (5, 20, 40),
    12000,
    30,
    600,
    (6, 10, 15, 20),
    60,
    1500,
    10,
    100,
)
TINY = Scale("tiny", 4, 60, 1, (8,), 40, 1, (3,), 20, 1, 4, (6, 8), 1, 12, 1, 2)
SCALES = {scale.name: scale for scale in (QUICK, FULL, TINY)}
