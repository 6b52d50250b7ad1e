"""Training throughput of the pipeline against plain PyTorch, and step runners against fused.

Usage::

    python benchmarks/lm_throughput.py [--data DIR] [--batches N] [--rounds R] [--threads T]
                                       [--workdir DIR] [--warmup W] [--encoder-rounds R]
                                       [--encoder-batches N] [--device cpu|cuda]

Part 1, language-model training throughput (tokens/s), same model and data for both:

- A, the pipeline: ``pipeline.train.train(cfg)`` with a Config from ``conf/base.yaml`` plus
  overrides, timed by a Lightning callback over the training batches only;
- B, a plain PyTorch loop in this file: nn.Embedding + nn.LSTM + nn.Linear, SGD and
  clip_grad_norm_, the same token ids, streams and bptt windows, starting from the pipeline's
  initial weights (so the last-batch losses printed for A and B should agree).

Both run a 2-layer LSTM of 200 units, embedding 200, a word vocabulary of 10k, batch 20,
bptt 20, SGD lr 20, gradient clipping 0.25, dropout 0, float32 on the CPU with the same torch
thread count (with ``--device cuda`` on the GPU; clocks then stop after a CUDA synchronize).
Rounds alternate A, B, A, B ... in one process; the figure is median(A) / median(B), target
>= 0.95.

Part 2, the step-cell runner against torch's fused kernel (encoder only, 2x200, batch 20,
bptt 20, forward + backward on random inputs): ``RecurrentEncoder`` of ``SigmoidRNNCell`` with
runner "compiled" (torch.compile; the one-off compile time is printed, not counted) and
"eager", against ``TanhRNNCell`` with runner "fused". The figures are fused_time / step_time,
target >= 0.5.

This is a benchmark: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.components import Components
from pipeline.config import Config, load_config
from pipeline.initialization import initialize
from pipeline.plugins import default_registries
from pipeline.recurrent import RecurrentEncoder
from pipeline.train import train
from plugins.cells.rnn import SigmoidRNNCell, TanhRNNCell
from plugins.tasks.language_model.demo_corpus import write_demo_corpus

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "wikitext2"
WIKITEXT_FILES = ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens")
DEMO_LINES = (20_000, 2_000, 2_000)

VOCAB = 10_000
EMBEDDING = HIDDEN = 200
LAYERS = 2
BATCH = 20
BPTT = 20
LR = 20.0
CLIP = 0.25
SEED = 42

LM_TARGET = 0.95
RUNNER_TARGET = 0.5


# ----------------------------------------------------------------------------- data


def resolve_data(data: Path, workdir: Path) -> tuple[dict[str, Path], str]:
    """Train/validation/test files: WikiText-2 from data, else a generated demo corpus."""
    files = [data / name for name in WIKITEXT_FILES]
    if all(path.is_file() for path in files):
        return dict(zip(("train", "validation", "test"), files, strict=True)), (
            f"WikiText-2 from {data}"
        )
    n_train, n_valid, n_test = DEMO_LINES
    paths = write_demo_corpus(workdir / "demo_corpus", n_train, n_valid, n_test)
    return paths, (
        f"generated demo corpus ({n_train} train lines) in {workdir / 'demo_corpus'}; "
        f"{data} has no {', '.join(WIKITEXT_FILES)}"
    )


def quoted(value: object) -> str:
    """A YAML scalar that reads back as this exact string (paths with ':' or spaces)."""
    return json.dumps(str(value))


def pipeline_config(
    files: dict[str, Path], workdir: Path, batches: int, threads: int, device: str
) -> Config:
    """conf/base.yaml plus the overrides that pin the benchmark's model, data and trainer."""
    overrides = [
        f"data.train={quoted(files['train'])}",
        f"data.validation={quoted(files['validation'])}",
        f"data.test={quoted(files['test'])}",
        f"data.batch_size={BATCH}",
        f"data.cache_dir={quoted(workdir / 'cache')}",
        f"task.bptt={BPTT}",
        "task.tie_weights=false",
        "tokenizer.kind=word",
        f"tokenizer.vocab_size={VOCAB}",
        "model.cell=lstm",
        "model.runner=auto",
        f"model.embedding_size={EMBEDDING}",
        f"model.hidden_size={HIDDEN}",
        f"model.num_layers={LAYERS}",
        "model.dropout=0",
        "optim.name=sgd",
        f"optim.lr={LR}",
        "optim.momentum=0",
        "optim.weight_decay=0",
        "optim.schedule=none",
        f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
        "trainer.devices=1",
        "trainer.num_nodes=1",
        "trainer.strategy=auto",
        "trainer.precision=32-true",
        "trainer.max_epochs=1",
        f"trainer.limit_train_batches={batches}",
        "trainer.limit_val_batches=1",
        f"trainer.gradient_clip_val={CLIP}",
        "trainer.progress_bar=false",
        "trainer.early_stopping_patience=0",
        f"trainer.threads={threads}",
        f"tracking.uri={quoted('sqlite:///' + str(workdir / 'mlflow.db'))}",
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


def batchify(ids: Tensor, streams: int) -> Tensor:
    """(N,) ids -> (streams, N // streams): contiguous streams, the remainder dropped."""
    length = ids.numel() // streams
    return ids[: length * streams].view(streams, length)


def full_windows(ids: Tensor) -> int:
    """How many full bptt windows the train streams hold."""
    return (ids.numel() // BATCH - 1) // BPTT


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

    def tokens_per_second(self) -> float:
        if self.start is None or self.end is None or self.batches == 0:
            raise RuntimeError(f"no timed batches (warm-up {self.warmup} batches)")
        return self.tokens / (self.end - self.start)


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


class PlainLanguageModel(nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, EMBEDDING)
        self.lstm = nn.LSTM(EMBEDDING, HIDDEN, LAYERS, batch_first=True)
        self.output = nn.Linear(HIDDEN, vocab)

    def forward(
        self, tokens: Tensor, state: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        hidden, state = self.lstm(self.embedding(tokens), state)
        return self.output(hidden), state


@dataclass
class PlainResult:
    tokens: int = 0
    batches: int = 0
    seconds: float = 0.0
    last_loss: float = float("nan")

    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds


def run_plain(
    streams: Tensor, initial_weights: dict[str, Tensor], batches: int, warmup: int, device: str
) -> PlainResult:
    """The same training loop written directly in PyTorch: batches windows, warmup untimed.

    It starts from the pipeline's initial weights, so both contenders follow the same
    trajectory (values such as subnormal floats can change CPU speed).
    """
    model = PlainLanguageModel(initial_weights["embedding.weight"].size(0))
    model.load_state_dict(initial_weights)
    model.to(device).train()
    streams = streams.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    state: tuple[Tensor, Tensor] | None = None
    result = PlainResult()
    start = 0.0
    for index in range(batches):
        if index == warmup:
            synchronize()
            start = time.perf_counter()
        window = streams[:, index * BPTT : index * BPTT + BPTT + 1]
        inputs, targets = window[:, :-1], window[:, 1:]
        optimizer.zero_grad()
        logits, state = model(inputs, state)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        state = (state[0].detach(), state[1].detach())
        if index >= warmup:
            result.tokens += inputs.numel()
            result.batches += 1
    synchronize()
    result.seconds = time.perf_counter() - start
    result.last_loss = loss.item()
    return result


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


def synchronize() -> None:
    """Wait for queued GPU work (timings on CUDA); nothing on the CPU."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


def build_encoders(
    threads: int, inductor_cache: Path, device: str
) -> tuple[dict[str, Callable[[], None]], float, str]:
    """Steps of the fused, compiled and eager encoders; the compile time; a compile note.

    The compile uses an empty inductor cache, so its time is a first-ever compile's.
    """
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(inductor_cache)
    torch.set_num_threads(threads)
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


# ----------------------------------------------------------------------------- reporting


def median(values: list[float]) -> float:
    return statistics.median(values)


def figures(values: list[float], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def verdict(ratio: float, target: float) -> str:
    return f"target >= {target}: {'met' if ratio >= target else 'NOT met'}"


def log(message: str = "") -> None:
    print(message, flush=True)


def quiet_libraries() -> None:
    """Keep MLflow's and alembic's start-up chatter out of the figures."""
    for name in ("alembic", "mlflow", "lightning", "lightning.pytorch", "torch._dynamo"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


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
        "--encoder-rounds", type=int, default=5, help="rounds of the runner comparison"
    )
    parser.add_argument(
        "--encoder-batches", type=int, default=100, help="timed batches per runner and round"
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where both contenders train"
    )
    args = parser.parse_args(argv)
    if args.batches <= args.warmup:
        parser.error(f"--batches ({args.batches}) must exceed --warmup ({args.warmup})")
    if min(args.rounds, args.threads, args.encoder_rounds, args.encoder_batches) < 1:
        parser.error("--rounds, --threads, --encoder-rounds and --encoder-batches must be >= 1")
    return args


def lm_comparison(args: argparse.Namespace, workdir: Path) -> list[str]:
    """Part 1; returns the summary lines."""
    files, source = resolve_data(args.data.expanduser().resolve(), workdir)
    log(f"data: {source}")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    cfg = pipeline_config(files, workdir, args.batches, args.threads, args.device)
    data = pipeline_data(cfg)
    ids, vocab = data.ids, data.vocab
    log(
        f"token ids from the pipeline's cache (built if missing) in "
        f"{time.perf_counter() - start:.1f} s: {ids.numel()} train tokens, vocabulary {vocab}"
    )
    batches = args.batches
    if full_windows(ids) < batches:
        batches = full_windows(ids)
        log(f"the train split holds only {batches} full batches; using --batches {batches}")
        if batches <= args.warmup:
            raise SystemExit(f"too little training text for {args.warmup} warm-up batches")
        cfg = pipeline_config(files, workdir, batches, args.threads, args.device)
    streams = batchify(ids, BATCH)
    same = torch.equal(streams[:, :BPTT], data.first_inputs)
    log(f"plain loop's first batch equals the pipeline loader's: {'yes' if same else 'NO'}")

    log("warm-up: one untimed pipeline call (MLflow store, imports) ...")
    start = time.perf_counter()
    run_pipeline(
        pipeline_config(files, workdir, args.warmup + 5, args.threads, args.device), workdir, 1
    )
    log(f"  done in {time.perf_counter() - start:.1f} s")

    timed = batches - args.warmup
    log(
        f"LM rounds: {args.rounds} x (A then B), {timed} timed batches of {BATCH}x{BPTT} "
        f"tokens after {args.warmup} warm-up batches"
    )
    pipeline_rates: list[float] = []
    plain_rates: list[float] = []
    overhead: list[float] = []
    for round_index in range(1, args.rounds + 1):
        start = time.perf_counter()
        timer = run_pipeline(cfg, workdir, args.warmup)
        call_seconds = time.perf_counter() - start
        pipeline_rates.append(timer.tokens_per_second())
        overhead.append(call_seconds - (timer.end - timer.start))
        plain = run_plain(streams, data.initial_weights, batches, args.warmup, args.device)
        plain_rates.append(plain.tokens_per_second())
        if timer.batches != plain.batches:
            log(f"  warning: A timed {timer.batches} batches, B {plain.batches}")
        losses = (timer.last_loss(), plain.last_loss)
        log(
            f"  round {round_index}: A pipeline {pipeline_rates[-1]:6.0f} tok/s "
            f"({timer.batches} batches in {timer.end - timer.start:.1f} s, whole train() call "
            f"{call_seconds:.1f} s) | B plain {plain_rates[-1]:6.0f} tok/s ({plain.batches} "
            f"batches in {plain.seconds:.1f} s) | last-batch loss A {losses[0]:.4f} "
            f"B {losses[1]:.4f}"
        )
    ratio = median(pipeline_rates) / median(plain_rates)
    log(f"median A {median(pipeline_rates):.0f} tok/s, median B {median(plain_rates):.0f} tok/s")
    log(f"ratio median(A)/median(B) = {ratio:.3f}; {verdict(ratio, LM_TARGET)}")
    return [
        f"data: {source}; {ids.numel()} train tokens, vocabulary {vocab}",
        f"LM training, 2x{HIDDEN} LSTM, emb {EMBEDDING}, batch {BATCH}, bptt {BPTT}, SGD lr "
        f"{LR:g}, clip {CLIP}, dropout 0, fp32 on {args.device}; {args.rounds} rounds "
        "alternating A/B, "
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


def runner_comparison(args: argparse.Namespace, inductor_cache: Path) -> list[str]:
    """Part 2; returns the summary lines."""
    log(
        f"runner comparison: encoder only, {LAYERS}x{HIDDEN}, batch {BATCH}, bptt {BPTT}, "
        "forward + backward on random inputs"
    )
    log("compiling the step loop (torch.compile, empty inductor cache) ...")
    steps, compile_seconds, note = build_encoders(args.threads, inductor_cache, args.device)
    log(f"  first compiled call took {compile_seconds:.1f} s (compile {note})")
    for step in steps.values():
        time_steps(step, 5)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(1, args.encoder_rounds + 1):
        for name, step in steps.items():
            times[name].append(time_steps(step, args.encoder_batches) * 1000)
        log(
            f"  round {round_index}: "
            + " | ".join(f"{name} {times[name][-1]:6.2f} ms/batch" for name in steps)
        )
    fused = median(times["fused"])
    ratios = {name: fused / median(times[name]) for name in ("compiled", "eager")}
    verdicts = {name: verdict(ratio, RUNNER_TARGET) for name, ratio in ratios.items()}
    lines = [
        f"runner comparison, encoder only {LAYERS}x{HIDDEN}, batch {BATCH}, bptt {BPTT}, "
        f"fwd+bwd; {args.encoder_rounds} rounds x {args.encoder_batches} batches, medians:",
        f"  fused (TanhRNNCell, torch.rnn_tanh):     {fused:.2f} ms/batch",
        f"  compiled (SigmoidRNNCell, torch.compile): {median(times['compiled']):.2f} ms/batch "
        f"(one-off compile {compile_seconds:.1f} s, {note})",
        f"  eager (SigmoidRNNCell, Python loop):     {median(times['eager']):.2f} ms/batch",
        f"  fused/compiled = {ratios['compiled']:.3f} ({verdicts['compiled']})",
        f"  fused/eager    = {ratios['eager']:.3f} ({verdicts['eager']})",
        f"  compiled is {median(times['eager']) / median(times['compiled']):.2f}x eager's speed",
    ]
    for line in lines[1:]:
        log(line)
    return lines


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_libraries()
    begin = time.perf_counter()
    load_before = load()
    log(
        f"lm_throughput: {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{args.threads} threads, python {platform.python_version()}; {load_before}"
    )
    with tempfile.TemporaryDirectory(prefix="lm-throughput-") as scratch:
        workdir = (args.workdir or Path(scratch) / "work").expanduser().resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        log(f"workdir: {workdir}")
        lm_lines = lm_comparison(args, workdir)
        runner_lines = runner_comparison(args, Path(scratch) / "inductor-cache")
    total = time.perf_counter() - begin
    log()
    log("=== lm_throughput summary ===")
    log(
        f"machine: {os.cpu_count()} cores (os.cpu_count), {platform.machine()}, torch "
        f"{torch.__version__}, {args.threads} torch threads, python {platform.python_version()}"
    )
    log(f"{load_before} at start, {load()} at end (other work on the machine skews figures)")
    for line in [*lm_lines, *runner_lines]:
        log(line)
    log(f"total benchmark time: {total:.0f} s (after imports)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
