"""Epoch time of `pipeline train` as a user runs it, against a plain PyTorch loop script.

Usage::

    python benchmarks/cli_epoch.py [--data DIR] [--train-tokens N] [--valid-tokens N]
                                   [--repeats R] [--modes default,json] [--output pty|file]
                                   [--threads T] [--device cpu|cuda] [--workdir DIR]

Both contenders are whole processes started the way a user starts them:

- the pipeline: ``pipeline train conf/base.yaml`` with ``lm_common``'s model and data
  overrides and otherwise default settings (progress bar on), mode ``default`` as typed,
  mode ``json`` with ``--json`` (the bar then goes to stderr);
- the plain loop: ``benchmarks/plain_lm.py`` (train on every window, validate, save the
  weights when validation improves: the same work per epoch as the pipeline's epoch with its
  validation and checkpoints).

Their output goes to a pseudo-terminal (``--output pty``, as in a terminal) or a file. The
epoch time of each is wall(2 epochs) - wall(1 epoch), so start-up, tokenising, testing and
MLflow logging cancel out. The data is a slice of WikiText-2: the first lines of each split
holding ``--train-tokens`` / ``--valid-tokens`` tokens (words and ``<eos>``), written to the
workdir. One untimed run of each contender comes first (token cache, file cache); then each
repeat runs every contender for 1 and then 2 epochs, in an order rotated by one each repeat
(plain first, then a pipeline mode first, ...), so no contender always runs last. It
prints every wall time, the epoch times, their medians, ratio = median(plain) /
median(pipeline) per mode (target >= 0.97) and the load average before each repeat.

This is a benchmark: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from lm_common import (
    DEFAULT_DATA,
    REPO,
    figures,
    lm_overrides,
    load,
    log,
    median,
    summary,
    verdict,
    wikitext_slice,
)

TARGET = 0.97
MODES = ("default", "json")
Runner = Callable[[list[str], Path], float]


# ----------------------------------------------------------------------------- data


def corpus_slice(args: argparse.Namespace, workdir: Path) -> dict[str, Path]:
    """Train, validation and test slices of WikiText-2 in workdir/slice."""
    return wikitext_slice(args.data, workdir / "slice", args.train_tokens, args.valid_tokens)


# ----------------------------------------------------------------------------- runs


def on_terminal(command: list[str], cwd: Path) -> float:
    """Wall seconds of command with stdout and stderr on a pseudo-terminal (drained here)."""
    terminal, child = pty.openpty()
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=child, stderr=child
    )
    os.close(child)
    tail = b""
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # EIO: the child side closed
            break
        if not chunk:
            break
        tail = (tail + chunk)[-4000:]
    code = process.wait()
    seconds = time.perf_counter() - start
    os.close(terminal)
    if code:
        ending = tail.decode(errors="replace")
        raise SystemExit(f"{command[:3]} failed ({code}); output ends:\n{ending}")
    return seconds


def to_file(command: list[str], cwd: Path) -> float:
    """Wall seconds of command with stdout and stderr appended to cwd/output.log."""
    with (cwd / "output.log").open("ab") as output:
        start = time.perf_counter()
        code = subprocess.run(command, cwd=cwd, stdout=output, stderr=output).returncode
        seconds = time.perf_counter() - start
    if code:
        raise SystemExit(f"{command[:3]} failed ({code}); see {cwd / 'output.log'}")
    return seconds


def pipeline_command(
    args: argparse.Namespace, files: dict[str, Path], workdir: Path, mode: str, epochs: int
) -> list[str]:
    overrides = lm_overrides(files, workdir / "cache", f"sqlite:///{workdir / 'mlflow.db'}")
    overrides += [
        f"trainer.max_epochs={epochs}",
        f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}",
        "trainer.devices=1",
        f"trainer.threads={args.threads}",
        "tracking.experiment=cli-epoch",
    ]
    # The console script beside the interpreter (a virtualenv), else the one on PATH.
    beside = Path(sys.executable).with_name("pipeline")
    pipeline = str(beside) if beside.exists() else shutil.which("pipeline") or "pipeline"
    flags = ["--json"] if mode == "json" else []
    return [pipeline, "train", str(REPO / "conf" / "base.yaml"), *overrides, *flags]


def plain_command(
    args: argparse.Namespace, files: dict[str, Path], workdir: Path, epochs: int
) -> list[str]:
    script = Path(__file__).with_name("plain_lm.py")
    return [
        sys.executable,
        str(script),
        f"--train={files['train']}",
        f"--validation={files['validation']}",
        f"--epochs={epochs}",
        f"--threads={args.threads}",
        f"--device={args.device}",
        f"--checkpoint={workdir / 'plain_best.pt'}",
    ]


def last_json(command: list[str], cwd: Path) -> dict[str, object]:
    """The last line of command's stdout as JSON (an untimed warm-up run)."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{command[:3]} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def warm_up(args: argparse.Namespace, files: dict[str, Path], workdir: Path) -> None:
    """One untimed run of each (token cache, file cache); prints both token counts."""
    log("warm-up: one untimed 1-epoch run of each contender ...")
    plain = last_json(plain_command(args, files, workdir, 1), workdir)
    result = last_json(pipeline_command(args, files, workdir, "json", 1), workdir)
    from mlflow.tracking import MlflowClient

    params = MlflowClient(str(result["tracking_uri"])).get_run(str(result["run_id"])).data.params
    log(
        f"  train tokens: plain {plain['train_tokens']}, pipeline "
        f"{params.get('data.size.train_tokens')}; validation tokens: plain "
        f"{plain['validation_tokens']}, pipeline {params.get('data.size.validation_tokens')}"
    )


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="WikiText-2 folder")
    parser.add_argument("--train-tokens", type=int, default=222_000)
    parser.add_argument("--valid-tokens", type=int, default=22_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="default,json", help="pipeline modes, of: default,json")
    parser.add_argument("--output", choices=("pty", "file"), default="pty")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary one")
    args = parser.parse_args(argv)
    args.modes = tuple(args.modes.split(","))
    if not set(args.modes) <= set(MODES) or min(args.repeats, args.train_tokens) < 1:
        parser.error(f"--modes takes {','.join(MODES)}; --repeats, --train-tokens >= 1")
    return args


def rotated(names: list[str], shift: int) -> list[str]:
    """names starting at position shift (mod len): no contender always runs first or last."""
    start = shift % len(names)
    return names[start:] + names[:start]


def measure(args: argparse.Namespace, files: dict[str, Path], workdir: Path) -> list[str]:
    """Alternating repeats; returns the summary lines."""
    run: Runner = on_terminal if args.output == "pty" else to_file
    commands: dict[str, Callable[[int], list[str]]] = {
        "plain": partial(plain_command, args, files, workdir),
        **{
            f"pipeline {mode}": partial(pipeline_command, args, files, workdir, mode)
            for mode in args.modes
        },
    }
    walls: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    loads = []
    for repeat in range(1, args.repeats + 1):
        loads.append(load())
        log(f"repeat {repeat}: {loads[-1]}")
        for name in rotated(list(commands), repeat - 1):
            command = commands[name]
            one, two = run(command(1), workdir), run(command(2), workdir)
            walls[name].append((one, two))
            log(f"  {name:<17} 1 epoch {one:6.1f} s, 2 epochs {two:6.1f} s: {two - one:.1f} s")
    epochs = {name: [two - one for one, two in pairs] for name, pairs in walls.items()}
    lines = [
        f"epoch = wall(2 epochs) - wall(1 epoch), output to {args.output}, {args.repeats} "
        f"repeats of {', '.join(commands)} in an order rotated each repeat",
        *(f"  load before repeat {i}: {value}" for i, value in enumerate(loads, 1)),
    ]
    for name, values in epochs.items():
        raw = "; ".join(f"{one:.1f}/{two:.1f}" for one, two in walls[name])
        lines.append(
            f"  {name:<17} epoch s: {figures(values, '.1f')} (median {median(values):.1f}); "
            f"wall 1/2 epochs s: {raw}"
        )
    plain = median(epochs["plain"])
    for mode in args.modes:
        ratio = plain / median(epochs[f"pipeline {mode}"])
        lines.append(f"  ratio plain/pipeline {mode}: {ratio:.3f} ({verdict(ratio, TARGET)})")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    begin, load_before = time.perf_counter(), load()
    log(f"cli_epoch: {os.cpu_count()} cores; {load_before}")
    with tempfile.TemporaryDirectory(prefix="cli-epoch-") as scratch:
        workdir = (args.workdir or Path(scratch)).expanduser().resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        files = corpus_slice(args, workdir)
        warm_up(args, files, workdir)
        lines = measure(args, files, workdir)
    model = (
        f"2x200 LSTM word LM (vocabulary 10k, batch 20, bptt 20, SGD lr 20, clip 0.25, dropout "
        f"0) on {args.train_tokens} train / {args.valid_tokens} validation tokens of WikiText-2, "
        f"{args.device}, threads {args.threads or 'default'}, {os.cpu_count()} cores"
    )
    summary("cli_epoch", [model], load_before, lines)
    log(f"total benchmark time: {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
