"""Behaviour tests for the per-rank samplers and loaders of pipeline.sharding."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DistributedSampler, TensorDataset

from pipeline.config import Config
from pipeline.sharding import EvalShardSampler, shard, split_loader, split_sampler


@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("size", [0, 1, 5, 6, 13])
def test_eval_shards_hold_each_example_exactly_once(size: int, world_size: int) -> None:
    shards = [list(EvalShardSampler(size, rank, world_size)) for rank in range(world_size)]
    assert [i for part in shards for i in part] == list(range(size))  # once, in order
    lengths = [len(part) for part in shards]
    assert max(lengths) - min(lengths) <= 1
    assert lengths == [len(shard(size, rank, world_size)) for rank in range(world_size)]


def test_train_sampler_is_seeded_and_ddp_shards_cover_every_example() -> None:
    data = list(range(10))
    first = list(split_sampler(data, "train", seed=3))
    assert sorted(first) == data and first != data
    assert list(split_sampler(data, "train", seed=3)) == first
    assert list(split_sampler(data, "train", seed=4)) != first
    ranks = [split_sampler(data, "train", 3, rank, 3) for rank in range(3)]
    assert all(isinstance(sampler, DistributedSampler) for sampler in ranks)
    seen = [i for sampler in ranks for i in sampler]
    assert set(seen) == set(data) and len({len(list(s)) for s in ranks}) == 1  # in step
    assert list(split_sampler(data, "val", 3)) == data


def test_split_loader_uses_the_split_batch_size_and_workers() -> None:
    cfg = Config()
    cfg.data.batch_size, cfg.data.eval_batch_size = 4, 3
    dataset = TensorDataset(torch.arange(10))
    train = split_loader(dataset, "train", cfg)
    epochs = [[batch.tolist() for (batch,) in train] for _ in range(2)]
    assert [len(batch) for batch in epochs[0]] == [4, 4, 2]
    first = [i for batch in epochs[0] for i in batch]
    assert first == list(split_sampler(dataset, "train", cfg.seed))  # the seed's order ...
    assert [i for batch in epochs[1] for i in batch] != first  # ... reshuffled each epoch
    shards = [split_loader(dataset, "test", cfg, rank, 2) for rank in (0, 1)]
    assert [[b.tolist() for (b,) in loader] for loader in shards] == [
        [[0, 1, 2], [3, 4]],
        [[5, 6, 7], [8, 9]],
    ]
