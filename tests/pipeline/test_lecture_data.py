"""The generated data of claim e needs right-to-left reading by construction."""

from __future__ import annotations

import random
from pathlib import Path

from pipeline.lecture import synthetic


def test_only_the_words_after_a_name_decide_its_type() -> None:
    rng = random.Random(0)
    after: dict[str, set[str]] = {}
    before: dict[str, set[str]] = {}
    for _ in range(300):
        words = synthetic.tagging_sentence(rng)
        index = next(i for i, (_, tag) in enumerate(words) if tag != "O")
        kind = words[index][1]
        after.setdefault(words[index + 1][0], set()).add(kind)
        before.setdefault(" ".join(w for w, _ in words[:index]), set()).add(kind)
        assert words[index][0] in synthetic.NAMES
    assert all(len(kinds) == 1 for kinds in after.values())  # the next word decides
    assert any(len(kinds) == 3 for kinds in before.values())  # what came before does not


def test_the_first_word_decides_the_class(tmp_path: Path) -> None:
    paths = synthetic.write_classification(tmp_path, 40, seed=1)
    lines = paths["train"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40
    for line in lines:
        label, first, *rest = line.split()
        assert first in (synthetic.POSITIVE if label == "1" else synthetic.NEGATIVE)
        assert 20 <= len(rest) <= 30
    conll = synthetic.write_tagging(tmp_path / "tags", 8, seed=1)["test"].read_text("utf-8")
    assert conll.count("\n\n") == 3  # four sentences (the least a split gets), blank lines between
