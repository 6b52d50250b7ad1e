"""Text classification: one label per text, from a pooled recurrent encoding.

embedding -> recurrent encoder (one or two directions) -> pooling over time -> dropout ->
linear layer over the classes, trained with cross-entropy. Pooling (``task.pooling``):

- ``last``: the final hidden state of the top layer, taken at each text's length; with two
  directions the forward final state (after the last token) and the backward final state
  (after reading back to the first token) are concatenated (Schuster & Paliwal 1997);
- ``mean`` / ``max``: mean or max of the top layer's outputs over the valid positions
  (padding masked out), as in the BiLSTM-max encoder of Conneau et al. 2017.

Data: labelled files in the formats of :mod:`plugins.tasks.text_formats` or a hub dataset
(``data.text_column``, ``data.label_column``). Labels get ids in sorted order of the training
labels (numbers numerically); a validation or test label unseen in train is a DataError. A text
that tokenises to nothing is kept as a single ``<unk>`` token, so every text gets a prediction.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from pipeline.cache import cached_dir
from pipeline.data import LOADER_SPLITS, DataError, carve, fingerprint
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.metrics import WeightedMean
from pipeline.tokenizers import Tokenizer, build_tokenizer, load_tokenizer
from plugins.tasks.text_formats import (
    LINE_FORMATS,
    Example,
    ReadSettings,
    pattern_problems,
    read_dataset,
    read_examples,
)

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config
    from pipeline.recurrent import RecurrentEncoder

LABELS_FILE = "labels.json"
CACHE_VERSION = 1


@dataclass
class ClassificationOptions:
    format: Literal["auto", "csv", "tsv", "jsonl", "label_first", "trec", "regex"] = "auto"
    """How local files are read; auto: by suffix (.csv, .tsv, .jsonl). See text_formats."""
    trec_labels: Literal["coarse", "fine"] = "coarse"
    """format=trec: ``DESC`` (6 coarse classes) or ``DESC:manner`` (50 fine classes)."""
    line_pattern: str | None = None
    """format=regex: a regular expression with named groups label and text (whole line)."""
    pooling: Literal["last", "mean", "max"] = "last"
    """How the encoder's outputs over time become one vector per text."""
    word_dropout: float = field(default=0.0, metadata={"min": 0.0, "max": 0.9})
    """Training only: each token becomes <unk> with this probability (Iyyer et al. 2015)."""


# ----------------------------------------------------------------------------- labels


def label_order(labels: Sequence[str]) -> list[str]:
    """Distinct labels sorted deterministically: integers by value first, then the rest."""

    def key(label: str) -> tuple[int, int, str]:
        try:
            return (0, int(label), "")
        except ValueError:
            return (1, 0, label)

    return sorted(set(labels), key=key)


def label_ids(examples: Sequence[Example], labels: Sequence[str], split_key: str) -> list[int]:
    """Id of each example's label; a label outside ``labels`` raises DataError naming it."""
    index = {label: i for i, label in enumerate(labels)}
    for example in examples:
        if example.label not in index:
            raise DataError(
                f"{split_key}: label {example.label!r} ({example.where}) does not occur in the "
                f"training data, whose labels are: {', '.join(labels)}. Fix the label, or add "
                "training examples of it"
            )
    return [index[example.label] for example in examples]


# ----------------------------------------------------------------------------- network


def pool(outputs: Tensor, final_h: Tensor, lengths: Tensor, mode: str, directions: int) -> Tensor:
    """One vector per text from the encoder's top layer.

    outputs (B, T, dirs*H) with zeros at padding; final_h (L*dirs, B, H), the final hidden
    state of every layer and direction taken at each length; lengths (B,) -> (B, dirs*H).
    """
    if mode == "last":
        top = final_h[-directions:]  # (dirs, B, H): forward, then backward
        return top.transpose(0, 1).reshape(outputs.size(0), -1)
    mask = torch.arange(outputs.size(1), device=outputs.device) < lengths.unsqueeze(1)
    mask = mask.unsqueeze(2)  # (B, T, 1)
    if mode == "mean":
        total = outputs.masked_fill(~mask, 0.0).sum(1)  # (B, dirs*H)
        return total / lengths.clamp(min=1).unsqueeze(1).to(outputs.dtype)
    if mode == "max":
        return outputs.masked_fill(~mask, float("-inf")).max(1).values
    raise ValueError(f"task.pooling must be last, mean or max, not {mode!r}")


