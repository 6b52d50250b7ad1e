"""DDP scaling of the language model: tokens/s and wall time, 1 process against N.

Usage::

    python benchmarks/ddp_scaling.py [--workdir DIR] [--epochs E] [--batch B] [--hidden H]
                                     [--sentences N] [--gpus N]

On the CPU: 1 process x 2 threads against 2 processes x 1 thread (DDP, gloo), with the same
global batch (B streams in one process, B/2 per process in two). When CUDA is available: also
1 GPU against N GPUs (default: all), again with the same global batch.

Each configuration is one real ``pipeline train`` subprocess on the generated demo corpus
(word tokenizer, 1-layer LSTM, SGD, dropout 0), in its own throw-away MLflow store.
Throughput is measured from the run's own per-epoch metric timestamps: trained tokens of
epochs 2..E divided by the time between the end of epoch 1 and the end of epoch E, so process
start-up, imports, data preparation and the first epoch's warm-up are left out (validation,
which is small, is inside). Wall time is the whole command, start-up included.

This is a benchmark: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    args = parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ddp_scaling_"))
    config = write_config(workdir, args)
    runs = [
        ("cpu 1 proc x 2 threads", cpu_run(1, 2, args.batch)),
        ("cpu 2 procs x 1 thread", cpu_run(2, 1, args.batch)),
    ]
    gpus = gpu_count() if args.gpus is None else args.gpus
    if gpus > 0:
        runs.append(("gpu x 1", gpu_run(1, args.batch)))
        if gpus > 1:
            runs.append((f"gpu x {gpus}", gpu_run(gpus, args.batch)))
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, gpus {gpus}")
    print(f"global batch {args.batch} streams, bptt 20, lstm 1x{args.hidden}, {args.epochs} epochs")
    print(f"{'configuration':<26} {'tokens/s':>10} {'wall s':>8} {'val_loss':>9}")
    baseline = None
    for label, overrides in runs:
        figures = run_once(workdir, config, label, overrides)
        baseline = baseline or figures["tokens_per_s"]
        print(
            f"{label:<26} {figures['tokens_per_s']:>10.0f} {figures['wall_s']:>8.1f} "
            f"{figures['val_loss']:>9.4f}  (x{figures['tokens_per_s'] / baseline:.2f})",
            flush=True,
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", help="where the corpus, config and stores go (temp dir)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20, help="global batch (streams)")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--sentences", type=int, default=3000, help="training sentences")
    parser.add_argument("--gpus", type=int, help="GPUs to compare against one (default: all)")
    return parser.parse_args()


def write_config(workdir: Path, args: argparse.Namespace) -> Path:
    from plugins.tasks.language_model.demo_corpus import write_demo_corpus

    corpus = write_demo_corpus(workdir / "corpus", n_train=args.sentences, seed=1)
    config = {
        "task": {"name": "language_model", "bptt": 20},
        "data": {
            "train": str(corpus["train"]),
            "validation": str(corpus["validation"]),
            "test": str(corpus["test"]),
            "eval_batch_size": 10,
        },
        "tokenizer": {"vocab_size": 2000},
        "model": {
            "cell": "lstm",
            "embedding_size": args.hidden,
            "hidden_size": args.hidden,
            "num_layers": 1,
            "dropout": 0.0,
        },
        "optim": {"name": "sgd", "lr": 1.0, "momentum": 0.0},
        "trainer": {
            "max_epochs": args.epochs,
            "progress_bar": False,
            "early_stopping_patience": 0,
        },
        "tracking": {"experiment": "ddp_scaling"},
    }
    path = workdir / "scaling.yaml"
    path.write_text("# python benchmarks/ddp_scaling.py\n" + yaml.safe_dump(config))
    return path


def cpu_run(processes: int, threads: int, batch: int) -> list[str]:
    return [
        "trainer.accelerator=cpu",
        f"trainer.devices={processes}",
        f"trainer.threads={threads}",
        f"data.batch_size={batch // processes}",
        f"trainer.strategy={'ddp' if processes > 1 else 'auto'}",
    ]


def gpu_run(gpus: int, batch: int) -> list[str]:
    return [
        "trainer.accelerator=gpu",
        f"trainer.devices={gpus}",
        f"data.batch_size={batch // gpus}",
        f"trainer.strategy={'ddp' if gpus > 1 else 'auto'}",
    ]


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_once(workdir: Path, config: Path, label: str, overrides: list[str]) -> dict[str, float]:
    """One `pipeline train` in its own store; tokens/s from its epoch metric timestamps."""
    folder = workdir / label.replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pipeline.cli", "train", str(config), "--json", *overrides]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{label} failed:\n{done.stderr[-3000:]}")
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, **epoch_throughput(facts["tracking_uri"], facts["run_id"])}


def epoch_throughput(uri: str, run_id: str) -> dict[str, float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    run = client.get_run(run_id)
    history = sorted(client.get_metric_history(run_id, "train_loss"), key=lambda m: m.step)
    train_tokens = int(run.data.params["data.size.train_tokens"])
    batch = int(run.data.params["data.batch_size"]) * int(run.data.params["trainer.devices"])
    trained = (train_tokens // batch - 1) * batch  # targets per epoch over all ranks
    seconds = (history[-1].timestamp - history[0].timestamp) / 1000
    epochs = len(history) - 1
    return {
        "tokens_per_s": trained * epochs / seconds if epochs and seconds > 0 else float("nan"),
        "val_loss": run.data.metrics["val_loss"],
    }


if __name__ == "__main__":
    main()
