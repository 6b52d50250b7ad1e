"""Tests for the Spanish demo-corpus generator, the language model's demo data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from plugins.tasks.language_model.demo_corpus import generate_sentences, main, write_demo_corpus
from plugins.tasks.language_model.demo_lexicon import FEMININE_NOUNS, MASCULINE_NOUNS


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return generate_sentences(6000, seed=0)


def _continuations(lines: list[str], prefix: tuple[str, ...]) -> Counter[str]:
    """Count the word that follows ``prefix`` (a run of tokens) anywhere in ``lines``."""
    found: Counter[str] = Counter()
    for line in lines:
        words = line.split()
        for i in range(len(words) - len(prefix)):
            if tuple(words[i : i + len(prefix)]) == prefix:
                found[words[i + len(prefix)]] += 1
    return found


def test_same_seed_gives_same_sentences() -> None:
    assert generate_sentences(300, seed=7) == generate_sentences(300, seed=7)


def test_different_seeds_give_different_sentences() -> None:
    first, second = generate_sentences(300, seed=1), generate_sentences(300, seed=2)
    assert first != second
    assert len(set(first) & set(second)) < 100


def test_sentences_are_tokenised_lines(sentences: list[str]) -> None:
    assert len(sentences) == 6000
    for line in sentences:
        assert line and "\n" not in line and "  " not in line and line == line.strip()
        assert line.endswith(" .") and line[0].isupper()
        assert "{" not in line and "}" not in line


def test_vocabulary_is_varied(sentences: list[str]) -> None:
    types = {word for line in sentences for word in line.split()}
    assert 1000 <= len(types) <= 2000
    assert len(set(sentences)) > 0.8 * len(sentences)


def test_noun_lists_do_not_overlap() -> None:
    assert MASCULINE_NOUNS and FEMININE_NOUNS
    assert not MASCULINE_NOUNS & FEMININE_NOUNS


def test_aprobo_un_is_followed_by_a_masculine_noun(sentences: list[str]) -> None:
    found = _continuations(sentences, ("aprobó", "un"))
    assert sum(found.values()) > 100
    assert set(found) <= MASCULINE_NOUNS


def test_aprobo_una_is_followed_by_a_feminine_noun(sentences: list[str]) -> None:
    found = _continuations(sentences, ("aprobó", "una"))
    assert sum(found.values()) > 100
    assert set(found) <= FEMININE_NOUNS


def test_lecture_prefix_has_the_lecture_candidates(sentences: list[str]) -> None:
    found = _continuations(sentences, ("El", "gobierno", "aprobó", "un"))
    assert {"decreto", "plan", "acuerdo", "aumento"} <= set(found)


def test_write_demo_corpus_writes_the_requested_lines(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "demo"
    paths = write_demo_corpus(out, n_train=120, n_valid=30, n_test=20, seed=3)
    assert set(paths) == {"train", "validation", "test"}
    expected = {
        "train": ("train.txt", 120),
        "validation": ("valid.txt", 30),
        "test": ("test.txt", 20),
    }
    splits = {}
    for split, (name, count) in expected.items():
        assert paths[split] == out / name
        text = paths[split].read_text(encoding="utf-8")
        assert text.endswith("\n")
        splits[split] = text.splitlines()
        assert len(splits[split]) == count and all(splits[split])
    assert not set(splits["train"]) & set(splits["validation"])
    assert not set(splits["train"]) & set(splits["test"])
    assert not set(splits["validation"]) & set(splits["test"])


def test_write_demo_corpus_is_deterministic(tmp_path: Path) -> None:
    first = write_demo_corpus(tmp_path / "a", 50, 10, 10, seed=4)
    second = write_demo_corpus(tmp_path / "b", 50, 10, 10, seed=4)
    for split in first:
        assert first[split].read_bytes() == second[split].read_bytes()


def test_main_writes_the_corpus(tmp_path: Path) -> None:
    assert main([str(tmp_path), "--seed", "1", "--train", "8", "--valid", "3", "--test", "2"]) == 0
    counts = {
        name: len((tmp_path / name).read_text(encoding="utf-8").splitlines())
        for name in ("train.txt", "valid.txt", "test.txt")
    }
    assert counts == {"train.txt": 8, "valid.txt": 3, "test.txt": 2}
