"""Load time of captioning images: decoding them with Pillow against reading the cached tensor.

Usage::

    python benchmarks/captioning_images.py [--data data/shapes/train.jsonl] [--size 64]
                                           [--workers 1] [--repeats 3] [--threads 1]

Reads the captions file (``--layout``, default by suffix), decodes every image to a uint8
(N, 3, S, S) tensor with ``load_split`` (best of ``--repeats``), saves it with ``torch.save``
as the task's cache build does, and loads it back (weights only) plainly and memory-mapped,
each followed by a read of every memory page, as an epoch reads them
(best of ``--repeats`` each). Prints the times, milliseconds per
image, the cached file's size and decode time / load time.

This is a benchmark: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from plugins.tasks.captioning.images import load_split
from plugins.tasks.captioning.readers import CaptionReadOptions, file_captions


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Shortest wall time of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def load_and_read(path: Path, mmap: bool) -> int:
    """Load the cached images and read one byte of every 4 KiB page (mmap loads lazily)."""
    images = torch.load(path, weights_only=True, mmap=mmap)["images"]
    return int(images.reshape(-1)[::4096].sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/shapes/train.jsonl"))
    parser.add_argument("--layout", default="auto")
    parser.add_argument("--image-root", default=None)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    options = CaptionReadOptions(layout=args.layout, image_root=args.image_root)
    examples = file_captions(args.data, "--data", options)
    n = len(examples)
    decode, decoded = best_of(
        args.repeats, lambda: load_split(examples, args.size, options, "--data", args.workers)
    )
    print(f"{n} images from {args.data}, {args.size} px, {args.workers} decoding thread(s)")
    print(f"decode (Pillow):         {decode:8.3f} s  {decode / n * 1e3:7.3f} ms/image")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.pt"
        torch.save({"images": decoded.images}, path)
        print(f"cached tensor file:      {path.stat().st_size / 1e6:8.1f} MB (uint8)")
        for mmap in (False, True):
            load, _ = best_of(args.repeats, partial(load_and_read, path, mmap))
            name = "load, memory-mapped:" if mmap else "load:"
            print(
                f"{name:24} {load:8.4f} s  {load / n * 1e3:7.4f} ms/image  "
                f"(decode / load = {decode / load:,.0f})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
