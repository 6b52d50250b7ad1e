"""cuDNN weight layout of the fused runner: one contiguous block against per-call compaction.

Usage (needs a CUDA GPU)::

    python benchmarks/cudnn_weights.py [--layers 2] [--hidden 512] [--batch 64] [--steps 35]

``RecurrentEncoder`` keeps each layer's weights in its own cell, so without
``flatten_for_cudnn`` (run on every ``.to(device)``) cuDNN copies them into one block at every
call and warns "RNN module weights are not part of single contiguous chunk of memory". Both
encoders start from the same weights; the script prints whether the warning appeared, the
largest output difference to ``torch.nn.LSTM`` with those weights, and the forward+backward
time per batch of each layout (median of 5 rounds, interleaved), as a ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from pipeline.recurrent import RecurrentEncoder
from plugins.cells.lstm import LSTMCell


def main() -> None:
    args = parse_args()
    device = torch.device("cuda")
    flat = encoder(args).to(device)
    compacting = encoder(args)
    compacting.flatten_for_cudnn = lambda: None  # the layout before the fix
    compacting = compacting.to(device)
    compacting.load_state_dict(flat.state_dict())
    x = torch.randn(args.batch, args.steps, args.hidden, device=device)
    print(f"warning with flattened weights: {warns(flat, x)}; per-call: {warns(compacting, x)}")
    print(f"max |encoder - nn.LSTM|: {difference_to_torch(flat, x, args):.2e}")
    times: dict[str, list[float]] = {"flattened": [], "per-call": []}
    for _ in range(5):
        times["flattened"].append(ms_per_batch(flat, x))
        times["per-call"].append(ms_per_batch(compacting, x))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:<10} {value:7.3f} ms/batch (fwd+bwd)")
    print(f"per-call / flattened: {medians['per-call'] / medians['flattened']:.2f}x")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=35)
    return parser.parse_args()


def encoder(args: argparse.Namespace) -> RecurrentEncoder:
    torch.manual_seed(0)
    return RecurrentEncoder(LSTMCell, args.hidden, args.hidden, args.layers, runner="fused")


def warns(module: RecurrentEncoder, x: torch.Tensor) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module(x)
    return any("contiguous chunk" in str(w.message) for w in caught)


def difference_to_torch(
    module: RecurrentEncoder, x: torch.Tensor, args: argparse.Namespace
) -> float:
    reference = torch.nn.LSTM(args.hidden, args.hidden, args.layers, batch_first=True).to(x.device)
    with torch.no_grad():
        for mine, theirs in zip(module._flat_weights(), reference._flat_weights, strict=True):
            theirs.copy_(mine)
        return float((module(x)[0] - reference(x)[0]).abs().max())


def ms_per_batch(module: RecurrentEncoder, x: torch.Tensor, batches: int = 50) -> float:
    for _ in range(5):
        module(x)[0].sum().backward()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(batches):
        module(x)[0].sum().backward()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / batches * 1000


if __name__ == "__main__":
    main()
