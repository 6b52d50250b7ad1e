"""Language-model training throughput of the pipeline against plain PyTorch, in one process.

Usage::

    python benchmarks/lm_throughput.py [--data DIR] [--batches N] [--rounds R] [--threads T]
                                       [--workdir DIR] [--warmup W] [--device cpu|cuda]
                                       [--hidden H] [--layers L] [--batch B] [--bptt T]
                                       [--precision 32|tf32|bf16-mixed] [--table]

``--table`` (for GPUs) runs issue 15's table instead of one shape: 2x650 and 2x1500 LSTM,
batch 64 and 128, bptt 35, each in fp32, TF32 and bf16-mixed, with peak GPU memory.

Tokens/s over training batches, same model and data for both:

- A, the pipeline: ``pipeline.train.train(cfg)`` with a Config from ``conf/base.yaml`` plus
  overrides, timed by a Lightning callback over the training batches only;
- B, a plain PyTorch loop (``lm_common.PlainLanguageModel``, SGD and clip_grad_norm_), the
  same token ids, streams and bptt windows, starting from the pipeline's initial weights (so
  the last-batch losses printed for A and B should agree).

The model is ``lm_common``'s (2x200 LSTM, vocabulary 10k, batch 20, bptt 20, SGD lr 20, clip
0.25, dropout 0, fp32; the size options change it), with the same torch thread count (with
``--device cuda`` on the GPU; clocks then stop after a CUDA synchronize). Rounds alternate A,
B, A, B ...; the figure is median(A) / median(B), target >= 0.95. The progress bar is off:
``cli_epoch.py`` measures what a user gets from ``pipeline train`` as a whole.

This is a benchmark: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from lm_common import (
    CLIP,
    DEFAULT_DATA,
    DEFAULT_SHAPE,
    LR,
    PRECISIONS,
    REPO,
    WIKITEXT_FILES,
    PlainLanguageModel,
    Shape,
    batchify,
    figures,
    full_windows,
    lm_overrides,
    load,
    log,
    machine,
    median,
    peak_memory,
    quiet_libraries,
    summary,
    synchronize,
    train_step,
    verdict,
    wikitext_files,
    window,
)
from torch import Tensor

from pipeline.components import Components
from pipeline.config import Config, load_config
from pipeline.initialization import initialize
from pipeline.plugins import default_registries
from pipeline.train import train
from plugins.tasks.language_model.demo_corpus import write_demo_corpus

DEMO_LINES = (20_000, 2_000, 2_000)
LM_TARGET = 0.95


# ----------------------------------------------------------------------------- data


def resolve_data(data: Path, workdir: Path) -> tuple[dict[str, Path], str]:
    """Train/validation/test files: WikiText-2 from data, else a generated demo corpus."""
    files = wikitext_files(data)
    if files is not None:
        return files, f"WikiText-2 from {data}"
    n_train, n_valid, n_test = DEMO_LINES
    paths = write_demo_corpus(workdir / "demo_corpus", n_train, n_valid, n_test)
    return paths, (
        f"generated demo corpus ({n_train} train lines) in {workdir / 'demo_corpus'}; "
        f"{data} has no {', '.join(WIKITEXT_FILES)}"
    )


def pipeline_config(
    files: dict[str, Path],
    workdir: Path,
    batches: int,
    threads: int,
    device: str,
    shape: Shape = DEFAULT_SHAPE,
) -> Config:
    """conf/base.yaml plus the overrides that pin the benchmark's model, data and trainer."""
    overrides = [
        *lm_overrides(files, workdir / "cache", f"sqlite:///{workdir / 'mlflow.db'}", shape),
        f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
        "trainer.devices=1",
        "trainer.num_nodes=1",
        "trainer.strategy=auto",
        "trainer.max_epochs=1",
        f"trainer.limit_train_batches={batches}",
        "trainer.limit_val_batches=1",
        "trainer.progress_bar=false",
        f"trainer.threads={threads}",
        "tracking.experiment=lm-throughput",
    ]
    return load_config(REPO / "conf" / "base.yaml", overrides, default_registries())


