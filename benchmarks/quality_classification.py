"""Quality of the classification task on SST-2 and TREC, trained from scratch (no vectors).

    python benchmarks/quality_classification.py                 # sst2, trec, sst2 one-way
    python benchmarks/quality_classification.py --runs trec model.cell=gru

Trains conf/experiment/sst2.yaml and trec.yaml through ``pipeline.train.train`` in a temporary
work folder (its own MLflow SQLite store and token cache; the data paths of the configs are
read relative to the repository root), then SST-2 again with one direction instead of two.
Prints test accuracy, macro-F1 and wall time of each run against the targets
(SST-2 >= 0.80, TREC >= 0.88). Extra KEY=VALUE overrides apply to every run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quality_common import ROOT, data_overrides, timed_train

if TYPE_CHECKING:
    from pipeline.train import TrainResult


@dataclass(frozen=True)
class Run:
    name: str
    config: str
    overrides: tuple[str, ...]
    target: float


RUNS = {
    "sst2": Run("sst2 (bidirectional)", "conf/experiment/sst2.yaml", (), 0.80),
    "trec": Run("trec (bidirectional)", "conf/experiment/trec.yaml", (), 0.88),
    "sst2_one_way": Run(
        "sst2 (one direction)", "conf/experiment/sst2.yaml", ("model.bidirectional=false",), 0.0
    ),
}


def train_one(run: Run, extra: list[str], threads: int) -> dict[str, float]:
    """Train run in the current folder; its test metrics plus wall time and epochs."""
    config = ROOT / run.config
    result, seconds = timed_train(
        config, [*data_overrides(config), *run.overrides, *extra], threads
    )
    return {**result.metrics, "wall_s": seconds, "epochs": epochs_run(result)}


def epochs_run(result: TrainResult) -> int:
    """How many epochs the run trained (early stopping may end it before max_epochs)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result.tracking_uri)
    return len(client.get_metric_history(result.run_id, "val_accuracy"))


def report(run: Run, metrics: dict[str, float]) -> str:
    accuracy = metrics.get("test_accuracy", float("nan"))
    verdict = "" if not run.target else ("PASS" if accuracy >= run.target else "FAIL")
    target = f">= {run.target:.2f} {verdict}" if run.target else "(comparison)"
    return (
        f"{run.name:<22} test_accuracy {accuracy:.4f}  test_macro_f1 "
        f"{metrics.get('test_macro_f1', float('nan')):.4f}  best_val_accuracy "
        f"{metrics.get('best_val_accuracy', float('nan')):.4f}  epochs {metrics['epochs']:2d}  "
        f"wall {metrics['wall_s']:6.1f} s  "
        f"target {target}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=",".join(RUNS), help=f"subset of {', '.join(RUNS)}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (trainer.threads)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    runs = [RUNS[name] for name in args.runs.split(",")]
    lines = []
    with tempfile.TemporaryDirectory(prefix="quality-classification-") as workdir:
        os.chdir(workdir)
        for run in runs:
            lines.append(report(run, train_one(run, args.overrides, args.threads)))
            print(lines[-1], flush=True)
        os.chdir(ROOT)
    print("\nsummary (2 CPU cores shared with other work; wall times vary with the load):")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
