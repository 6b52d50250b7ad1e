"""Token streams for tasks that carry state across batches, sharded exactly under DDP.

A stateful task (one whose ``step`` returns a ``StepResult.carry``, such as a language model
trained by truncated back-propagation through time) must give each rank whole, contiguous
streams so that a rank's batch t+1 continues its batch t. The recipe (Zaremba et al. 2014):
cut the (N,) token ids into a grid of rows, one row a stream, give each rank its own rows and
walk the columns in windows of ``bptt`` steps, never shuffled:

- train (:func:`cut_streams`): ``streams`` rows per rank, so the grid has
  ``streams * world_size`` rows and 2 ranks with B/2 streams each see exactly the B-stream
  grid of one process;
- val/test (:func:`shard_streams`): one grid of ``streams`` rows for any number of ranks, rank
  r taking ``pipeline.sharding.shard(streams, r, world_size)`` of its rows; every token is
  evaluated exactly once, so metrics reduced across ranks equal a one-process evaluation.

:class:`StreamChunks` turns a rank's rows into (input, target) windows; load it with
``DataLoader(chunks, batch_size=None, shuffle=False)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pipeline.errors import DataError
from pipeline.sharding import shard

__all__ = ["StreamChunks", "cut_streams", "shard_streams", "stream_grid"]


class StreamChunks(torch.utils.data.Dataset[tuple[Tensor, Tensor]]):
    """Consecutive (input, target) windows of bptt steps over (B, N) parallel streams.

    Item i is ``(streams[:, s : s + T], streams[:, s + 1 : s + T + 1])`` with ``s = i * bptt``
    and ``T = bptt`` (shorter for the last window), both (B, T): the target is the input
    shifted by one step.
    """

    def __init__(self, streams: Tensor, bptt: int) -> None:
        self.streams, self.bptt = streams, bptt
        self.starts = list(range(0, max(streams.size(1) - 1, 0), bptt))

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        start = self.starts[index]
        length = min(self.bptt, self.streams.size(1) - 1 - start)
        window = self.streams[:, start : start + length + 1]  # (B, T + 1)
        return window[:, :-1], window[:, 1:]  # (B, T) each


def cut_streams(tokens: Tensor, streams: int, rank: int = 0, world_size: int = 1) -> Tensor:
    """(N,) token ids -> rank's (streams, N // (streams * world_size)) contiguous streams.

    The grid has ``streams * world_size`` rows; rank r gets rows r*streams .. (r+1)*streams.
    """
    grid = stream_grid(tokens, streams * world_size)
    return grid[rank * streams : (rank + 1) * streams]


def shard_streams(tokens: Tensor, streams: int, rank: int = 0, world_size: int = 1) -> Tensor:
    """Rank's contiguous share of the rows of the one-process ``streams``-row grid.

    Shares differ by at most one row; every row (so every token) belongs to exactly one rank.
    """
    if streams < world_size:
        raise DataError(
            f"data.eval_batch_size ({streams}) is the total number of evaluation streams and "
            f"must be at least the number of processes ({world_size})"
        )
    share = shard(streams, rank, world_size)
    return stream_grid(tokens, streams)[share.start : share.stop]


def stream_grid(tokens: Tensor, rows: int) -> Tensor:
    """(N,) token ids -> (rows, N // rows), dropping the last N % rows tokens."""
    length = tokens.numel() // rows
    if length < 2:
        raise DataError(
            f"{tokens.numel()} tokens are too few for {rows} streams of at least 2 tokens: "
            "lower data.batch_size / data.eval_batch_size or add text"
        )
    return tokens[: length * rows].view(rows, length)
