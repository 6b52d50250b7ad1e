"""What the language-model benchmarks share: the model they compare, its data, reporting.

The model is the one of issue 15: a 2-layer LSTM of 200 units, embedding 200, a word
vocabulary of 10k, batch 20, bptt 20, SGD lr 20, gradient clipping 0.25, dropout 0, fp32.
``lm_throughput.py`` and ``cli_epoch.py`` train it with the pipeline and with the plain loop
below; ``runner_speed.py`` uses its sizes for the encoder alone.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "wikitext2"
WIKITEXT_FILES = ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens")
SPLITS = ("train", "validation", "test")

VOCAB = 10_000
EMBEDDING = HIDDEN = 200
LAYERS = 2
BATCH = 20
EVAL_BATCH = 10  # conf/base.yaml's data.eval_batch_size
BPTT = 20
LR = 20.0
CLIP = 0.25
SEED = 42

State = tuple[Tensor, Tensor]
PRECISIONS = ("32", "tf32", "bf16-mixed")


@dataclass(frozen=True)
class Shape:
    """The compared model's size and numerics; the defaults are the model above.

    precision: ``32`` (fp32 matrix products), ``tf32`` (fp32 storage, TF32 tensor-core
    products on GPUs: ``trainer.float32_matmul_precision=high``) or ``bf16-mixed``
    (autocast to bfloat16: ``trainer.precision=bf16-mixed``).
    """

    hidden: int = HIDDEN
    layers: int = LAYERS
    batch: int = BATCH
    bptt: int = BPTT
    precision: str = "32"

    @property
    def embedding(self) -> int:
        return self.hidden

    def describe(self) -> str:
        return (
            f"{self.layers}x{self.hidden} LSTM, emb {self.embedding}, batch {self.batch}, "
            f"bptt {self.bptt}, {self.precision}"
        )

    def matmul_precision(self) -> str:
        """torch.set_float32_matmul_precision's setting for this precision."""
        return "high" if self.precision == "tf32" else "highest"

    def autocast(self, device: str) -> AbstractContextManager[object]:
        """The forward pass's autocast context (bfloat16 for bf16-mixed, else none)."""
        if self.precision == "bf16-mixed":
            return torch.autocast(device_type=device, dtype=torch.bfloat16)
        return nullcontext()


DEFAULT_SHAPE = Shape()


# ----------------------------------------------------------------------------- data


def wikitext_files(data: Path) -> dict[str, Path] | None:
    """WikiText-2's train/validation/test files in data, or None when one is missing."""
    files = [data / name for name in WIKITEXT_FILES]
    if all(path.is_file() for path in files):
        return dict(zip(SPLITS, files, strict=True))
    return None


def write_slice(source: Path, target: Path, tokens: int) -> int:
    """The first non-blank lines of source holding >= tokens words and eos; their count."""
    kept, count = [], 0
    for line in source.read_text(encoding="utf-8").split("\n"):
        if count >= tokens:
            break
        if line.strip():
            kept.append(line)
            count += len(line.split()) + 1
    target.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return count


def wikitext_slice(
    data: Path, folder: Path, train_tokens: int, eval_tokens: int
) -> dict[str, Path]:
    """The first lines of WikiText-2's splits in data, train_tokens of train and eval_tokens of
    validation and test, written into folder; exits naming --data when the files are missing."""
    files = wikitext_files(data.expanduser().resolve())
    if files is None:
        raise SystemExit(f"{data} has no WikiText-2 files; pass --data DIR")
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {"train": train_tokens, "validation": eval_tokens, "test": eval_tokens}
    slices = {split: folder / f"{split}.txt" for split in files}
    for split, path in files.items():
        count = write_slice(path, slices[split], sizes[split])
        log(f"{split}: {count} tokens from {path.name}")
    return slices


def quoted(value: object) -> str:
    """A YAML scalar that reads back as this exact string (paths with ':' or spaces)."""
    return json.dumps(str(value))


def lm_overrides(
    files: dict[str, Path], cache_dir: Path, tracking_uri: str, shape: Shape = DEFAULT_SHAPE
) -> list[str]:
    """``KEY=VALUE`` overrides of conf/base.yaml that pin the compared model and its data.

    Everything else (progress bar, trainer epochs, devices, threads) stays for the caller.
    """
    return [
        *(f"data.{split}={quoted(path)}" for split, path in files.items()),
        f"data.batch_size={shape.batch}",
        f"data.eval_batch_size={EVAL_BATCH}",
        f"data.cache_dir={quoted(cache_dir)}",
        f"task.bptt={shape.bptt}",
        "task.tie_weights=false",
        "tokenizer.kind=word",
        f"tokenizer.vocab_size={VOCAB}",
        "model.cell=lstm",
        "model.runner=auto",
        f"model.embedding_size={shape.embedding}",
        f"model.hidden_size={shape.hidden}",
        f"model.num_layers={shape.layers}",
        "model.dropout=0",
        "optim.name=sgd",
        f"optim.lr={LR}",
        "optim.momentum=0",
        "optim.weight_decay=0",
        "optim.schedule=none",
        f"trainer.precision={'bf16-mixed' if shape.precision == 'bf16-mixed' else '32-true'}",
        f"trainer.float32_matmul_precision={shape.matmul_precision()}",
        f"trainer.gradient_clip_val={CLIP}",
        "trainer.early_stopping_patience=0",
        f"tracking.uri={quoted(tracking_uri)}",
    ]