def drop_words(tokens: Tensor, lengths: Tensor, probability: float, unk_id: int) -> Tensor:
    """tokens (B, T) with each valid (non-padding) token replaced by unk_id with probability."""
    valid = torch.arange(tokens.size(1), device=tokens.device) < lengths.unsqueeze(1)
    drop = torch.rand(tokens.shape, device=tokens.device) < probability
    return tokens.masked_fill(drop & valid, unk_id)


class ClassifierNetwork(nn.Module):
    """Embedding -> recurrent encoder -> pooling -> dropout -> linear layer over the classes."""

    def __init__(
        self,
        embedding: nn.Embedding,
        encoder: RecurrentEncoder,
        num_classes: int,
        pooling: str,
        dropout: float,
        word_dropout: tuple[float, int] = (0.0, 1),
    ) -> None:
        """word_dropout: (probability, unk_id) of :func:`drop_words`, applied when training."""
        super().__init__()
        self.embedding, self.encoder, self.pooling = embedding, encoder, pooling
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(encoder.output_size, num_classes)
        self.word_dropout = word_dropout

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """tokens (B, T) padded, lengths (B,) -> logits (B, C)."""
        lengths = lengths.to(tokens.device)
        if self.training and self.word_dropout[0] > 0:
            tokens = drop_words(tokens, lengths, *self.word_dropout)
        embedded = self.dropout(self.embedding(tokens))  # (B, T, E)
        outputs, state = self.encoder(embedded, lengths)  # (B, T, dirs*H), [(L*dirs, B, H)]
        pooled = pool(outputs, state[0], lengths, self.pooling, self.directions)
        return self.output(self.dropout(pooled))  # (B, C)

    @property
    def directions(self) -> int:
        return self.encoder.directions


# ----------------------------------------------------------------------------- batches


class EncodedTexts(Dataset):
    """Token ids and label ids of one split, stored flat: ids (N_tokens,), offsets (N+1,)."""

    def __init__(self, ids: Tensor, offsets: Tensor, labels: Tensor) -> None:
        self.ids, self.offsets, self.labels = ids, offsets, labels

    @classmethod
    def from_lists(cls, ids: list[list[int]], labels: list[int]) -> EncodedTexts:
        lengths = torch.tensor([len(row) for row in ids], dtype=torch.long)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        flat = torch.tensor([i for row in ids for i in row], dtype=torch.long)
        return cls(flat, offsets, torch.tensor(labels, dtype=torch.long))

    def state(self) -> dict[str, Tensor]:
        return {"ids": self.ids, "offsets": self.offsets, "labels": self.labels}

    def __len__(self) -> int:
        return self.labels.numel()

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.ids[start:end], int(self.labels[index])


class Padder:
    """Collate (ids, label) items into tokens (B, T) padded with pad_id, lengths (B,), labels."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, items: list[tuple[Tensor, int]]) -> tuple[Tensor, Tensor, Tensor]:
        rows = [ids for ids, _ in items]
        lengths = torch.tensor([row.numel() for row in rows], dtype=torch.long)
        tokens = nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=self.pad_id)
        return tokens, lengths, torch.tensor([label for _, label in items], dtype=torch.long)


class ShardInOrder(Sampler[int]):
    """Indices rank, rank + world_size, ... in order: every example once, no padding copies."""

    def __init__(self, size: int, rank: int, world_size: int) -> None:
        self.indices = range(rank, size, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text; a text with no tokens becomes ``[unk_id]`` (length >= 1)."""
    return [ids or [tokenizer.unk_id] for ids in tokenizer.encode_lines(list(texts), eos=False)]


# ----------------------------------------------------------------------------- the task