@dataclass
class PipelineData:
    """What the plain loop takes from the pipeline: its train ids and initial weights."""

    ids: Tensor
    vocab: int
    first_inputs: Tensor
    """The first batch's inputs from the pipeline's train loader (a cross-check)."""
    initial_weights: dict[str, Tensor]
    """The pipeline network's weights after its initialisation, as PlainLanguageModel keys."""


def pipeline_data(cfg: Config) -> PipelineData:
    """Token ids and initial weights as ``train(cfg)`` makes them (tokenising on first call)."""
    registries = default_registries()
    task = registries.tasks.get(cfg.task.name)(cfg)
    task.prepare_data(Path(cfg.data.cache_dir))
    first_inputs, _ = next(iter(task.dataloader("train")))
    network = task.build_network(Components(cfg.model, registries.cells))
    initialize(network, cfg.init, registries.initializers, cfg.seed, task.vocabulary())
    weights = {
        "embedding.weight": network.embedding.weight,
        "output.weight": network.output.weight,
        "output.bias": network.output.bias,
    }
    for layer, cell in enumerate(network.encoder.cells):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            weights[f"lstm.{name}_l{layer}"] = getattr(cell, name)
    return PipelineData(
        task.tokens["train"],
        len(task.tokenizer),
        first_inputs,
        {key: value.detach().clone() for key, value in weights.items()},
    )


# ----------------------------------------------------------------------------- contender A


class BatchTimer(Callback):
    """Times training batches warmup..end: on_train_batch_start -> the last on_train_batch_end.

    The clock stops at the last batch's end rather than at on_train_epoch_end, because in
    Lightning 2 the end-of-epoch validation and checkpoint saving run before that hook.
    Also caps validation and test at one batch each (outside the timed window) to keep the
    benchmark short: the pipeline tests the best checkpoint on the whole test split.
    """

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.end: float | None = None
        self.tokens = 0
        self.batches = 0
        self.loss: Tensor | None = None

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        trainer.limit_val_batches = 1
        trainer.limit_test_batches = 1

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        if batch_idx == self.warmup:
            synchronize()
            self.start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if batch_idx >= self.warmup:
            if batch_idx == trainer.num_training_batches - 1:
                synchronize()  # only at the end: a sync per batch would stall the GPU queue
            self.end = time.perf_counter()
            self.tokens += batch[0].numel()
            self.batches += 1
            self.loss = outputs["loss"] if isinstance(outputs, dict) else outputs

    def last_loss(self) -> float:
        return float("nan") if self.loss is None else self.loss.item()

    def seconds(self) -> float:
        if self.start is None or self.end is None or self.batches == 0:
            raise RuntimeError(f"no timed batches (warm-up {self.warmup} batches)")
        return self.end - self.start

    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds()


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_pipeline(cfg: Config, workdir: Path, warmup: int) -> BatchTimer:
    """One ``train(cfg)`` call (cwd workdir, so mlruns lands there); returns its timer."""
    timer = BatchTimer(warmup)
    with working_directory(workdir), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(cfg, callbacks=[timer])
    return timer


# ----------------------------------------------------------------------------- contender B


@dataclass
class PlainResult:
    tokens: int = 0
    batches: int = 0
    seconds: float = 0.0
    last_loss: float = float("nan")

    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds


