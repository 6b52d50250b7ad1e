"""The lecture's long-dependency probe: "Mi padre nació en Pontevedra ... Él habla un perfecto
gallego". A place named early decides a word N tokens later; a language model that keeps the
place in its state predicts the language, one that forgets it can only guess among them.

- :func:`probe_sentences` generates such sentences (tokens separated by spaces) with the
  distance N from the place to the language word set exactly by neutral filler clauses;
  :func:`write_probe_corpus` writes train/valid/test files of them for a ``language_model`` run.
- :func:`probe_accuracy` measures a trained model's next-word accuracy on the language word,
  by N; :func:`train_and_probe` trains a run on the corpus, probes it and logs
  ``probe_accuracy_n<N>`` into the run (a step a report can call).

Chance for a model that forgot the place is ``1 / len(LANGUAGES)``.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from pipeline.config import Config
    from pipeline.plugins import Registries
    from plugins.tasks.language_model.task import LanguageModelTask

PLACES = {
    "gallego": ("Pontevedra", "Lugo", "Ourense", "Vigo"),
    "catalán": ("Girona", "Lleida", "Tarragona", "Barcelona"),
    "euskera": ("Bilbao", "Getxo", "Tolosa", "Durango"),
    "portugués": ("Lisboa", "Oporto", "Coímbra", "Braga"),
    "francés": ("París", "Lyon", "Marsella", "Burdeos"),
    "italiano": ("Roma", "Nápoles", "Milán", "Turín"),
}
"""Language -> single-token places where it is spoken."""
LANGUAGES = tuple(PLACES)
RELATIVES = {"Él": ("padre", "abuelo", "tío", "hermano"), "Ella": ("madre", "abuela", "tía")}
"""Pronoun -> relatives it refers to."""
FILLERS = (
    ", luego",
    ", hace años",
    ", sin embargo",
    ", como sus hermanos",
    ", donde estudió en el instituto",
    ", aunque ahora vive en otra ciudad",
    ", y pasó su juventud junto al mar",
    ", y trabajó en una fábrica de conservas",
    ", y después se mudó a la capital",
    ", y todos los veranos volvemos a visitar la casa",
)
"""Neutral clauses (2 to 10 tokens) that stretch the distance; none names a place."""
TAIL = ". {pronoun} habla un perfecto"
BASE_DISTANCE = len(TAIL.split()) + 1
"""N without filler: the place, then the tail, then the language word."""
DISTANCES = (6, 10, 15, 20, 30, 40)


@dataclass(frozen=True)
class ProbeSentence:
    """``prefix`` ends right before the language word ``target``, N tokens after the place."""

    prefix: str
    target: str
    distance: int

    @property
    def text(self) -> str:
        return f"{self.prefix} {self.target} ."


def _filler(rng: random.Random, length: int) -> list[str]:
    """Clauses of exactly ``length`` tokens (0 or at least 2)."""
    tokens: list[str] = []
    while len(tokens) < length:
        left = length - len(tokens)
        fits = [c.split() for c in FILLERS if len(c.split()) in (left, *range(2, left - 1))]
        tokens += rng.choice(fits)
    return tokens


def probe_sentence(rng: random.Random, distance: int) -> ProbeSentence:
    """One sentence whose language word comes ``distance`` tokens after the place."""
    if distance != BASE_DISTANCE and distance < BASE_DISTANCE + 2:
        raise ValueError(f"distance must be {BASE_DISTANCE} or at least {BASE_DISTANCE + 2}")
    language = rng.choice(LANGUAGES)
    pronoun = rng.choice(tuple(RELATIVES))
    words = ["Mi", rng.choice(RELATIVES[pronoun]), "nació", "en", rng.choice(PLACES[language])]
    words += _filler(rng, distance - BASE_DISTANCE) + TAIL.format(pronoun=pronoun).split()
    return ProbeSentence(" ".join(words), language, distance)


def probe_sentences(
    per_distance: int, distances: Sequence[int] = DISTANCES, seed: int = 0
) -> list[ProbeSentence]:
    """``per_distance`` sentences for each N, the same for the same seed."""
    rng = random.Random(seed)
    return [probe_sentence(rng, n) for n in distances for _ in range(per_distance)]


def write_probe_corpus(
    directory: Path,
    per_distance: int = 200,
    distances: Sequence[int] = DISTANCES,
    seed: int = 0,
) -> dict[str, Path]:
    """train/valid/test.txt (shuffled, each split its own seed); paths by split name.

    valid and test hold a tenth of train's sentences per distance."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for index, (split, name) in enumerate(
        (("train", "train.txt"), ("validation", "valid.txt"), ("test", "test.txt"))
    ):
        count = per_distance if split == "train" else max(1, per_distance // 10)
        sentences = probe_sentences(count, distances, seed * 3 + index)
        random.Random(seed).shuffle(sentences)
        paths[split] = directory / name
        paths[split].write_text("".join(s.text + "\n" for s in sentences), encoding="utf-8")
    return paths


def held_out_sentences(
    seed: int, per_distance: int, distances: Sequence[int] = DISTANCES
) -> list[ProbeSentence]:
    """The probe's own sentences: a quarter of ``per_distance``, a seed no corpus split uses."""
    return probe_sentences(max(1, per_distance // 4), distances, seed * 3 + 3)


@torch.no_grad()
def probe_accuracy(
    task: LanguageModelTask, network: nn.Module, sentences: Sequence[ProbeSentence]
) -> dict[int, float]:
    """Top-1 next-word accuracy on each sentence's language word, by distance N."""
    tokenizer = task.fitted_tokenizer
    device = next(network.parameters()).device
    network.eval()
    hits: dict[int, list[bool]] = {}
    for distance in sorted({s.distance for s in sentences}):
        group = [s for s in sentences if s.distance == distance]  # equal prefix lengths
        ids = [[tokenizer.eos_id, *tokenizer.encode(s.prefix)] for s in group]
        logits, _ = network(torch.tensor(ids, device=device))  # (B, T, V)
        predicted = logits[:, -1].argmax(-1).tolist()
        targets = [tokenizer.token_to_id(s.target) for s in group]
        hits[distance] = [p == t for p, t in zip(predicted, targets, strict=True)]
    return {n: sum(h) / len(h) for n, h in hits.items()}


@dataclass
class ProbeResult:
    run_id: str
    accuracy: dict[int, float]
    """Next-word accuracy on the language word by distance N."""
    chance: float = 1 / len(LANGUAGES)


def train_and_probe(
    cfg: Config,
    directory: Path,
    registries: Registries | None = None,
    per_distance: int = 200,
    distances: Sequence[int] = DISTANCES,
) -> ProbeResult:
    """Train cfg's language model on a probe corpus written into directory, probe held-out
    sentences (their own seed) and log ``probe_accuracy_n<N>`` into the run."""
    from pipeline.inference import load
    from pipeline.tracking import Tracker
    from pipeline.train import train

    paths = write_probe_corpus(directory, per_distance, distances, cfg.seed)
    train_file, validation, test = (str(paths[s]) for s in ("train", "validation", "test"))
    data = dataclasses.replace(
        cfg.data, name=None, train=train_file, validation=validation, test=test
    )
    result = train(dataclasses.replace(cfg, data=data), registries=registries)
    trained = load(result.run_id, result.tracking_uri, registries)
    held_out = held_out_sentences(cfg.seed, per_distance, distances)
    task: LanguageModelTask = trained.task  # type: ignore[assignment]  # the config's task
    accuracy = probe_accuracy(task, trained.network, held_out)
    metrics = {f"probe_accuracy_n{n}": value for n, value in accuracy.items()}
    Tracker(result.tracking_uri).log_metrics(result.run_id, metrics)
    return ProbeResult(result.run_id, accuracy)
