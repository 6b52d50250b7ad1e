"""The ``long_range`` task: the adding and copy-memory problems (``task.problem``), length T.

Data is generated from ``cfg.seed`` through the toolkit for tasks (``prepare_cached`` into the
data cache, ``split_loader`` for seeded shuffling and exact DDP shards); no file is read.
Metrics per split: ``loss`` (adding: MSE; copy: cross-entropy per symbol), ``baseline`` (the
trivial predictor's loss on the same examples, printed next to it) and ``accuracy`` (adding:
|error| < 0.04, Hochreiter & Schmidhuber's criterion; copy: the 10 recalled digits).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.data import LOADER_SPLITS, Splits
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.metrics import WeightedMean
from pipeline.preparation import Encoded, prepare_cached, task_cache_key
from pipeline.sharding import split_loader
from plugins.tasks.long_range import problems
from plugins.tasks.long_range.problems import COPY_CLASSES, COPY_DIGITS, COPY_SYMBOLS

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config
    from pipeline.recurrent import RecurrentEncoder

SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}
"""Offset of each split's generator seed: ``3 * cfg.seed + offset``."""
SIZE_KEYS = {name: split for split, name in LOADER_SPLITS.items()}
"""Data split -> the key of its size param (``data.size.val``)."""
ADDING_TOLERANCE = 0.04
"""An adding prediction counts as right within this absolute error."""
GENERATORS = {"adding": problems.adding_examples, "copy": problems.copy_examples}


@dataclass
class LongRangeOptions:
    problem: Literal["adding", "copy"] = "adding"
    """adding: regress the sum of two marked values; copy: recall 10 digits after T steps."""
    length: int = field(default=50, metadata={"min": 2})
    """T: the adding sequence's steps; the copy problem's blank stretch (T + 20 symbols)."""
    train_size: int = field(default=2000, metadata={"min": 1})
    eval_size: int = field(default=500, metadata={"min": 1})
    """Examples in each of the val and test splits."""


class LongRangeNetwork(nn.Module):
    """Adding: (B, T, 2) -> final state of the last layer -> sums (B,).
    Copy: symbols (B, L) -> one-hot (B, L, 10) -> outputs at each step -> logits (B, L, 9)."""

    def __init__(self, encoder: RecurrentEncoder, problem: str) -> None:
        super().__init__()
        self.encoder, self.problem = encoder, problem
        self.output = nn.Linear(encoder.output_size, 1 if problem == "adding" else COPY_CLASSES)

    def forward(self, inputs: Tensor) -> Tensor:
        if self.problem == "copy":
            out, _ = self.encoder(F.one_hot(inputs, COPY_SYMBOLS).float())  # (B, L, dirs*H)
            logits: Tensor = self.output(out)  # (B, L, 9)
            return logits
        _, state = self.encoder(inputs)
        last = state[0][-self.encoder.directions :]  # (dirs, B, H): the last layer
        sums: Tensor = self.output(torch.cat(list(last), 1)).squeeze(1)  # (B,)
        return sums


