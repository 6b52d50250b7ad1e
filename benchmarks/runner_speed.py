"""Step-cell runners against torch's fused kernel; optionally, compiled start-up cold and warm.

Usage::

    python benchmarks/runner_speed.py [--threads T] [--rounds R] [--batches N]
                                      [--device cpu|cuda] [--startup] [--startup-batches N]

Runners (encoder only, ``lm_common``'s 2x200, batch 20, bptt 20, forward + backward on random
inputs): ``RecurrentEncoder`` of ``SigmoidRNNCell`` with runner "compiled" (torch.compile; the
one-off compile time is printed, not counted) and "eager", against ``TanhRNNCell`` with runner
"fused". The figures are fused_time / step_time, target >= 0.5.

``--startup`` adds what a user waits for: ``pipeline train conf/experiment/demo_sigmoid.yaml
model.runner=compiled trainer.max_epochs=1``, run twice, each in a new process and a new
folder, sharing one inductor cache (TORCHINDUCTOR_CACHE_DIR) that starts empty: the first run
compiles from scratch, the second finds torch's on-disk caches filled. Wall time of each
whole process (imports, tokenising, compile, the epoch, test, MLflow logging).

This is a benchmark: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from lm_common import (
    BATCH,
    BPTT,
    EMBEDDING,
    HIDDEN,
    LAYERS,
    REPO,
    SEED,
    load,
    log,
    machine,
    median,
    quoted,
    summary,
    synchronize,
    verdict,
)
from torch import Tensor

from pipeline.recurrent import RecurrentEncoder
from plugins.cells.rnn import SigmoidRNNCell, TanhRNNCell

RUNNER_TARGET = 0.5


# ----------------------------------------------------------------------------- runners


def encoder_step(encoder: RecurrentEncoder, inputs: Tensor) -> Callable[[], None]:
    """One forward + backward of the encoder alone on fixed random inputs."""

    def step() -> None:
        encoder.zero_grad(set_to_none=True)
        inputs.grad = None
        outputs, _ = encoder(inputs)
        outputs.pow(2).mean().backward()

    return step


def time_steps(step: Callable[[], None], batches: int) -> float:
    """Seconds per call of step over batches calls."""
    synchronize()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    synchronize()
    return (time.perf_counter() - start) / batches


def build_encoders(
    inductor_cache: Path, device: str
) -> tuple[dict[str, Callable[[], None]], float, str]:
    """Steps of the fused, compiled and eager encoders; the compile time; a compile note.

    The compile uses an empty inductor cache, so its time is a first-ever compile's.
    """
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(inductor_cache)
    torch.manual_seed(SEED)
    inputs = torch.randn(BATCH, BPTT, EMBEDDING, device=device, requires_grad=True)
    cells = {"fused": TanhRNNCell, "compiled": SigmoidRNNCell, "eager": SigmoidRNNCell}
    encoders = {
        runner: RecurrentEncoder(cell, EMBEDDING, HIDDEN, LAYERS, runner=runner).to(device)
        for runner, cell in cells.items()
    }
    steps = {name: encoder_step(encoder, inputs) for name, encoder in encoders.items()}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        steps["compiled"]()  # compiles the loops of both layers, forward and backward
    compile_seconds = time.perf_counter() - start
    note = "ok"
    if encoders["compiled"].runner != "compiled":
        messages = "; ".join(str(w.message) for w in caught)
        note = f"FAILED, fell back to the eager loop ({messages})"
    return steps, compile_seconds, note


def runner_comparison(args: argparse.Namespace, inductor_cache: Path) -> list[str]:
    """Fused against compiled and eager step loops; returns the summary lines."""
    log(
        f"runner comparison: encoder only, {LAYERS}x{HIDDEN}, batch {BATCH}, bptt {BPTT}, "
        "forward + backward on random inputs"
    )
    log("compiling the step loop (torch.compile, empty inductor cache) ...")
    steps, compile_seconds, note = build_encoders(inductor_cache, args.device)
    log(f"  first compiled call took {compile_seconds:.1f} s (compile {note})")
    for step in steps.values():
        time_steps(step, 5)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(1, args.rounds + 1):
        for name, step in steps.items():
            times[name].append(time_steps(step, args.batches) * 1000)
        log(
            f"  round {round_index}: "
            + " | ".join(f"{name} {times[name][-1]:6.2f} ms/batch" for name in steps)
        )
    fused = median(times["fused"])
    ratios = {name: fused / median(times[name]) for name in ("compiled", "eager")}
    verdicts = {name: verdict(ratio, RUNNER_TARGET) for name, ratio in ratios.items()}
    return [
        f"runner comparison, encoder only {LAYERS}x{HIDDEN}, batch {BATCH}, bptt {BPTT}, "
        f"fwd+bwd; {args.rounds} rounds x {args.batches} batches, medians:",
        f"  fused (TanhRNNCell, torch.rnn_tanh):     {fused:.2f} ms/batch",
        f"  compiled (SigmoidRNNCell, torch.compile): {median(times['compiled']):.2f} ms/batch "
        f"(one-off compile {compile_seconds:.1f} s, {note})",
        f"  eager (SigmoidRNNCell, Python loop):     {median(times['eager']):.2f} ms/batch",
        f"  fused/compiled = {ratios['compiled']:.3f} ({verdicts['compiled']})",
        f"  fused/eager    = {ratios['eager']:.3f} ({verdicts['eager']})",
        f"  compiled is {median(times['eager']) / median(times['compiled']):.2f}x eager's speed",
    ]


# ----------------------------------------------------------------------------- start-up


def startup_command(folder: Path, batches: int) -> list[str]:
    """`pipeline train` of the compiled sigmoid demo for one epoch, everything in folder."""
    demo = REPO / "data" / "demo"
    overrides = [
        f"data.train={quoted(demo / 'train.txt')}",
        f"data.validation={quoted(demo / 'valid.txt')}",
        f"data.test={quoted(demo / 'test.txt')}",
        "model.runner=compiled",
        "trainer.max_epochs=1",
        f"tracking.uri={quoted('sqlite:///' + str(folder / 'mlflow.db'))}",
    ]
    if batches:
        overrides += [f"trainer.limit_{split}_batches={batches}" for split in ("train", "val")]
    pipeline = Path(sys.executable).with_name("pipeline")
    config = REPO / "conf" / "experiment" / "demo_sigmoid.yaml"
    return [str(pipeline), "train", str(config), *overrides, "--json"]


def timed_run(command: list[str], folder: Path, env: dict[str, str]) -> float:
    """Wall seconds of command run in folder (created), its output to a log file there."""
    folder.mkdir(parents=True)
    with (folder / "output.log").open("wb") as output:
        start = time.perf_counter()
        subprocess.run(command, cwd=folder, env=env, stdout=output, stderr=output, check=True)
        return time.perf_counter() - start


def startup_comparison(args: argparse.Namespace, scratch: Path) -> list[str]:
    """First and second compiled run in new processes and folders; returns summary lines."""
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(scratch / "startup-inductor-cache")}
    seconds = []
    for attempt in ("first", "second"):
        folder = scratch / f"startup-{attempt}"
        log(f"compiled start-up, {attempt} run in {folder} ...")
        seconds.append(timed_run(startup_command(folder, args.startup_batches), folder, env))
        log(f"  {seconds[-1]:.1f} s")
    limit = f", {args.startup_batches} train/val batches" if args.startup_batches else ""
    return [
        f"compiled rnn_sigmoid start-up (demo_sigmoid.yaml, 1 epoch{limit}, new process and "
        "folder each, one inductor cache that starts empty):",
        f"  first run {seconds[0]:.1f} s, second run {seconds[1]:.1f} s "
        f"(second/first = {seconds[1] / seconds[0]:.2f})",
    ]


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the runner comparison")
    parser.add_argument(
        "--batches", type=int, default=100, help="timed batches per runner and round"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--startup", action="store_true", help="also time compiled start-up, first and second"
    )
    parser.add_argument(
        "--startup-batches",
        type=int,
        default=0,
        help="cap the start-up runs' train and val batches (0: the whole demo epoch)",
    )
    args = parser.parse_args(argv)
    if min(args.threads, args.rounds, args.batches) < 1:
        parser.error("--threads, --rounds and --batches must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = load()
    log(f"runner_speed: {machine(args.threads)}; {load_before}")
    with tempfile.TemporaryDirectory(prefix="runner-speed-") as scratch:
        lines = runner_comparison(args, Path(scratch) / "inductor-cache")
        if args.startup:
            lines += startup_comparison(args, Path(scratch))
    summary("runner_speed", [machine(args.threads)], load_before, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