class ClassificationTask(Task):
    """One label per text; metrics loss, accuracy and macro-F1; monitors val_accuracy."""

    Options = ClassificationOptions
    monitor = "val_accuracy"
    monitor_mode = "max"
    metric_names = ("loss", "accuracy", "macro_f1")

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.tokenizer: Tokenizer | None = None
        self.labels: list[str] | None = None
        self.data: dict[str, EncodedTexts] = {}

    @classmethod
    def config_problems(cls, cfg: Config) -> list[str]:
        options = cfg.task.options
        problems = []
        if options.format in LINE_FORMATS and cfg.data.name is not None:
            problems.append(
                f"task.format={options.format} reads local files, but data.name is set; "
                "set task.format=auto for a dataset, or data.name=null and data.train=PATH"
            )
        if options.format == "regex":
            problems.extend(pattern_problems(options.line_pattern))
        elif options.line_pattern is not None:
            problems.append("task.line_pattern is only read with task.format=regex; set both")
        return problems

    # ------------------------------------------------------------------------- data

    def read_settings(self) -> ReadSettings:
        data, options = self.cfg.data, self.options
        return ReadSettings(
            options.format,
            data.text_column,
            data.label_column,
            data.encoding,
            options.trec_labels,
            options.line_pattern,
        )

    def read_splits(self) -> tuple[dict[str, list[Example]], list[str]]:
        """Examples of train, validation and test, and the names of the carved splits."""
        data, settings = self.cfg.data, self.read_settings()
        if data.name is not None and any((data.train, data.validation, data.test)):
            raise DataError(
                "data.name and data.train/validation/test are both set; use either a dataset "
                "(data.name) or local files (data.train ...), and set the other to null"
            )
        if data.name is not None:
            splits = read_dataset(data, settings)
        elif data.train is None:
            raise DataError("data.train: no training data; set data.train (or data.name)")
        else:
            splits = {
                split: read_examples(getattr(data, split), settings, f"data.{split}")
                for split in LOADER_SPLITS.values()
                if getattr(data, split) is not None
            }
        missing = [split for split in LOADER_SPLITS.values() if split not in splits]
        if missing:
            splits.update(carve(splits["train"], missing, data, self.cfg.seed))
        return splits, missing

    def cache_key(self) -> dict[str, Any]:
        """What the tokenised data depends on: files, columns, reading options, tokenizer, seed."""
        cfg, options = self.cfg, self.options
        return {
            "task": "classification",
            "version": CACHE_VERSION,
            "data": fingerprint(cfg.data),
            "columns": [cfg.data.text_column, cfg.data.label_column],
            "read": [options.format, options.trec_labels, options.line_pattern],
            "tokenizer": dataclasses.asdict(cfg.tokenizer),
            "seed": cfg.seed,
        }

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        directory, _ = cached_dir(cache_dir, self.cache_key(), self._tokenise_into)
        if self.tokenizer is None:
            self.tokenizer = load_tokenizer(directory / "tokenizer")
        if self.labels is None:
            self.labels = _read_labels(directory)
        self.data = {
            split: EncodedTexts(**torch.load(directory / f"{split}.pt")) for split in LOADER_SPLITS
        }
        facts = json.loads((directory / "facts.json").read_text(encoding="utf-8"))
        sizes = {"vocabulary": len(self.tokenizer), "classes": len(self.labels), **facts["sizes"]}
        return DataFacts(sizes=sizes, extra={"data.carved": ",".join(facts["carved"])})

    def _tokenise_into(self, directory: Path) -> None:
        """The cache build: read, fit the tokenizer and label map on train, save ids per split."""
        splits, carved = self.read_splits()
        tokenizer = self.tokenizer or build_tokenizer(self.cfg.tokenizer)
        if self.tokenizer is None:
            tokenizer.fit([example.text for example in splits["train"]])
        labels = self.labels or label_order([example.label for example in splits["train"]])
        if len(labels) < 2:
            raise DataError(f"data.train: one label only ({labels[0]!r}); a classifier needs two")
        tokenizer.save(directory / "tokenizer")
        _write_labels(directory, labels)
        sizes = {}
        for split, name in LOADER_SPLITS.items():
            examples = splits[name]
            ids = encode_texts(tokenizer, [example.text for example in examples])
            encoded = EncodedTexts.from_lists(ids, label_ids(examples, labels, f"data.{name}"))
            torch.save(encoded.state(), directory / f"{split}.pt")
            sizes[name] = len(examples)
        facts = {"sizes": sizes, "carved": carved}
        (directory / "facts.json").write_text(json.dumps(facts), encoding="utf-8")

    def save_artifacts(self, directory: Path) -> None:
        self.tokenizer.save(directory / "tokenizer")
        _write_labels(directory, self.labels)

    def load_artifacts(self, directory: Path) -> None:
        self.tokenizer = load_tokenizer(directory / "tokenizer")
        self.labels = _read_labels(directory)

    def vocabulary(self) -> Sequence[str]:
        return self.tokenizer.vocab

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader:
        """Padded batches; train shuffled with the seed (anew each epoch), val/test in order.

        Under DDP train uses DistributedSampler (each rank its own shard, reshuffled per epoch
        through ``set_epoch``); val/test give each rank every world_size-th example, without
        the padding copies DistributedSampler adds, so the reduced metrics are exact.
        """
        data, dataset = self.cfg.data, self.data[split]
        batch_size = data.batch_size if split == "train" else data.eval_batch_size
        options: dict[str, Any] = {"batch_size": batch_size, "num_workers": data.num_workers}
        if split == "train" and world_size > 1:
            options["sampler"] = DistributedSampler(
                dataset, world_size, rank, shuffle=True, seed=self.cfg.seed
            )
        elif split == "train":
            options.update(shuffle=True, generator=torch.Generator().manual_seed(self.cfg.seed))
        elif world_size > 1:
            options["sampler"] = ShardInOrder(len(dataset), rank, world_size)
        return DataLoader(dataset, collate_fn=Padder(self.tokenizer.pad_id), **options)

    # ------------------------------------------------------------------------- model

    def build_network(self, components: Components) -> nn.Module:
        model = self.cfg.model
        return ClassifierNetwork(
            components.embedding(len(self.tokenizer), padding_idx=self.tokenizer.pad_id),
            components.encoder(model.embedding_size),
            len(self.labels),
            self.options.pooling,
            model.dropout,
            (self.options.word_dropout, self.tokenizer.unk_id),
        )

    def metrics(self) -> dict[str, Any]:
        classes = len(self.labels)
        return {
            "loss": WeightedMean(),
            "accuracy": MulticlassAccuracy(classes, average="micro"),
            "macro_f1": MulticlassF1Score(classes, average="macro"),
        }

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        tokens, lengths, labels = batch  # (B, T), (B,), (B,)
        logits = network(tokens, lengths)  # (B, C)
        loss = F.cross_entropy(logits, labels)
        metrics["loss"].update(loss.detach(), labels.numel())
        metrics["accuracy"].update(logits.detach(), labels)
        metrics["macro_f1"].update(logits.detach(), labels)
        return StepResult(loss)

    # ------------------------------------------------------------------------- prediction

    @torch.no_grad()
    def predict(
        self, network: nn.Module, texts: Sequence[str], top_k: int = 5, **options: Any
    ) -> list[dict]:
        """Label and the top_k class probabilities (sorted) of each text.

        Other options (a language model's sample, temperature) are accepted and ignored.
        """
        network.eval()
        probabilities = self.probabilities(network, texts)  # (N, C)
        best = probabilities.topk(min(top_k, probabilities.size(1)), dim=1)
        return [
            {
                "text": text,
                "tokens": self.tokenizer.tokens(text),
                "label": self.labels[int(indices[0])],
                "probabilities": [
                    {"label": self.labels[int(i)], "probability": float(p)}
                    for p, i in zip(values, indices, strict=True)
                ],
            }
            for text, values, indices in zip(texts, best.values, best.indices, strict=True)
        ]

    def probabilities(self, network: nn.Module, texts: Sequence[str]) -> Tensor:
        """Class probabilities (N, C) of raw texts, on the CPU."""
        device = next(network.parameters()).device
        items = [(torch.tensor(ids), 0) for ids in encode_texts(self.tokenizer, texts)]
        tokens, lengths, _ = Padder(self.tokenizer.pad_id)(items)
        return F.softmax(network(tokens.to(device), lengths.to(device)), dim=-1).cpu()

    def describe(self, prediction: dict) -> str:
        lines = [f"{prediction['text']}\n  -> {prediction['label']}"]
        for rank, item in enumerate(prediction["probabilities"], 1):
            bar = "#" * max(1, round(30 * item["probability"]))
            lines.append(f"  {rank}. {item['label']:<16} {item['probability']:.4f} {bar}")
        return "\n".join(lines)

    # ------------------------------------------------------------------------- reports

    @torch.no_grad()
    def write_reports(self, network: nn.Module, directory: Path) -> None:
        """confusion_matrix.png and per_class.csv / per_class.md of the test split."""
        confusion = confusion_matrix(network, self.dataloader("test"), len(self.labels))
        directory = Path(directory)
        rows = per_class_scores(confusion, self.labels)
        plot_confusion(confusion, self.labels, directory / "confusion_matrix.png")
        write_table(rows, directory / "per_class.csv", directory / "per_class.md")