def run_plain(
    streams: Tensor,
    initial_weights: dict[str, Tensor],
    batches: int,
    warmup: int,
    device: str,
    shape: Shape = DEFAULT_SHAPE,
) -> PlainResult:
    """The same training loop written directly in PyTorch: batches windows, warmup untimed.

    It starts from the pipeline's initial weights, so both contenders follow the same
    trajectory (values such as subnormal floats can change CPU speed).
    """
    torch.set_float32_matmul_precision(shape.matmul_precision())
    model = PlainLanguageModel(initial_weights["embedding.weight"].size(0), shape)
    model.load_state_dict(initial_weights)
    model.to(device).train()
    streams = streams.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    state = None
    result = PlainResult()
    start = 0.0
    for index in range(batches):
        if index == warmup:
            synchronize()
            start = time.perf_counter()
        inputs, targets = window(streams, index, shape.bptt)
        loss, state = train_step(model, optimizer, inputs, targets, state, shape)
        if index >= warmup:
            result.tokens += inputs.numel()
            result.batches += 1
    synchronize()
    result.seconds = time.perf_counter() - start
    result.last_loss = loss.item()
    return result


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder with wiki.{train,valid,test}.tokens (default: ../shared/data/wikitext2 "
        "from the repo root); when absent a generated corpus is used",
    )
    parser.add_argument(
        "--batches", type=int, default=300, help="training batches per LM round (incl. warm-up)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="LM rounds of A then B")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for everything")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the cache, mlruns and mlflow.db here (default: a temporary folder, removed)",
    )
    parser.add_argument("--warmup", type=int, default=10, help="untimed batches per LM round")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where both contenders train"
    )
    parser.add_argument("--hidden", type=int, default=DEFAULT_SHAPE.hidden, help="LSTM units")
    parser.add_argument("--layers", type=int, default=DEFAULT_SHAPE.layers, help="LSTM layers")
    parser.add_argument("--batch", type=int, default=DEFAULT_SHAPE.batch, help="batch size")
    parser.add_argument("--bptt", type=int, default=DEFAULT_SHAPE.bptt, help="bptt length")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_SHAPE.precision)
    parser.add_argument(
        "--table",
        action="store_true",
        help="the GPU table: 2x650 and 2x1500 LSTM, batch 64 and 128, bptt 35, each precision",
    )
    args = parser.parse_args(argv)
    if args.batches <= args.warmup:
        parser.error(f"--batches ({args.batches}) must exceed --warmup ({args.warmup})")
    if min(args.rounds, args.threads) < 1:
        parser.error("--rounds and --threads must be >= 1")
    return args


@dataclass
class Comparison:
    """One shape's figures: tokens/s per round and peak GPU memory (MiB) of A and B."""

    shape: Shape
    pipeline_rates: list[float]
    plain_rates: list[float]
    memory: tuple[float | None, float | None]
    lines: list[str]

    def ratio(self) -> float:
        return median(self.pipeline_rates) / median(self.plain_rates)


def lm_comparison(args: argparse.Namespace, workdir: Path, shape: Shape) -> Comparison:
    """A against B for one model shape; returns its figures and summary lines."""
    files, source = resolve_data(args.data.expanduser().resolve(), workdir)
    log(f"data: {source}; {shape.describe()}")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    cfg = pipeline_config(files, workdir, args.batches, args.threads, args.device, shape)
    data = pipeline_data(cfg)
    ids, vocab = data.ids, data.vocab
    log(
        f"token ids from the pipeline's cache (built if missing) in "
        f"{time.perf_counter() - start:.1f} s: {ids.numel()} train tokens, vocabulary {vocab}"
    )
    batches = args.batches
    streams = batchify(ids, shape.batch)
    if full_windows(streams, shape.bptt) < batches:
        batches = full_windows(streams, shape.bptt)
        log(f"the train split holds only {batches} full batches; using --batches {batches}")
        if batches <= args.warmup:
            raise SystemExit(f"too little training text for {args.warmup} warm-up batches")
        cfg = pipeline_config(files, workdir, batches, args.threads, args.device, shape)
    same = torch.equal(streams[:, : shape.bptt], data.first_inputs)
    log(f"plain loop's first batch equals the pipeline loader's: {'yes' if same else 'NO'}")

    log("warm-up: one untimed pipeline call (MLflow store, imports) ...")
    start = time.perf_counter()
    warm = pipeline_config(files, workdir, args.warmup + 5, args.threads, args.device, shape)
    run_pipeline(warm, workdir, 1)
    log(f"  done in {time.perf_counter() - start:.1f} s")

    timed = batches - args.warmup
    log(
        f"LM rounds: {args.rounds} x (A then B), {timed} timed batches of "
        f"{shape.batch}x{shape.bptt} tokens after {args.warmup} warm-up batches"
    )
    pipeline_rates: list[float] = []
    plain_rates: list[float] = []
    overhead: list[float] = []
    memory: list[float | None] = [None, None]
    for round_index in range(1, args.rounds + 1):
        peak_memory()  # resets the peak
        start = time.perf_counter()
        timer = run_pipeline(cfg, workdir, args.warmup)
        memory[0] = peak_memory()
        call_seconds = time.perf_counter() - start
        pipeline_rates.append(timer.tokens_per_second())
        overhead.append(call_seconds - (timer.seconds()))
        plain = run_plain(streams, data.initial_weights, batches, args.warmup, args.device, shape)
        memory[1] = peak_memory()
        plain_rates.append(plain.tokens_per_second())
        if timer.batches != plain.batches:
            log(f"  warning: A timed {timer.batches} batches, B {plain.batches}")
        losses = (timer.last_loss(), plain.last_loss)
        log(
            f"  round {round_index}: A pipeline {pipeline_rates[-1]:6.0f} tok/s "
            f"({timer.batches} batches in {timer.seconds():.1f} s, whole train() call "
            f"{call_seconds:.1f} s) | B plain {plain_rates[-1]:6.0f} tok/s ({plain.batches} "
            f"batches in {plain.seconds:.1f} s) | last-batch loss A {losses[0]:.4f} "
            f"B {losses[1]:.4f}"
        )
    ratio = median(pipeline_rates) / median(plain_rates)
    log(f"median A {median(pipeline_rates):.0f} tok/s, median B {median(plain_rates):.0f} tok/s")
    log(f"ratio median(A)/median(B) = {ratio:.3f}; {verdict(ratio, LM_TARGET)}")
    lines = [
        f"data: {source}; {ids.numel()} train tokens, vocabulary {vocab}",
        f"LM training, {shape.describe()}, SGD lr {LR:g}, clip {CLIP}, dropout 0 on "
        f"{args.device}; {args.rounds} rounds alternating A/B, "
        f"{timed} timed batches each after {args.warmup} warm-up",
        f"  A pipeline train() tok/s: {figures(pipeline_rates, '.0f')}; "
        f"median {median(pipeline_rates):.0f}",
        f"  B plain PyTorch tok/s:    {figures(plain_rates, '.0f')}; "
        f"median {median(plain_rates):.0f}",
        f"  ratio median(A)/median(B) = {ratio:.3f} ({verdict(ratio, LM_TARGET)})",
        f"  last-batch training loss A {losses[0]:.4f}, B {losses[1]:.4f} (same initial "
        "weights and batches)",
        f"  (untimed cost of each train() call beyond the timed batches: "
        f"{median(overhead):.1f} s median, val/test capped at 1 batch)",
    ]
    return Comparison(shape, pipeline_rates, plain_rates, (memory[0], memory[1]), lines)


GPU_TABLE = [
    Shape(hidden, 2, batch, 35, precision)
    for hidden in (650, 1500)
    for batch in (64, 128)
    for precision in PRECISIONS
]
"""Issue 15's GPU throughput table: sizes people train on GPUs, three numerics each."""


def table_lines(results: list[Comparison]) -> list[str]:
    """The --table summary as a Markdown table."""

    def mib(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    lines = [
        "| model | batch | bptt | precision | pipeline tok/s | plain tok/s | ratio "
        "| GPU MiB pipeline | GPU MiB plain |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        shape = result.shape
        lines.append(
            f"| {shape.layers}x{shape.hidden} LSTM | {shape.batch} | {shape.bptt} | "
            f"{shape.precision} | {median(result.pipeline_rates):.0f} | "
            f"{median(result.plain_rates):.0f} | {result.ratio():.3f} | "
            f"{mib(result.memory[0])} | {mib(result.memory[1])} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_libraries()
    begin = time.perf_counter()
    load_before = load()
    log(f"lm_throughput: {machine(args.threads)}; {load_before}")
    with tempfile.TemporaryDirectory(prefix="lm-throughput-") as scratch:
        workdir = (args.workdir or Path(scratch) / "work").expanduser().resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        log(f"workdir: {workdir}")
        if args.table:
            lines = table_lines([lm_comparison(args, workdir, shape) for shape in GPU_TABLE])
        else:
            shape = Shape(args.hidden, args.layers, args.batch, args.bptt, args.precision)
            lines = lm_comparison(args, workdir, shape).lines
    total = time.perf_counter() - begin
    summary("lm_throughput", [machine(args.threads)], load_before, lines)
    log(f"total benchmark time: {total:.0f} s (after imports)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
