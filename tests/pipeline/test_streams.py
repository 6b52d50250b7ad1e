"""Behaviour tests for pipeline.streams: stream grids sharded exactly across DDP ranks."""

from __future__ import annotations

import pytest
import torch

from pipeline.errors import DataError
from pipeline.streams import StreamChunks, cut_streams, shard_streams, stream_grid


def test_train_streams_of_two_ranks_are_the_one_process_grid_split_in_two() -> None:
    tokens = torch.arange(1003)
    whole = cut_streams(tokens, 8)  # one process, B = 8 streams
    ranks = [cut_streams(tokens, 4, rank, 2) for rank in (0, 1)]  # 2 processes, B/2 each
    assert torch.equal(ranks[0], whole[:4]) and torch.equal(ranks[1], whole[4:])
    assert not set(ranks[0].flatten().tolist()) & set(ranks[1].flatten().tolist())
    assert torch.equal(torch.cat(ranks), whole)


def test_eval_streams_cover_each_token_once_for_any_number_of_ranks() -> None:
    tokens = torch.arange(1003)
    whole = shard_streams(tokens, 5)
    for world in (2, 3, 5):
        shards = [shard_streams(tokens, 5, rank, world) for rank in range(world)]
        assert torch.equal(torch.cat(shards), whole)  # disjoint, contiguous, nothing dropped
    with pytest.raises(ValueError, match="at least the number of processes"):
        shard_streams(tokens, 2, 0, 3)


def test_grid_rows_are_contiguous_and_too_short_streams_name_the_keys() -> None:
    grid = stream_grid(torch.arange(10), 3)  # the last 10 % 3 tokens are dropped
    assert grid.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    with pytest.raises(DataError, match="data.batch_size / data.eval_batch_size"):
        stream_grid(torch.arange(5), 3)


def test_chunks_walk_each_stream_in_bptt_windows_with_targets_one_step_ahead() -> None:
    streams = torch.arange(20).view(2, 10)  # (B, N)
    chunks = StreamChunks(streams, bptt=4)
    assert len(chunks) == 3  # inputs 0-3, 4-7, 8 (the last token is only a target)
    inputs = torch.cat([chunks[i][0] for i in range(len(chunks))], dim=1)
    targets = torch.cat([chunks[i][1] for i in range(len(chunks))], dim=1)
    assert torch.equal(inputs, streams[:, :-1]) and torch.equal(targets, streams[:, 1:])
    assert [chunks[i][0].shape for i in range(3)] == [(2, 4), (2, 4), (2, 1)]
