"""The adding problem as a third-party task: the worked example of the plugin guide.

Each example is a sequence of T steps with two features: a value drawn from U(0, 1) and a
marker, 1 at exactly two steps (one in each half) and 0 elsewhere. The target is the sum of
the two marked values, so a network must remember the first marked value until the end.
Predicting 1 every time gives an MSE of about 0.167; a network that solves the task goes well
below that.

The sequences and the prediction format are rnn-pipeline's built-in ``long_range`` task's
(``plugins.tasks.long_range.problems``, Arjovsky et al. 2016): one copy of that logic. This
module shows what a task plugin writes itself: options, network, loss, metrics, prediction.
The data is generated from ``cfg.seed``; no files are read. It goes through rnn-pipeline's
toolkit for tasks like any other task's data: ``prepare_cached`` (generated once into the data
cache), ``split_loader`` (seeded shuffle, exact DDP shards). Raw text for prediction is one
``value:marker`` pair per step separated by spaces, e.g. ``"0.3:0 0.5:1 0.9:0 0.1:1"``
(exactly two markers; any length).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics import MeanMetric, MeanSquaredError

from pipeline.data import LOADER_SPLITS, Splits
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.preparation import Encoded, prepare_cached, task_cache_key
from pipeline.sharding import split_loader
from plugins.tasks.long_range.problems import ADDING_FORMAT
from plugins.tasks.long_range.problems import InputError as InputError  # re-exported
from plugins.tasks.long_range.problems import adding_examples as make_examples
from plugins.tasks.long_range.problems import parse_adding as parse

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config
    from pipeline.recurrent import RecurrentEncoder

SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}
"""Offset of each split's generator seed: ``3 * cfg.seed + offset``."""
SIZE_KEYS = {name: split for split, name in LOADER_SPLITS.items()}
"""Data split -> the key of its size param (``data.size.val``)."""


@dataclass
class AddingOptions:
    length: int = field(default=50, metadata={"min": 2})
    """T, the number of steps of each sequence."""
    train_size: int = field(default=2000, metadata={"min": 1})
    eval_size: int = field(default=500, metadata={"min": 1})
    """Examples in each of the val and test splits."""


class AddingNetwork(nn.Module):
    """Recurrent encoder over (B, T, 2) -> final hidden state of the last layer -> a number."""

    def __init__(self, encoder: RecurrentEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.output = nn.Linear(encoder.output_size, 1)

    def forward(self, inputs: Tensor) -> Tensor:
        """inputs (B, T, 2) -> predicted sums (B,)."""
        _, state = self.encoder(inputs)
        last = state[0][-self.encoder.directions :]  # (dirs, B, H): the last layer
        return self.output(torch.cat(list(last), 1)).squeeze(1)


class AddingProblemTask(Task):
    """Regress the sum of the two marked values; metrics loss (MSE) and mse."""

    Options = AddingOptions
    uses_tokenizer = False  # numbers, not text: no tokenizer.* params
    monitor = "val_mse"
    monitor_mode = "min"
    metric_names = ("loss", "mse")

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.splits: dict[str, tuple[Tensor, Tensor]] = {}

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        """Generate the three splits from cfg.seed into the data cache (once)."""
        prepared = prepare_cached(self, cache_dir)
        self.splits = prepared.tensors
        return DataFacts(prepared.sizes, extra={"data.generated_from_seed": self.cfg.seed})

    def cache_key(self) -> dict[str, Any]:
        return task_cache_key("adding_problem", self.cfg, options=dataclasses.asdict(self.options))

    def read_splits(self) -> Splits[tuple[Tensor, Tensor]]:
        """(inputs (T, 2), target) examples of each split, drawn from the split's generator."""
        options = self.options
        examples: dict[str, list[tuple[Tensor, Tensor]]] = {}
        for split, offset in SPLIT_SEEDS.items():
            generator = torch.Generator().manual_seed(self.cfg.seed * 3 + offset)
            count = options.train_size if split == "train" else options.eval_size
            inputs, targets = make_examples(count, options.length, generator)
            examples[split] = list(zip(inputs, targets, strict=True))
        return Splits(examples)

    def fit(self, splits: Splits[tuple[Tensor, Tensor]]) -> None:
        """Nothing to fit: no vocabulary, no labels."""

    def encode(self, split: str, examples: list[tuple[Tensor, Tensor]]) -> Encoded:
        inputs, targets = (torch.stack(column) for column in zip(*examples, strict=True))
        return Encoded((inputs, targets), {SIZE_KEYS[split]: len(examples)})

    def save_artifacts(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "adding_problem.json").write_text(json.dumps({"format": ADDING_FORMAT}))

    def load_artifacts(self, directory: Path) -> None:
        json.loads((directory / "adding_problem.json").read_text())

    def build_network(self, components: Components) -> nn.Module:
        return AddingNetwork(components.encoder(2))

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> Any:
        dataset = torch.utils.data.TensorDataset(*self.splits[split])
        return split_loader(dataset, split, self.cfg, rank, world_size)

    def metrics(self) -> dict[str, Any]:
        return {"loss": MeanMetric(), "mse": MeanSquaredError()}

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        inputs, targets = batch  # (B, T, 2), (B,)
        predicted = network(inputs)  # (B,)
        loss = F.mse_loss(predicted, targets)
        metrics["loss"].update(loss.detach(), targets.numel())
        metrics["mse"].update(predicted.detach(), targets)
        return StepResult(loss)

    @torch.no_grad()
    def predict(self, network: nn.Module, texts: Sequence[str], **options: Any) -> list[dict]:
        """Predicted and true sum of each text's two marked values."""
        network.eval()
        device = next(network.parameters()).device
        results = []
        for text in texts:
            inputs = parse(text)  # (T, 2)
            predicted = float(network(inputs.unsqueeze(0).to(device))[0])
            true_sum = float((inputs[:, 0] * inputs[:, 1]).sum())
            results.append({"text": text, "predicted": predicted, "target": true_sum})
        return results

    def describe(self, prediction: dict) -> str:
        return (
            f"{prediction['text']}\n  predicted sum {prediction['predicted']:.4f} "
            f"(marked values add up to {prediction['target']:.4f})"
        )
