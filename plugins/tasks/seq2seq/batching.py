"""Training batches of similar lengths: less padding, fewer decoder steps per batch.

The train split's own sampler (:func:`pipeline.sharding.split_sampler`: seeded shuffle, or a
rank's ``DistributedSampler`` share) gives the order; :class:`LengthGrouped` cuts it into
windows of ``batches`` batches, sorts each window by target length (decoder steps), cuts it
into batches and shuffles their order, so a batch holds pairs of similar lengths while the
model still sees lengths in random order. Evaluation splits keep their order (each example
once per rank, the test hypotheses in file order).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import Sampler

__all__ = ["LengthGrouped"]


class LengthGrouped(Sampler[int]):
    """``base``'s indices regrouped by ``lengths`` (N,) into batches of ``batch_size``, within
    windows of ``batches`` batches; batches start at multiples of batch_size, as the
    DataLoader cuts them."""

    def __init__(self, base: Sampler[int], lengths: Tensor, batch_size: int, batches: int) -> None:
        self.base, self.lengths = base, lengths
        self.batch_size, self.window = batch_size, batch_size * batches
        # The shuffle's generator (RandomSampler's), where checkpoints find and restore the
        # train loaders' generators; a DistributedSampler has none and reseeds per epoch.
        self.generator: torch.Generator | None = getattr(base, "generator", None)

    def set_epoch(self, epoch: int) -> None:
        """Forwarded to a ``DistributedSampler``, which reshuffles per epoch."""
        set_epoch = getattr(self.base, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        order = list(self.base)
        generator = self._batch_order_generator()
        for start in range(0, len(order), self.window):
            chunk = sorted(order[start : start + self.window], key=lambda i: int(self.lengths[i]))
            cuts = range(0, len(chunk), self.batch_size)
            for b in torch.randperm(len(cuts), generator=generator).tolist():
                yield from chunk[cuts[b] : cuts[b] + self.batch_size]

    def _batch_order_generator(self) -> torch.Generator:
        if self.generator is not None:
            return self.generator
        seed = int(getattr(self.base, "seed", 0)) + int(getattr(self.base, "epoch", 0))
        return torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]  # the split's samplers are sized
