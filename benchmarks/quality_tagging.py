"""Entity F1 of the tagging task on CoNLL-2002 Spanish, and what the second direction buys.

Usage::

    python benchmarks/quality_tagging.py [--data DIR] [--epochs N] [--threads T]
                                         [--workdir DIR] [--only bi|uni] [--sentences N]
                                         [KEY=VALUE ...]

Trains ``conf/experiment/conll2002_es.yaml`` (BiLSTM + character BiLSTM + CRF, no pretrained
vectors) through ``pipeline.train.train``, the code path of ``pipeline train``, twice: with
``task.bidirectional=true`` and with ``task.bidirectional=false``, everything else equal.
Prints, per run, the entity-level F1 / precision / recall and token accuracy on esp.testa
(the test split here; esp.testb is not in ../shared/data), the validation F1 after every
epoch, and the wall time (data preparation included). Extra ``KEY=VALUE`` arguments override
the config for both runs; ``--sentences N`` trains and tests on the first N sentences of each
file (a smoke run).

Each run's best weights then tag esp.testa once more, and seqeval (conlleval's reading, the
test-only oracle) scores those tags against the file's own IOB2 tags: its micro and per-type
F1 are printed beside the task's, and the script fails if the two disagree.

Reference: Lample et al. (2016), LSTM-CRF with character features and pretrained vectors,
85.75 F1 on esp.testb. Target here, without pretrained vectors: F1 >= 0.75.

This is a benchmark: it prints figures and asserts nothing about them, except that seqeval
and the task count the same entities.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from seqeval.metrics import classification_report

from pipeline.config import load_config
from pipeline.inference import load
from pipeline.plugins import Registries, default_registries
from pipeline.train import TrainResult, train
from plugins.tasks.tagging import TaggingTask
from plugins.tasks.tagging.conll import read_conll
from plugins.tasks.tagging.metrics import MICRO, EntityRow, EntityScore, entity_counts

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "conf" / "experiment" / "conll2002_es.yaml"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "conll2002_es"
RUNS = {"bi": "task.bidirectional=true", "uni": "task.bidirectional=false"}


class EpochPrinter(Callback):
    """Print val F1 and the elapsed time after every epoch.

    At train-epoch end, because the epoch's validation has run and the module has logged
    val_f1 by then; a callback's on_validation_epoch_end runs before the module's and would
    read the previous epoch's value.
    """

    def __init__(self, label: str, start: float) -> None:
        self.label, self.start = label, start

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        f1 = float(trainer.callback_metrics.get("val_f1", float("nan")))
        elapsed = time.perf_counter() - self.start
        print(
            f"  [{self.label}] epoch {trainer.current_epoch + 1}: val_f1 {f1:.4f} "
            f"({elapsed:.0f} s)",
            flush=True,
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="esp.train, esp.testa")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (trainer.threads)")
    parser.add_argument("--workdir", type=Path, default=None, help="mlruns/ and cache (kept)")
    parser.add_argument("--only", choices=tuple(RUNS), default=None)
    parser.add_argument("--sentences", type=int, default=None, help="first N of each file")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser.parse_args(argv)


def data_files(args: argparse.Namespace, workdir: Path) -> tuple[Path, Path]:
    """(train, dev) files: the originals, or their first ``--sentences`` in workdir."""
    files = args.data / "esp.train", args.data / "esp.testa"
    if args.sentences is None:
        return files
    cut = []
    for path in files:
        sentences = read_conll(path, "utf-8", 0, -1, str(path))[: args.sentences]
        blocks = ["\n".join(f"{w} {t}" for w, t in zip(*s, strict=True)) for s in sentences]
        cut.append(workdir / path.name)
        cut[-1].write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return cut[0], cut[1]


def run_one(label: str, args: argparse.Namespace, files: tuple[Path, Path]) -> dict[str, Any]:
    """Train one configuration; its test metrics, wall time in seconds and run id."""
    train_file, dev_file = files
    overrides = [
        f"data.train={train_file}",
        f"data.validation={dev_file}",
        f"data.test={dev_file}",
        f"trainer.max_epochs={args.epochs}",
        f"trainer.threads={args.threads}",
        "trainer.progress_bar=false",
        "tracking.experiment=quality_tagging",
        RUNS[label],
        *args.overrides,
    ]
    registries = default_registries()
    cfg = load_config(CONFIG, overrides, registries)
    start = time.perf_counter()
    result = train(cfg, registries=registries, callbacks=[EpochPrinter(label, start)])
    metrics = {k: v for k, v in result.metrics.items() if k.startswith(("test_", "best_"))}
    wall = time.perf_counter() - start
    check_with_seqeval(result, registries, dev_file)
    return {**metrics, "wall_s": wall, "run_id": result.run_id}


def check_with_seqeval(result: TrainResult, registries: Registries, dev_file: Path) -> None:
    """Tag dev_file with the run's best weights; print the task's and seqeval's entity scores
    and exit with status 1 if they differ. seqeval reads the file's IOB2 gold tags and the
    network's IOBES predictions itself, so the scheme conversion is checked as well."""
    trained = load(result.run_id, result.tracking_uri, registries)
    task = trained.task
    if not isinstance(task, TaggingTask):
        raise SystemExit(f"run {result.run_id} is not a tagging run")
    task.prepare_data(Path(trained.cfg.data.cache_dir))
    options = task.options
    gold = read_conll(
        dev_file, trained.cfg.data.encoding, options.word_column, options.tag_column, "data.test"
    )
    tagged = list(task.tagged(trained.network.eval(), "test"))
    if [len(g) for g, _ in tagged] != [len(sentence.tags) for sentence in gold]:
        raise SystemExit(f"the test split of run {result.run_id} is not {dev_file} in order")
    score = EntityScore("f1", len(task.types))
    score.update(entity_counts(tagged, task.types))
    problems = seqeval_disagreements(
        score.table(task.types),
        [sentence.tags for sentence in gold],
        [predicted for _, predicted in tagged],
        result.metrics["test_f1"],
    )
    if problems:
        raise SystemExit("entity scores disagree with seqeval: " + "; ".join(problems))
    print("  seqeval agrees (micro and per type)", flush=True)


