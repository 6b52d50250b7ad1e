"""Generated parallel data a small model learns exactly in seconds: each source sentence of a
few symbols, and its target, the same symbols in reverse order and upper case
("b d a" -> "A D B"). Used by the tests and ``pipeline plugins check --deep``."""

from __future__ import annotations

import random
from pathlib import Path

__all__ = ["SYMBOLS", "reversal_pair", "write_reversal_pairs"]

SYMBOLS = ("a", "b", "c", "d", "e", "f")


def reversal_pair(rng: random.Random, min_length: int = 2, max_length: int = 5) -> tuple[str, str]:
    """One (source, target) pair: random symbols and their reversed upper-case copy."""
    words = rng.choices(SYMBOLS, k=rng.randint(min_length, max_length))
    return " ".join(words), " ".join(word.upper() for word in reversed(words))


def write_reversal_pairs(
    directory: Path, sizes: dict[str, int], seed: int = 0, max_length: int = 5
) -> dict[str, Path]:
    """``<split>.tsv`` files (header ``source<TAB>target``) of ``sizes[split]`` pairs each."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = {}
    for split, count in sizes.items():
        rows = [reversal_pair(rng, max_length=max_length) for _ in range(count)]
        paths[split] = directory / f"{split}.tsv"
        lines = ["source\ttarget", *(f"{source}\t{target}" for source, target in rows)]
        paths[split].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths
