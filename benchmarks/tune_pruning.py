"""Pruning pays: the same study (same space, seed and trial count) with the median pruner and
with none, on the demo corpus. Prints epochs trained, wall time and best value of each.

    python benchmarks/tune_pruning.py [--trials 20] [--epochs 10] [--batches 40]

Target: pruning trains at least 2x fewer epochs and its best value is within 5% of the
unpruned study's. Runs in a temporary folder (its own MLflow and Optuna stores).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import optuna
import yaml

from pipeline.tune import TuneRequest, tune

REPO = Path(__file__).resolve().parents[1]
SPACE = {
    "objective": {"metric": "val_loss", "direction": "minimize"},
    "sampler": {"name": "tpe", "seed": 0},
    "params": {
        "model.hidden_size": {"int": [16, 128], "log": True},
        "optim.lr": {"float": [1.0e-4, 3.0e-2], "log": True},
        "model.cell": {"choice": ["rnn_tanh", "lstm", "gru"]},
    },
}
PRUNERS = {"median": {"name": "median"}, "none": {"name": "none"}}


def run_study(pruner: str, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    space = folder / f"space-{pruner}.yaml"
    settings = dict(PRUNERS[pruner])
    if pruner == "median":
        settings.update(n_startup_trials=args.startup, n_warmup_steps=args.warmup)
    space.write_text(yaml.safe_dump({**SPACE, "pruner": settings}), encoding="utf-8")
    overrides = [
        f"trainer.max_epochs={args.epochs}",
        f"trainer.limit_train_batches={args.batches}",
        "trainer.early_stopping_patience=0",
        "trainer.progress_bar=false",
        f"data.train={REPO / 'data/demo/train.txt'}",
        f"data.validation={REPO / 'data/demo/valid.txt'}",
        f"data.test={REPO / 'data/demo/test.txt'}",
        f"data.cache_dir={folder / 'cache'}",
    ]
    request = TuneRequest(
        str(REPO / "conf/experiment/demo.yaml"),
        str(space),
        overrides,
        n_trials=args.trials,
        study=f"bench-{pruner}",
    )
    start = time.perf_counter()
    facts = tune(request)
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name=facts["study"], storage=facts["storage"])
    epochs = sum(len(t.intermediate_values) for t in study.trials)
    return {
        "epochs": epochs,
        "wall_s": wall,
        "best": facts["best_value"],
        "pruned": facts["counts"].get("PRUNED", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--startup", type=int, default=4, help="median pruner's startup trials")
    parser.add_argument("--warmup", type=int, default=0, help="epochs before pruning may start")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="tune-bench-") as name:
        folder = Path(name)
        os.chdir(folder)  # mlruns/ (MLflow and Optuna stores) lands here
        results = {pruner: run_study(pruner, args, folder) for pruner in PRUNERS}
    for pruner, r in results.items():
        print(
            f"{pruner:>7}: {r['epochs']:4d} epochs, {r['wall_s']:7.1f} s, best val_loss "
            f"{r['best']:.4f}, pruned trials {r['pruned']}"
        )
    median, none = results["median"], results["none"]
    print(
        f"epochs none/median = {none['epochs'] / median['epochs']:.2f}x (target >= 2), "
        f"wall none/median = {none['wall_s'] / median['wall_s']:.2f}x, "
        f"best median/none = {median['best'] / none['best']:.3f} (target <= 1.05)"
    )


if __name__ == "__main__":
    main()