def seqeval_disagreements(
    rows: list[EntityRow], gold: list[list[str]], predicted: list[list[str]], logged_f1: float
) -> list[str]:
    """Print the task's rows beside seqeval's F1; the rows (and logged F1) that differ."""
    theirs = classification_report(gold, predicted, output_dict=True, zero_division=0)
    problems: list[str] = []
    micro = theirs[MICRO]["f1-score"]  # seqeval names its micro average as the task does
    if abs(logged_f1 - micro) > 1e-6:  # logged as float32
        problems.append(f"test_f1 logged {logged_f1:.6f} but seqeval {micro:.6f}")
    print(f"  {'type':<9} {'F1':>8} {'seqeval':>8} {'support':>8}")
    for row in rows:
        reference = theirs.get(row.type, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
        print(f"  {row.type:<9} {row.f1:8.4f} {reference['f1-score']:8.4f} {row.support:8d}")
        expected = (reference["precision"], reference["recall"], reference["f1-score"])
        if any(abs(a - b) > 1e-9 for a, b in zip(row[1:4], expected, strict=True)):
            problems.append(f"{row.type}: P/R/F1 {row[1:4]} but seqeval {expected}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.data = args.data.resolve()
    if not (args.data / "esp.train").is_file():
        print(f"no esp.train in {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    logging.getLogger("lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="quality_tagging-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    files = data_files(args, workdir)
    os.chdir(workdir)
    sentences = f"first {args.sentences} sentences" if args.sentences else "all sentences"
    print(
        f"CoNLL-2002 es ({sentences}), {args.epochs} epochs, torch {torch.__version__}, "
        f"threads {args.threads}, {platform.processor() or platform.machine()}, load "
        f"{os.getloadavg()[0]:.1f}, workdir {workdir}",
        flush=True,
    )
    results = {}
    for label in [args.only] if args.only else list(RUNS):
        results[label] = run_one(label, args, files)
        r = results[label]
        print(
            f"{label:>4}: esp.testa F1 {r['test_f1']:.4f}  P {r['test_precision']:.4f}  "
            f"R {r['test_recall']:.4f}  token acc {r['test_accuracy']:.4f}  "
            f"wall {r['wall_s']:.0f} s",
            flush=True,
        )
    print(f"load at end {os.getloadavg()[0]:.1f}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
