"""Language identification from characters: which language is a short text written in?

Data: ``LABEL<TAB>text`` lines (``data.train``, optional ``data.validation``/``data.test``,
carved from train when missing). The task reads characters itself, so the ``tokenizer``
section does not apply. Network: character embedding -> recurrent encoder -> the final state
of the last layer -> one score per language.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from pipeline.data import LOADER_SPLITS, Splits, read_splits
from pipeline.errors import DataError
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.sharding import split_loader
from pipeline.textfiles import location, numbered_lines, read_text

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config
    from pipeline.recurrent import RecurrentEncoder

PAD, UNK = 0, 1
"""Character ids 0 and 1: padding and a character unseen in training."""
ARTIFACT = "langid.json"


@dataclass
class LangIdOptions:
    max_chars: int = field(default=64, metadata={"min": 1})
    """Characters read of each text (the rest is cut)."""
    lowercase: bool = True
    """Read texts in lower case."""


@dataclass
class LangIdPredictOptions:
    top_k: int = field(default=3, metadata={"help": "how many languages, most likely first"})

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")


def read_file(path: Path, key: str) -> list[tuple[str, str]]:
    """``(label, text)`` rows of one ``LABEL<TAB>text`` file; ``key`` is ``data.train`` etc."""
    rows = []
    for number, line in numbered_lines(read_text(path, "utf-8", key, kind="a TSV file")):
        label, tab, text = line.partition("\t")
        if not tab or not label or not text.strip():
            raise DataError(f"{location(key, path, number)}: write LABEL<TAB>TEXT")
        rows.append((label, text.strip()))
    return rows


def read_dataset(split: str, dataset: Any) -> list[tuple[str, str]]:
    return [(str(row["label"]), str(row["text"])) for row in dataset]


class LangIdNetwork(nn.Module):
    """(B, T) character ids and (B,) lengths -> (B, C) language scores."""

    def __init__(self, embedding: nn.Embedding, encoder: RecurrentEncoder, classes: int) -> None:
        super().__init__()
        self.embedding = embedding
        self.encoder = encoder
        self.output = nn.Linear(encoder.output_size, classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        _, state = self.encoder(self.embedding(ids), lengths)  # state[0]: (L*dirs, B, H)
        last = state[0][-self.encoder.directions :]  # the last layer, each direction
        return self.output(torch.cat(list(last), 1))


class LangIdTask(Task):
    """One language per text; metrics loss and accuracy; monitors val_accuracy."""

    Options = LangIdOptions
    PredictOptions = LangIdPredictOptions
    uses_tokenizer = False
    monitor = "val_accuracy"
    monitor_mode = "max"
    metric_names = ("loss", "accuracy")

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.chars: list[str] = []
        self.labels: list[str] = []
        self.splits: dict[str, tuple[Tensor, Tensor, Tensor]] = {}

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        """Read the splits; fit characters and labels on train unless loaded; encode."""
        splits: Splits[tuple[str, str]] = read_splits(
            self.cfg.data, self.cfg.seed, read_file, read_dataset
        )
        if not self.labels:
            self.fit(splits.examples["train"])
        self.splits = {
            loader: self.encode(splits.examples[split]) for loader, split in LOADER_SPLITS.items()
        }
        sizes = {loader: len(tensors[2]) for loader, tensors in self.splits.items()}
        return DataFacts(sizes, extra={"data.languages": len(self.labels)})

    def fit(self, rows: list[tuple[str, str]]) -> None:
        seen = {char for _, text in rows for char in self.normalise(text)}
        self.chars = ["<pad>", "<unk>", *sorted(seen)]
        self.labels = sorted({label for label, _ in rows})

    def normalise(self, text: str) -> str:
        text = text.lower() if self.options.lowercase else text
        return text[: self.options.max_chars]

    def encode_texts(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """(N, T) ids padded with PAD, and (N,) lengths (at least 1)."""
        index = {char: i for i, char in enumerate(self.chars)}
        rows = [[index.get(char, UNK) for char in self.normalise(text)] or [UNK] for text in texts]
        ids = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids, torch.tensor([len(row) for row in rows])

    def encode(self, rows: list[tuple[str, str]]) -> tuple[Tensor, Tensor, Tensor]:
        classes = {label: i for i, label in enumerate(self.labels)}
        unknown = sorted({label for label, _ in rows} - set(classes))
        if unknown:
            raise DataError(f"languages {unknown} are not in data.train; add examples of them")
        ids, lengths = self.encode_texts([text for _, text in rows])
        return ids, lengths, torch.tensor([classes[label] for label, _ in rows])

    def save_artifacts(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        state = {"chars": self.chars, "labels": self.labels}
        (directory / ARTIFACT).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    def load_artifacts(self, directory: Path) -> None:
        state = json.loads((directory / ARTIFACT).read_text(encoding="utf-8"))
        self.chars, self.labels = state["chars"], state["labels"]

    def build_network(self, components: Components) -> nn.Module:
        embedding = components.embedding(len(self.chars), padding_idx=PAD)
        encoder = components.encoder(embedding.embedding_dim)
        return LangIdNetwork(embedding, encoder, len(self.labels))

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> Any:
        dataset = torch.utils.data.TensorDataset(*self.splits[split])
        return split_loader(dataset, split, self.cfg, rank, world_size)

    def metrics(self) -> dict[str, Any]:
        return {
            "loss": MeanMetric(),
            "accuracy": MulticlassAccuracy(num_classes=len(self.labels), average="micro"),
        }

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        ids, lengths, labels = batch  # (B, T), (B,), (B,)
        scores = network(ids, lengths)  # (B, C)
        loss = F.cross_entropy(scores, labels)
        metrics["loss"].update(loss.detach(), labels.numel())
        metrics["accuracy"].update(scores.detach(), labels)
        return StepResult(loss)

    @torch.no_grad()
    def predict(
        self, network: nn.Module, texts: Sequence[str], top_k: int = 3, **options: Any
    ) -> list[dict[str, Any]]:
        """The top_k languages of each text with their probabilities."""
        network.eval()
        device = next(network.parameters()).device
        ids, lengths = self.encode_texts(texts)
        probabilities = F.softmax(network(ids.to(device), lengths.to(device)), dim=1)  # (N, C)
        best = probabilities.topk(min(top_k, len(self.labels)), dim=1)
        return [
            {
                "text": text,
                "languages": [
                    {"language": self.labels[int(i)], "probability": float(p)}
                    for p, i in zip(values, indices, strict=True)
                ],
            }
            for text, values, indices in zip(texts, best.values, best.indices, strict=True)
        ]

    def describe(self, prediction: dict[str, Any]) -> str:
        ranked = ", ".join(
            f"{item['language']} {item['probability']:.2f}" for item in prediction["languages"]
        )
        return f"{prediction['text']}\n  {ranked}"