# ----------------------------------------------------------------------------- plain loop


class PlainLanguageModel(nn.Module):
    """nn.Embedding -> nn.LSTM -> nn.Linear, the model as a PyTorch user writes it."""

    def __init__(self, vocab: int, shape: Shape = DEFAULT_SHAPE) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, shape.embedding)
        self.lstm = nn.LSTM(shape.embedding, shape.hidden, shape.layers, batch_first=True)
        self.output = nn.Linear(shape.hidden, vocab)

    def forward(self, tokens: Tensor, state: State | None) -> tuple[Tensor, State]:
        """(B, T) ids -> (B, T, vocab) logits and the new (h, c), each (layers, B, H)."""
        hidden, state = self.lstm(self.embedding(tokens), state)
        return self.output(hidden), state


def batchify(ids: Tensor, streams: int) -> Tensor:
    """(N,) ids -> (streams, N // streams): contiguous streams, the remainder dropped."""
    length = ids.numel() // streams
    return ids[: length * streams].view(streams, length)


def full_windows(streams: Tensor, bptt: int = BPTT) -> int:
    """How many full bptt windows (inputs and shifted targets) the (B, L) streams hold."""
    return (streams.size(1) - 1) // bptt


def all_windows(streams: Tensor, bptt: int = BPTT) -> int:
    """How many bptt windows, the last one possibly shorter, the (B, L) streams hold."""
    return -(-(streams.size(1) - 1) // bptt)


def window(streams: Tensor, index: int, bptt: int = BPTT) -> tuple[Tensor, Tensor]:
    """Window index of (B, L) streams: (B, T) inputs and the (B, T) next tokens, T <= bptt."""
    chunk = streams[:, index * bptt : index * bptt + bptt + 1]
    return chunk[:, :-1], chunk[:, 1:]


def loss_of(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy of (B, T, vocab) logits against (B, T) targets."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def train_step(
    model: PlainLanguageModel,
    optimizer: torch.optim.Optimizer,
    inputs: Tensor,
    targets: Tensor,
    state: State | None,
    shape: Shape = DEFAULT_SHAPE,
) -> tuple[Tensor, State]:
    """One SGD step with clipping; returns the (detached) loss and the detached state."""
    optimizer.zero_grad()
    with shape.autocast(inputs.device.type):
        logits, state = model(inputs, state)
        loss = loss_of(logits, targets)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    optimizer.step()
    return loss.detach(), (state[0].detach(), state[1].detach())


# ----------------------------------------------------------------------------- reporting


def median(values: list[float]) -> float:
    return statistics.median(values)


def figures(values: list[float], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def verdict(ratio: float, target: float) -> str:
    return f"target >= {target}: {'met' if ratio >= target else 'NOT met'}"


def log(message: str = "") -> None:
    print(message, flush=True)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def machine(threads: int) -> str:
    return (
        f"machine: {os.cpu_count()} cores (os.cpu_count), {platform.machine()}, torch "
        f"{torch.__version__}, {threads or torch.get_num_threads()} torch threads, python "
        f"{platform.python_version()}"
    )


def summary(title: str, header: list[str], load_before: str, lines: list[str]) -> None:
    """The closing block every benchmark prints: what ran where, the load, its figures."""
    log()
    log(f"=== {title} summary ===")
    for line in header:
        log(line)
    log(f"{load_before} at start, {load()} at end (other work on the machine skews figures)")
    for line in lines:
        log(line)


def peak_memory() -> float | None:
    """Peak GPU memory allocated since the last call, in MiB (resets the peak); None on CPU."""
    if not torch.cuda.is_initialized():
        return None
    peak = torch.cuda.max_memory_allocated() / 2**20
    torch.cuda.reset_peak_memory_stats()
    return peak


def synchronize() -> None:
    """Wait for queued GPU work (timings on CUDA); nothing on the CPU."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


def quiet_libraries() -> None:
    """Keep MLflow's and alembic's start-up chatter out of the figures."""
    for name in ("alembic", "mlflow", "lightning", "lightning.pytorch", "torch._dynamo"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
