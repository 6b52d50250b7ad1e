"""Entity F1 of the tagging task on CoNLL-2002 Spanish, and what the second direction buys.

Usage::

    python benchmarks/quality_tagging.py [--data DIR] [--epochs N] [--threads T]
                                         [--workdir DIR] [--only bi|uni] [KEY=VALUE ...]

Trains ``conf/experiment/conll2002_es.yaml`` (BiLSTM + character BiLSTM + CRF, no pretrained
vectors) through ``pipeline.train.train``, the code path of ``pipeline train``, twice: with
``task.bidirectional=true`` and with ``task.bidirectional=false``, everything else equal.
Prints, per run, the entity-level F1 / precision / recall and token accuracy on esp.testa
(the test split here; esp.testb is not in ../shared/data), the validation F1 after every
epoch, and the wall time (data preparation included). Extra ``KEY=VALUE`` arguments override
the config for both runs.

Reference: Lample et al. (2016), LSTM-CRF with character features and pretrained vectors,
85.75 F1 on esp.testb. Target here, without pretrained vectors: F1 >= 0.75.

This is a benchmark: it prints figures and asserts nothing about them.
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

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from pipeline.config import load_config
from pipeline.plugins import default_registries
from pipeline.train import train

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "conf" / "experiment" / "conll2002_es.yaml"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "conll2002_es"
RUNS = {"bi": "task.bidirectional=true", "uni": "task.bidirectional=false"}


class EpochPrinter(Callback):
    """Print val F1 and the elapsed time after every validation epoch (sanity check skipped)."""

    def __init__(self, label: str, start: float) -> None:
        self.label, self.start = label, start

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
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
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser.parse_args(argv)


def run_one(label: str, args: argparse.Namespace) -> dict[str, float]:
    """Train one configuration; its test metrics plus wall time in seconds."""
    train_file, dev_file = args.data / "esp.train", args.data / "esp.testa"
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
    return {**metrics, "wall_s": time.perf_counter() - start, "run_id": result.run_id}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.data = args.data.resolve()
    if not (args.data / "esp.train").is_file():
        print(f"no esp.train in {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    logging.getLogger("lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="quality_tagging-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    print(
        f"CoNLL-2002 es, {args.epochs} epochs, torch {torch.__version__}, threads "
        f"{args.threads}, {platform.processor() or platform.machine()}, load "
        f"{os.getloadavg()[0]:.1f}, workdir {workdir}",
        flush=True,
    )
    results = {}
    for label in [args.only] if args.only else list(RUNS):
        results[label] = run_one(label, args)
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
