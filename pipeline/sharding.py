"""Data loaders for one process of a run: train shuffled with the seed, evaluation exact.

Under DDP (``world_size`` processes) each rank loads its own shard:

- train: torch's ``DistributedSampler``, reshuffled every epoch (Lightning calls its
  ``set_epoch``) from the run's seed; it pads the shards to equal length by repeating a few
  examples, which is harmless for training and keeps the ranks in step;
- val/test: :class:`EvalShardSampler`, each rank a contiguous share of the examples, every
  example exactly once and none repeated, so metrics reduced across the ranks equal a
  one-process evaluation.

A task whose items are single examples needs one call in its ``dataloader``::

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader:
        dataset = SentenceData(self.encoded[split])
        return split_loader(dataset, split, self.cfg, rank, world_size, collate_fn=collate)

A task that cuts its data itself (the language model's token streams) uses :func:`shard`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler

if TYPE_CHECKING:
    from pipeline.config import Config

__all__ = ["EvalShardSampler", "shard", "split_loader", "split_sampler"]


def shard(size: int, rank: int, world_size: int) -> range:
    """Rank's contiguous share of ``range(size)``: shares differ by at most one, and every
    index belongs to exactly one rank."""
    return range(rank * size // world_size, (rank + 1) * size // world_size)


class EvalShardSampler(Sampler[int]):
    """The indices of :func:`shard` in order: each example once across ranks, no padding
    copies (which ``DistributedSampler`` adds and the metrics would count twice)."""

    def __init__(self, size: int, rank: int = 0, world_size: int = 1) -> None:
        self.indices = shard(size, rank, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def split_sampler(
    dataset: Sized, split: str, seed: int, rank: int = 0, world_size: int = 1
) -> Sampler[int]:
    """The sampler of ``split`` (train, val or test) for one rank; see the module docstring."""
    if split != "train":
        return EvalShardSampler(len(dataset), rank, world_size)
    if world_size > 1:
        return DistributedSampler(
            dataset,  # type: ignore[arg-type]  # any sized dataset will do
            num_replicas=world_size,
            rank=rank,
            shuffle=True,
            seed=seed,
        )
    return RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))


def split_loader(
    dataset: Dataset[Any],
    split: str,
    cfg: Config,
    rank: int = 0,
    world_size: int = 1,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> DataLoader[Any]:
    """A DataLoader of ``split`` for one rank: ``data.batch_size`` for train (per device),
    ``data.eval_batch_size`` for val/test, ``data.num_workers`` workers, seed ``cfg.seed``."""
    data = cfg.data
    return DataLoader(
        dataset,
        batch_size=data.batch_size if split == "train" else data.eval_batch_size,
        sampler=split_sampler(dataset, split, cfg.seed, rank, world_size),  # type: ignore[arg-type]
        collate_fn=collate_fn,
        num_workers=data.num_workers,
    )
