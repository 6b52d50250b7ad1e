"""Training batches of similar lengths: less padding, fewer decoder steps per batch.

The train split's own sampler (:func:`pipeline.sharding.split_sampler`: seeded shuffle, or a
rank's ``DistributedSampler`` share) gives the order; :class:`LengthGrouped` cuts it into
windows of ``window`` examples and sorts each window by target length (decoder steps), so
consecutive batches hold pairs of similar lengths while the windows stay random. Evaluation
splits keep their order (each example once per rank, the test hypotheses in file order).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import Sampler

__all__ = ["LengthGrouped"]


class LengthGrouped(Sampler[int]):
    """``base``'s indices, sorted by ``lengths`` within consecutive windows of ``window``."""

    def __init__(self, base: Sampler[int], lengths: Tensor, window: int) -> None:
        self.base, self.lengths, self.window = base, lengths, window
        # the shuffle's generator, where checkpoints find (and restore) the loaders' ones
        self.generator: torch.Generator | None = getattr(base, "generator", None)

    def set_epoch(self, epoch: int) -> None:
        """Forwarded to a ``DistributedSampler``, which reshuffles per epoch."""
        set_epoch = getattr(self.base, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        order = list(self.base)
        for start in range(0, len(order), self.window):
            chunk = order[start : start + self.window]
            yield from sorted(chunk, key=lambda i: int(self.lengths[i]))

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]  # the split's samplers are sized
