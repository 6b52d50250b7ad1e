"""The plain PyTorch loop that ``cli_epoch.py`` runs in its own process against the pipeline.

Usage::

    python benchmarks/plain_lm.py --train FILE --validation FILE --epochs N [--threads T]
                                  [--device cpu|cuda] [--checkpoint FILE]

What a PyTorch user writes for ``lm_common``'s model (as pytorch/examples'
word_language_model does): the same word vocabulary rule as ``tokenizer.kind=word``
(stripped non-blank lines, whitespace words, ``<eos>`` at each line end, the most frequent
words), contiguous streams, carried detached state, then each epoch trains on every bptt
window and evaluates the whole validation split, saving the weights when validation
improves. The last line it prints is a JSON object with the token counts and losses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import torch
from lm_common import (
    BATCH,
    EVAL_BATCH,
    LR,
    SEED,
    VOCAB,
    PlainLanguageModel,
    State,
    all_windows,
    batchify,
    loss_of,
    train_step,
    window,
)
from torch import Tensor

SPECIALS = ("<pad>", "<unk>", "<eos>")
UNK = 1


def read_words(path: Path) -> list[list[str]]:
    """Each stripped non-blank line's words, ``<eos>`` appended."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").split("\n"))
    return [[*line.split(), "<eos>"] for line in lines if line]


def vocabulary(lines: list[list[str]]) -> dict[str, int]:
    """Ids of the specials and the most frequent train words, VOCAB in all."""
    counts = Counter(word for line in lines for word in line if word not in SPECIALS)
    kept = sorted(counts, key=lambda word: (-counts[word], word))[: VOCAB - len(SPECIALS)]
    return {word: index for index, word in enumerate([*SPECIALS, *kept])}


def ids(lines: list[list[str]], vocab: dict[str, int]) -> Tensor:
    """(N,) token ids of all lines in order."""
    return torch.tensor([vocab.get(word, UNK) for line in lines for word in line])


def train_epoch(
    model: PlainLanguageModel, optimizer: torch.optim.Optimizer, data: Tensor
) -> Tensor:
    """One pass over every bptt window of the (B, L) streams; the last batch's loss."""
    model.train()
    state: State | None = None
    loss = torch.zeros(())
    for index in range(all_windows(data)):
        inputs, targets = window(data, index)
        loss, state = train_step(model, optimizer, inputs, targets, state)
    return loss


@torch.no_grad()
def evaluate(model: PlainLanguageModel, data: Tensor) -> float:
    """Mean cross-entropy per token over every bptt window of the (B, L) streams."""
    model.eval()
    state: State | None = None
    total, tokens = torch.zeros((), device=data.device), 0
    for index in range(all_windows(data)):
        inputs, targets = window(data, index)
        logits, state = model(inputs, state)
        total += loss_of(logits, targets) * targets.numel()
        tokens += targets.numel()
    return total.item() / tokens


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--validation", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--checkpoint", type=Path, default=Path("plain_best.pt"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    train_lines = read_words(args.train)
    vocab = vocabulary(train_lines)
    train_ids, valid_ids = ids(train_lines, vocab), ids(read_words(args.validation), vocab)
    train = batchify(train_ids, BATCH).to(args.device)
    valid = batchify(valid_ids, EVAL_BATCH).to(args.device)
    model = PlainLanguageModel(len(vocab)).to(args.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    best = float("inf")
    for epoch in range(args.epochs):
        start = time.perf_counter()
        train_loss = train_epoch(model, optimizer, train).item()
        val_loss = evaluate(model, valid)
        if val_loss < best:
            best = val_loss
            torch.save(model.state_dict(), args.checkpoint)
        print(
            f"epoch {epoch}: {time.perf_counter() - start:.1f} s, last train loss "
            f"{train_loss:.3f}, val loss {val_loss:.3f}",
            flush=True,
        )
    summary = {
        "train_tokens": train_ids.numel(),
        "validation_tokens": valid_ids.numel(),
        "vocabulary": len(vocab),
        "best_val_loss": best,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