class LongRangeTask(Task):
    """Long-memory benchmarks with their trivial baselines; see the module docstring."""

    Options = LongRangeOptions
    options: LongRangeOptions
    monitor = "val_loss"
    monitor_mode = "min"
    metric_names = ("loss", "baseline", "accuracy")

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.splits: dict[str, tuple[Tensor, Tensor]] = {}

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        """Generate the three splits from cfg.seed into the data cache (once)."""
        prepared = prepare_cached(self, cache_dir)
        self.splits = prepared.tensors
        baseline = problems.baseline_loss(self.options.problem, self.options.length)
        extra = {"data.generated_from_seed": self.cfg.seed, "task.baseline_loss": baseline}
        return DataFacts(prepared.sizes, extra=extra)

    def cache_key(self) -> dict[str, Any]:
        return task_cache_key("long_range", self.cfg, options=dataclasses.asdict(self.options))

    def read_splits(self) -> Splits[tuple[Tensor, Tensor]]:
        """(inputs, target) examples of each split, drawn from the split's generator."""
        options, examples = self.options, {}
        for split, offset in SPLIT_SEEDS.items():
            generator = torch.Generator().manual_seed(self.cfg.seed * 3 + offset)
            count = options.train_size if split == "train" else options.eval_size
            inputs, targets = GENERATORS[options.problem](count, options.length, generator)
            examples[split] = list(zip(inputs, targets, strict=True))
        return Splits(examples)

    def fit(self, splits: Splits[tuple[Tensor, Tensor]]) -> None:
        """Nothing to fit: no vocabulary, no labels."""

    def encode(self, split: str, examples: list[tuple[Tensor, Tensor]]) -> Encoded:
        inputs, targets = (torch.stack(column) for column in zip(*examples, strict=True))
        return Encoded((inputs, targets), {SIZE_KEYS[split]: len(examples)})

    def save_artifacts(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        facts = {"problem": self.options.problem, "length": self.options.length}
        (directory / "long_range.json").write_text(json.dumps(facts))

    def load_artifacts(self, directory: Path) -> None:
        json.loads((directory / "long_range.json").read_text())  # the config holds the same

    def build_network(self, components: Components) -> nn.Module:
        features = 2 if self.options.problem == "adding" else COPY_SYMBOLS
        return LongRangeNetwork(components.encoder(features), self.options.problem)

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> Any:
        dataset = torch.utils.data.TensorDataset(*self.splits[split])
        return split_loader(dataset, split, self.cfg, rank, world_size)

    def metrics(self) -> dict[str, Any]:
        return {name: WeightedMean() for name in self.metric_names}

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        inputs, targets = batch  # adding (B, T, 2), (B,); copy (B, L), (B, L)
        predicted = network(inputs)
        if self.options.problem == "adding":
            losses = (predicted - targets).pow(2)  # (B,)
            baseline = (1 - targets).pow(2)
            right = (predicted - targets).abs() < ADDING_TOLERANCE
        else:
            losses = F.cross_entropy(predicted.transpose(1, 2), targets, reduction="none")
            baseline = torch.zeros_like(losses)  # (B, L): sure of the blanks ...
            baseline[:, -COPY_DIGITS:] = math.log(problems.DIGIT_VALUES)  # ... guessing digits
            recalled = slice(-COPY_DIGITS, None)
            right = predicted[:, recalled].argmax(2) == targets[:, recalled]
        metrics["loss"].update(losses.detach())
        metrics["baseline"].update(baseline)
        metrics["accuracy"].update(right.float())
        return StepResult(losses.mean())

    @torch.no_grad()
    def predict(
        self, network: nn.Module, texts: Sequence[str], **options: Any
    ) -> list[dict[str, Any]]:
        """Adding: the predicted and true sum; copy: the recalled and the given digits."""
        network.eval()
        device = next(network.parameters()).device
        return [self._predict_one(network, text, device) for text in texts]

    def _predict_one(self, network: nn.Module, text: str, device: torch.device) -> dict[str, Any]:
        if self.options.problem == "adding":
            inputs = problems.parse_adding(text)  # (T, 2)
            predicted = float(network(inputs.unsqueeze(0).to(device))[0])
            target = float((inputs[:, 0] * inputs[:, 1]).sum())
            return {"text": text, "predicted": predicted, "target": target}
        digits = problems.parse_copy(text)
        inputs = problems.copy_inputs(digits.unsqueeze(0), self.options.length).to(device)
        recalled = network(inputs)[0, -COPY_DIGITS:].argmax(1)
        return {"text": text, "predicted": recalled.tolist(), "target": digits.tolist()}

    def describe(self, prediction: dict[str, Any]) -> str:
        if self.options.problem == "adding":
            return (
                f"{prediction['text']}\n  predicted sum {prediction['predicted']:.4f} "
                f"(marked values add up to {prediction['target']:.4f})"
            )
        recalled = " ".join(str(d) for d in prediction["predicted"])
        return f"{prediction['text']}\n  recalled {recalled}"
