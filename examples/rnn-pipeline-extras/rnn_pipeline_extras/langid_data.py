"""Tiny generated language-identification data: ``LABEL<TAB>text`` files of three languages."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = {
    "es": ["el", "gobierno", "aprobó", "una", "ley", "nueva", "para", "la", "ciudad", "hoy"],
    "en": ["the", "government", "passed", "a", "new", "law", "for", "city", "today", "with"],
    "de": ["die", "regierung", "hat", "ein", "neues", "gesetz", "für", "stadt", "heute", "mit"],
}


def write_langid_files(directory: Path, per_language: int = 40, seed: int = 0) -> dict[str, Path]:
    """train/validation/test TSV files (``per_language`` lines of each language in train, a
    quarter of that in the others); returns their paths by split."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, count in (("train", per_language), ("validation", per_language // 4)):
        lines = [
            f"{language}\t{' '.join(rng.choices(words, k=rng.randint(3, 6)))}"
            for _ in range(count)
            for language, words in WORDS.items()
        ]
        paths[split] = directory / f"{split}.tsv"
        paths[split].write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths["test"] = paths["validation"]
    return paths