def _write_labels(directory: Path, labels: Sequence[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"labels": list(labels)}, ensure_ascii=False, indent=1)
    (directory / LABELS_FILE).write_text(text + "\n", encoding="utf-8")


def _read_labels(directory: Path) -> list[str]:
    return json.loads((directory / LABELS_FILE).read_text(encoding="utf-8"))["labels"]


# ----------------------------------------------------------------------------- reports


def confusion_matrix(network: nn.Module, batches: Iterable, classes: int) -> Tensor:
    """(C, C) counts: row = true class, column = predicted class, over all batches."""
    device = next(network.parameters()).device
    counts = torch.zeros(classes * classes, dtype=torch.long)
    for tokens, lengths, labels in batches:
        predicted = network(tokens.to(device), lengths.to(device)).argmax(1).cpu()
        counts += torch.bincount(labels * classes + predicted, minlength=classes * classes)
    return counts.view(classes, classes)


def per_class_scores(confusion: Tensor, labels: Sequence[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class (0 where undefined), from (C, C)."""
    confusion = confusion.double()
    hits = confusion.diagonal()
    precision = hits / confusion.sum(0).clamp(min=1)
    recall = hits / confusion.sum(1).clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    return [
        {
            "label": label,
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(confusion[i].sum()),
        }
        for i, label in enumerate(labels)
    ]


def write_table(rows: list[dict[str, Any]], csv_path: Path, markdown_path: Path) -> None:
    """The per-class rows as CSV and as a Markdown table."""
    columns = list(rows[0])
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    table = [f"| {' | '.join(columns)} |", f"|{'---|' * len(columns)}"]
    table += [f"| {' | '.join(str(row[c]) for c in columns)} |" for row in rows]
    markdown_path.write_text("\n".join(table) + "\n", encoding="utf-8")


def plot_confusion(confusion: Tensor, labels: Sequence[str], path: Path) -> None:
    """PNG of the confusion matrix with the class names on both axes and the counts."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    size = max(4.0, 0.45 * len(labels) + 2.0)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(confusion.numpy(), cmap="Blues")
    ticks = range(len(labels))
    axis.set_xticks(ticks, labels, rotation=90 if len(labels) > 8 else 0)
    axis.set_yticks(ticks, labels)
    axis.set(xlabel="predicted", ylabel="true", title="confusion matrix (test)")
    if len(labels) <= 20:
        high = int(confusion.max())
        for (row, column), count in _cells(confusion):
            color = "white" if count > high / 2 else "black"
            axis.text(column, row, str(count), ha="center", va="center", color=color)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _cells(confusion: Tensor) -> Iterator[tuple[tuple[int, int], int]]:
    for row in range(confusion.size(0)):
        for column in range(confusion.size(1)):
            yield (row, column), int(confusion[row, column])
