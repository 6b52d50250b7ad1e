"""Tiny generated data for claim e, where reading right to left matters by construction.

- Tagging (CoNLL ``word tag`` lines): an ambiguous name ("Victoria", "Granada") is a person,
  a place or an organisation, and only the verb after it says which ("cotiza en bolsa"). A
  left-to-right tagger has not read it yet when it tags the name.
- Classification (``LABEL text`` lines): the first word decides the label and 20 to 30
  neutral words follow; a left-to-right reader must carry it to the end, the backward
  direction reads it last.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

NAMES = ("Victoria", "Granada", "Santander", "Mercedes", "Lorca", "Jaén", "Alicante", "Pilar")
CUES = {
    "LOC": ("limita con el río", "acoge el festival", "tiene playas"),
    "ORG": ("cotiza en bolsa", "contrató a cien personas", "factura millones"),
    "PER": ("declaró ante el juez", "cantó en el festival", "nació en un pueblo"),
}
PREFACES = ("", "ayer", "según fuentes oficiales", "el lunes pasado", "por fin")
ENDINGS = ("desde hace años", "según la prensa", "este verano", "otra vez")
POSITIVE = ("excelente", "magnífico", "genial", "estupendo")
NEGATIVE = ("terrible", "pésimo", "horrible", "lamentable")
NEUTRAL = (
    "el",
    "la",
    "un",
    "una",
    "de",
    "en",
    "con",
    "por",
    "para",
    "sobre",
    "entre",
    "tras",
    "durante",
    "según",
    "cada",
    "otro",
    "mismo",
    "año",
    "día",
    "semana",
    "mes",
    "ciudad",
    "país",
    "gente",
    "casa",
    "trabajo",
    "tiempo",
    "parte",
    "vez",
    "caso",
    "grupo",
    "lugar",
    "forma",
    "mundo",
    "historia",
    "tarde",
    "noche",
    "mañana",
    "hora",
    "centro",
    "calle",
    "obra",
    "plan",
)
SPLITS = (("train", 1.0), ("validation", 0.25), ("test", 0.25))
"""Split -> its size relative to train."""


def tagging_sentence(rng: random.Random) -> list[tuple[str, str]]:
    """(word, IOB2 tag) pairs of one sentence."""
    kind = rng.choice(tuple(CUES))
    preface = rng.choice(PREFACES).split()
    words = [(w, "O") for w in preface]
    words.append((rng.choice(NAMES), f"B-{kind}"))
    words += [(w, "O") for w in rng.choice(CUES[kind]).split()]
    words += [(w, "O") for w in rng.choice(ENDINGS).split()] + [(".", "O")]
    return words


def classification_line(rng: random.Random) -> str:
    """``LABEL text``: 1 when the first word is positive, 0 when negative."""
    label = rng.randrange(2)
    first = rng.choice(POSITIVE if label else NEGATIVE)
    rest = [rng.choice(NEUTRAL) for _ in range(rng.randint(20, 30))]
    return f"{label} {first} {' '.join(rest)}"


def write_tagging(directory: Path, sentences: int, seed: int) -> dict[str, Path]:
    """train/valid/test CoNLL files (a blank line after each sentence); paths by split."""

    def text(rng: random.Random, count: int) -> str:
        blocks = ("\n".join(f"{w} {t}" for w, t in tagging_sentence(rng)) for _ in range(count))
        return "\n\n".join(blocks) + "\n"

    return _write(directory, "conll", sentences, seed, text)


def write_classification(directory: Path, texts: int, seed: int) -> dict[str, Path]:
    """train/valid/test ``LABEL text`` files; paths by split."""

    def text(rng: random.Random, count: int) -> str:
        return "".join(classification_line(rng) + "\n" for _ in range(count))

    return _write(directory, "txt", texts, seed, text)


def _write(
    directory: Path, suffix: str, size: int, seed: int, text: Callable[[random.Random, int], str]
) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for index, (split, fraction) in enumerate(SPLITS):
        rng = random.Random(seed * 3 + index)
        paths[split] = directory / f"{split}.{suffix}"
        paths[split].write_text(text(rng, max(4, int(size * fraction))), encoding="utf-8")
    return paths
