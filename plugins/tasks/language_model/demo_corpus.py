"""Deterministic generator of a small Spanish news-style corpus: the language model's demo data.

Sentences come from this module's own templates: politics (the lecture's "El gobierno aprobó
un ..."), economy, sports, culture, weather and health. Tokens are separated by single spaces
and punctuation is a token of its own. Templates name their ``{slots}``; a slot is filled from
``SLOTS`` (a random phrase) or ``MAKERS`` (a function), once per sentence.

Usage: ``python -m plugins.tasks.language_model.demo_corpus OUTDIR [--seed S] [--train N]
[--valid N] [--test N]``
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path

from plugins.tasks.language_model.demo_lexicon import (
    ADV_VERBS,
    CRITICS,
    CULTURE,
    DOMAINS,
    ECONOMY,
    FEMALE_NAMES,
    GOV_VERBS,
    HEALTH,
    INDICATORS,
    MALE_NAMES,
    MONTHS,
    NEG_REASONS,
    POLITICS,
    POS_REASONS,
    REACTIONS,
    REGIONAL,
    SLOTS,
    SPORTS,
    SUBJECTS,
    SURNAMES,
    TEAMS,
    WEATHER,
    Phrases,
)


def _prep(prep: str, phrase: str) -> str:
    """Join ``a``/``de`` with a phrase, contracting ``a el`` and ``de el``."""
    if prep in ("a", "de") and phrase.startswith("el "):
        return ("al " if prep == "a" else "del ") + phrase[3:]
    return f"{prep} {phrase}"


def _person(rng: random.Random, female: bool) -> str:
    return f"{rng.choice(FEMALE_NAMES if female else MALE_NAMES)} {rng.choice(SURNAMES)}"


MAKERS: dict[str, Callable[[random.Random], str]] = {
    "pct": lambda rng: f"{rng.randint(0, 6)},{rng.randint(1, 9)}",
    "man": lambda rng: _person(rng, False),
    "rival": lambda rng: _person(rng, False),
    "woman": lambda rng: _person(rng, True),
    "rival_f": lambda rng: _person(rng, True),
}


class _Slots(dict[str, str]):
    """Values for ``str.format_map``: a missing slot is drawn on first use, then kept."""

    def __init__(self, rng: random.Random, **fixed: str) -> None:
        super().__init__(fixed)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        maker = MAKERS.get(key)
        self[key] = maker(self.rng) if maker else self.rng.choice(SLOTS[key])
        return self[key]


def _fill(rng: random.Random, template: str, **fixed: str) -> str:
    """Fill ``template``, repeating while filled slots bring in slots of their own."""
    slots, text = _Slots(rng, **fixed), template
    while "{" in text:
        text = text.format_map(slots)
    return text


# --- sentence families --------------------------------------------------------------------
def _politics(rng: random.Random) -> str:
    subject, kind, domains, _ = rng.choices(SUBJECTS, weights=[int(s[3]) for s in SUBJECTS])[0]
    codes = {"*": ",".join(DOMAINS), "R": REGIONAL}.get(domains, domains)
    masc, fem, purposes = DOMAINS[rng.choice(codes.split(","))]
    feminine = rng.random() < 0.4
    phrase = rng.choice(fem if feminine else masc)
    if rng.random() < 0.2:
        return _reaction(rng, subject, phrase, feminine)
    template = rng.choices(POLITICS, weights=(5, 3, 2, 2, 1))[0]
    return _fill(
        rng,
        template,
        subject=subject,
        obj=f"{'una' if feminine else 'un'} {phrase}",
        verb=rng.choice(GOV_VERBS if kind == "gov" else ADV_VERBS),
        purpose=rng.choice(purposes),
        o="a" if feminine else "o",
    )


def _reaction(rng: random.Random, author: str, phrase: str, feminine: bool) -> str:
    critic, number = rng.choice([c for c in CRITICS if c[0] != author])
    singular, plural, sign = rng.choice(REACTIONS)
    reason = rng.choice(POS_REASONS if sign == "+" else NEG_REASONS)
    verb, article = plural if number == "pl" else singular, "la" if feminine else "el"
    return f"{critic} {verb} {article} {phrase} {_prep('de', author)} porque {reason} ."


def _indicator(rng: random.Random) -> str:
    name, number, source = rng.choice(INDICATORS)
    verb = rng.choice(("subieron", "bajaron") if number == "pl" else ("subió", "bajó"))
    return _fill(rng, f"{name} {verb} un {{pct}} % en {rng.choice(MONTHS)} , según {source} .")


def _match(rng: random.Random) -> str:
    (home, stadium), (away, _) = rng.sample(TEAMS, 2)
    low = rng.randint(0, 2)
    high = low + rng.randint(1, 3)
    return _fill(
        rng,
        rng.choice(
            (
                f"{home} ganó {_prep('a', away)} por {high} - {low} en {stadium} .",
                f"{home} empató a {{draw}} con {away} en {stadium} .",
                f"{home} perdió en {stadium} contra {away} por {low} - {high} y {{consequence}} .",
                f"{{man}} marcó {{goals}} en la victoria {_prep('de', home)} ante {away} .",
            )
        ),
    )


def _from(templates: Phrases) -> Callable[[random.Random], str]:
    """Sentence builder that fills one of ``templates`` at random."""
    return lambda rng: _fill(rng, rng.choice(templates))


FAMILIES: tuple[tuple[Callable[[random.Random], str], int], ...] = (
    (_politics, 40),
    (_indicator, 6),
    (_from(ECONOMY), 9),
    (_match, 10),
    (_from(SPORTS), 5),
    (_from(CULTURE), 10),
    (_from(WEATHER), 10),
    (_from(HEALTH), 10),
)


def _sentence(rng: random.Random) -> str:
    builder = rng.choices([f for f, _ in FAMILIES], weights=[w for _, w in FAMILIES])[0]
    text = " ".join(builder(rng).split())
    return text[0].upper() + text[1:]


# --- public API ---------------------------------------------------------------------------
def generate_sentences(n: int, seed: int = 0) -> list[str]:
    """Return ``n`` tokenised Spanish sentences, identical for identical ``seed``."""
    rng = random.Random(seed)
    return [_sentence(rng) for _ in range(n)]


def write_demo_corpus(
    directory: Path, n_train: int = 6000, n_valid: int = 600, n_test: int = 600, seed: int = 0
) -> dict[str, Path]:
    """Write train/valid/test.txt into ``directory``; return their paths by split name.

    Split i draws from its own stream (seed ``3 * seed + i``); valid and test skip sentences of
    earlier splits, so no line is shared between files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    splits = (
        ("train", "train.txt", n_train),
        ("validation", "valid.txt", n_valid),
        ("test", "test.txt", n_test),
    )
    paths: dict[str, Path] = {}
    seen: set[str] = set()
    for index, (split, filename, count) in enumerate(splits):
        rng = random.Random(seed * 3 + index)
        lines: list[str] = []
        while len(lines) < count:
            line = _sentence(rng)
            lines += [] if line in seen else [line]
        seen.update(lines)
        paths[split] = directory / filename
        paths[split].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: write the demo corpus into OUTDIR."""
    parser = argparse.ArgumentParser(description="Write a small Spanish demo corpus.")
    parser.add_argument("outdir", type=Path, help="directory for train/valid/test.txt")
    for flag, default in (("--seed", 0), ("--train", 6000), ("--valid", 600), ("--test", 600)):
        parser.add_argument(flag, type=int, default=default)
    args = parser.parse_args(argv)
    paths = write_demo_corpus(args.outdir, args.train, args.valid, args.test, args.seed)
    for split, path in paths.items():
        print(f"{split}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
