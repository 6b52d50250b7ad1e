"""The Pontevedra probe: generated long-dependency sentences and next-word accuracy by distance."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.inference import load
from pipeline.plugins import default_registries
from pipeline.tracking import Tracker
from plugins.tasks.language_model import pontevedra
from plugins.tasks.language_model.pontevedra import PLACES, RELATIVES


@pytest.mark.parametrize("distance", [6, 8, 9, 17, 40])
def test_the_language_word_comes_exactly_n_tokens_after_its_place(distance: int) -> None:
    rng = random.Random(distance)
    for _ in range(30):
        sentence = pontevedra.probe_sentence(rng, distance)
        words = sentence.text.split()
        place = next(i for i, w in enumerate(words) if any(w in p for p in PLACES.values()))
        assert words.index(sentence.target) - place == sentence.distance == distance
        assert words[place] in PLACES[sentence.target]  # the place decides the language
        pronoun = words[-6]
        assert words[1] in RELATIVES[pronoun] and words[-5:-2] == ["habla", "un", "perfecto"]


def test_a_distance_the_filler_cannot_make_is_refused() -> None:
    with pytest.raises(ValueError, match="distance"):
        pontevedra.probe_sentence(random.Random(0), 7)


def test_corpus_splits_hold_every_distance(tmp_path: Path) -> None:
    paths = pontevedra.write_probe_corpus(tmp_path, per_distance=20, distances=(6, 12), seed=3)
    lines = paths["train"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40 and all(line.endswith(" .") for line in lines)
    assert len(paths["test"].read_text(encoding="utf-8").splitlines()) == 4


def test_train_and_probe_logs_accuracy_by_distance(lm_config: Path, workdir: Path) -> None:
    registries = default_registries()
    cfg = load_config(lm_config, ["trainer.max_epochs=1"], registries)
    distances = (6, 12)
    result = pontevedra.train_and_probe(cfg, workdir / "probe", registries, 20, distances)
    assert set(result.accuracy) == set(distances)
    assert result.chance == pytest.approx(1 / 6)

    trained = load(result.run_id, registries=registries)  # independently: predict's top word
    held_out = pontevedra.held_out_sentences(cfg.seed, 20, distances)
    predictions = trained.task.predict(trained.network, [s.prefix for s in held_out], top_k=1)
    for n in distances:
        hits = [
            p["next"][0]["token"] == s.target
            for s, p in zip(held_out, predictions, strict=True)
            if s.distance == n
        ]
        assert result.accuracy[n] == pytest.approx(sum(hits) / len(hits))
    tracker = Tracker(None)
    for n in distances:
        assert tracker.metric_history(result.run_id, f"probe_accuracy_n{n}") == [
            pytest.approx(result.accuracy[n])
        ]
