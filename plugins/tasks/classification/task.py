"""The classification task: options, data preparation, network, training step, prediction.

Data: labelled files in the formats of :mod:`plugins.tasks.classification.readers` or a hub
dataset (``data.text_column``, ``task.label_column``); the network is
:class:`~plugins.tasks.classification.network.ClassifierNetwork`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, DistributedSampler

from pipeline.cache import cached_dir
from pipeline.data import LOADER_SPLITS, DataError, carve, fingerprint
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.tokenizers import Tokenizer, build_tokenizer, load_tokenizer
from plugins.tasks.classification import reports
from plugins.tasks.classification.data import (
    EncodedTexts,
    Padder,
    ShardInOrder,
    encode_texts,
    label_ids,
    label_order,
    read_labels,
    write_labels,
)
from plugins.tasks.classification.metrics import METRIC_NAMES, logged_metrics
from plugins.tasks.classification.network import ClassifierNetwork
from plugins.tasks.classification.readers import (
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

CACHE_VERSION = 1
NOT_PREPARED = "the classification task needs prepare_data or load_artifacts first"


@dataclass
class ClassificationPredictOptions:
    top_k: int = field(default=5, metadata={"help": "how many class probabilities (sorted)"})

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")


@dataclass
class ClassificationOptions:
    format: Literal["auto", "csv", "tsv", "jsonl", "label_first", "trec", "regex"] = "auto"
    """How local files are read; auto: by suffix (.csv, .tsv, .jsonl). See readers."""
    label_column: str = "label"
    """The label column of CSV/TSV/JSON-lines files and datasets (the text: data.text_column)."""
    trec_labels: Literal["coarse", "fine"] = "coarse"
    """format=trec: ``DESC`` (6 coarse classes) or ``DESC:manner`` (50 fine classes)."""
    line_pattern: str | None = None
    """format=regex: a regular expression with named groups label and text (whole line)."""
    pooling: Literal["last", "mean", "max"] = "last"
    """How the encoder's outputs over time become one vector per text."""
    word_dropout: float = field(default=0.0, metadata={"min": 0.0, "max": 0.9})
    """Training only: each token becomes <unk> with this probability (Iyyer et al. 2015)."""


class ClassificationTask(Task):
    """One label per text; metrics loss, accuracy and macro-F1; monitors val_accuracy."""

    Options = ClassificationOptions
    PredictOptions = ClassificationPredictOptions
    monitor = "val_accuracy"
    monitor_mode = "max"
    metric_names = METRIC_NAMES

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.tokenizer: Tokenizer | None = None
        self.labels: list[str] | None = None
        self.data: dict[str, EncodedTexts] = {}

    @property
    def fitted_tokenizer(self) -> Tokenizer:
        """The tokenizer fitted on train (after prepare_data or load_artifacts)."""
        if self.tokenizer is None:
            raise RuntimeError(NOT_PREPARED)
        return self.tokenizer

    @property
    def class_names(self) -> list[str]:
        """The labels in id order (after prepare_data or load_artifacts)."""
        if self.labels is None:
            raise RuntimeError(NOT_PREPARED)
        return self.labels

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
            options.label_column,
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
            "columns": [cfg.data.text_column, options.label_column],
            "read": [options.format, options.trec_labels, options.line_pattern],
            "tokenizer": dataclasses.asdict(cfg.tokenizer),
            "seed": cfg.seed,
        }

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        directory, _ = cached_dir(cache_dir, self.cache_key(), self._tokenise_into)
        if self.tokenizer is None:
            self.tokenizer = load_tokenizer(directory / "tokenizer")
        if self.labels is None:
            self.labels = read_labels(directory)
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
        write_labels(directory, labels)
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
        self.fitted_tokenizer.save(directory / "tokenizer")
        write_labels(directory, self.class_names)

    def load_artifacts(self, directory: Path) -> None:
        self.tokenizer = load_tokenizer(directory / "tokenizer")
        self.labels = read_labels(directory)

    def vocabulary(self) -> Sequence[str]:
        return self.fitted_tokenizer.vocab

    def dataloader(
        self, split: str, rank: int = 0, world_size: int = 1
    ) -> DataLoader[tuple[Tensor, int]]:
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
        return DataLoader(dataset, collate_fn=Padder(self.fitted_tokenizer.pad_id), **options)

    # ------------------------------------------------------------------------- model

    def build_network(self, components: Components) -> nn.Module:
        model, tokenizer = self.cfg.model, self.fitted_tokenizer
        return ClassifierNetwork(
            components.embedding(len(tokenizer), padding_idx=tokenizer.pad_id),
            components.encoder(model.embedding_size),
            len(self.class_names),
            self.options.pooling,
            model.dropout,
            (self.options.word_dropout, tokenizer.unk_id),
        )

    def metrics(self) -> dict[str, Any]:
        return dict(logged_metrics(len(self.class_names)))

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        tokens, lengths, labels = batch  # (B, T), (B,), (B,)
        logits = network(tokens, lengths)  # (B, C)
        losses = F.cross_entropy(logits, labels, reduction="none")  # (B,)
        # One value per text: MeanMetric(nan_strategy="disable") drops update weights
        # (torchmetrics#3434), so a (batch mean, size) update would average batch means.
        metrics["loss"].update(losses.detach())
        metrics["accuracy"].update(logits.detach(), labels)
        metrics["macro_f1"].update(logits.detach(), labels)
        return StepResult(losses.mean())

    # ------------------------------------------------------------------------- prediction

    @torch.no_grad()
    def predict(
        self, network: nn.Module, texts: Sequence[str], top_k: int = 5, **options: Any
    ) -> list[dict[str, Any]]:
        """Label and the top_k class probabilities (sorted) of each text.

        Other options (a language model's sample, temperature) are accepted and ignored.
        """
        network.eval()
        tokenizer, labels = self.fitted_tokenizer, self.class_names
        probabilities = self.probabilities(network, texts)  # (N, C)
        best = probabilities.topk(min(top_k, probabilities.size(1)), dim=1)
        return [
            {
                "text": text,
                "tokens": tokenizer.tokens(text),
                "label": labels[int(indices[0])],
                "probabilities": [
                    {"label": labels[int(i)], "probability": float(p)}
                    for p, i in zip(values, indices, strict=True)
                ],
            }
            for text, values, indices in zip(texts, best.values, best.indices, strict=True)
        ]

    def probabilities(self, network: nn.Module, texts: Sequence[str]) -> Tensor:
        """Class probabilities (N, C) of raw texts, on the CPU."""
        device = next(network.parameters()).device
        tokenizer = self.fitted_tokenizer
        items = [(torch.tensor(ids), 0) for ids in encode_texts(tokenizer, texts)]
        tokens, lengths, _ = Padder(tokenizer.pad_id)(items)
        return F.softmax(network(tokens.to(device), lengths.to(device)), dim=-1).cpu()

    def describe(self, prediction: dict[str, Any]) -> str:
        lines = [f"{prediction['text']}\n  -> {prediction['label']}"]
        for rank, item in enumerate(prediction["probabilities"], 1):
            bar = "#" * max(1, round(30 * item["probability"]))
            lines.append(f"  {rank}. {item['label']:<16} {item['probability']:.4f} {bar}")
        return "\n".join(lines)

    # ------------------------------------------------------------------------- reports

    def write_reports(self, network: nn.Module, directory: Path) -> None:
        """confusion_matrix.png and per_class.csv / per_class.md of the whole test split."""
        test = self.dataloader("test")
        reports.write_reports(network, test, self.class_names, Path(directory))
