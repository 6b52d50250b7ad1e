"""End to end through the CLI: a tiny synthetic Spanish NER corpus, trained with and without CRF.

Capitalised names after "señor"/"señora" are PER (one or two words), the word after "en" is LOC;
sentences without entities are mixed in. The corpus is written to tmp_path in CoNLL format
(``word POS tag``), so no shared data is read.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from cli_json import run_json
from mlflow.tracking import MlflowClient
from tiny import TINY_CONFIG

from pipeline.cli import main
from pipeline.tracking import tracking_uri

pytestmark = pytest.mark.slow

FIRST = ["Juan", "Ana", "Luis", "María", "Pedro", "Carmen", "Rosa", "Jorge"]
LAST = ["García", "López", "Martínez", "Pérez", "Sánchez", "Romero", "Navarro", "Torres"]
PLACES = ["Madrid", "Sevilla", "Valencia", "Bilbao", "Lima", "Quito", "Bogotá", "Toledo"]
TEMPLATES = [
    "el {title} {PER} vive en {LOC} .",
    "ayer el {title} {PER} habló en {LOC} con la prensa .",
    "la reunión fue en {LOC} .",
    "el {title} {PER} llegó tarde .",
    "el gobierno aprobó un decreto .",
]


def sentence(generator: random.Random) -> list[tuple[str, str]]:
    """One sentence as (word, IOB2 tag) pairs."""
    template = generator.choice(TEMPLATES)
    pairs: list[tuple[str, str]] = []
    for word in template.split():
        if word == "{PER}":
            names = [generator.choice(LAST)]
            if generator.random() < 0.5:
                names.insert(0, generator.choice(FIRST))
            pairs += [(n, "B-PER" if i == 0 else "I-PER") for i, n in enumerate(names)]
        elif word == "{LOC}":
            pairs.append((generator.choice(PLACES), "B-LOC"))
        elif word == "{title}":
            pairs.append((generator.choice(["señor", "señora"]), "O"))
        else:
            pairs.append((word, "O"))
    return pairs


def write_split(path: Path, count: int, seed: int) -> str:
    generator = random.Random(seed)
    lines = ["-DOCSTART- -X- O", ""]
    for _ in range(count):
        lines += [f"{word} X {tag}" for word, tag in sentence(generator)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


@pytest.fixture
def ner_config(workdir: Path) -> Path:
    config = {
        "task": {"name": "tagging"},
        "data": {
            "train": write_split(workdir / "train.conll", 240, 1),
            "validation": write_split(workdir / "valid.conll", 40, 2),
            "test": write_split(workdir / "test.conll", 40, 3),
            "batch_size": 8,
            "eval_batch_size": 32,
        },
        "tokenizer": {"vocab_size": 200},
        "model": {"embedding_size": 16, "hidden_size": 16, "num_layers": 1, "dropout": 0.0},
        "optim": {"name": "adam", "lr": 0.02},
        "trainer": {**TINY_CONFIG["trainer"], "max_epochs": 4, "log_every_n_steps": 5},
        "tracking": {"experiment": "tests"},
    }
    path = workdir / "ner.yaml"
    path.write_text("# pipeline train ner.yaml\n" + yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "overrides",
    [["task.crf=false"], ["task.crf=true", "task.char_features=cnn"]],
    ids=["softmax", "crf+chars"],
)
def test_train_predict_evaluate(ner_config: Path, capsys, overrides: list[str]) -> None:
    trained = run_json(capsys, "train", str(ner_config), *overrides)
    client = MlflowClient(tracking_uri())
    run = client.get_run(trained["run_id"])
    assert run.info.status == "FINISHED"
    metrics = trained["metrics"]
    assert metrics["val_f1"] > 0.6 and metrics["best_val_f1"] >= metrics["val_f1"] - 1e-6
    for name in ("loss", "accuracy", "f1", "precision", "recall"):
        assert f"test_{name}" in run.data.metrics
    assert run.data.params["task.crf"] == overrides[0].split("=")[1].capitalize()
    assert run.data.params["data.entity_types"] == "LOC,PER"
    reports = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert "reports/entities_test.md" in reports

    predicted = run_json(
        capsys, "predict", "--run", trained["run_id"], "el señor Luis Torres vive en Quito ."
    )
    [prediction] = predicted["predictions"]
    assert len(prediction["tags"]) == len(prediction["words"]) == 8
    found = {(e["type"], e["text"]) for e in prediction["entities"]}
    assert ("LOC", "Quito") in found
    assert all(set(e) == {"type", "start", "end", "text"} for e in prediction["entities"])

    evaluated = run_json(capsys, "evaluate", "--run", trained["run_id"])
    assert evaluated["metrics"]["test_f1"] == pytest.approx(metrics["test_f1"], abs=1e-6)

    assert main(["predict", "--run", trained["run_id"], "la señora Ana Ruiz llegó tarde ."]) == 0
    assert "tags: la/" in capsys.readouterr().out
