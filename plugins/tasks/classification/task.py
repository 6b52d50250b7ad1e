"""The classification task: options, data preparation, network, training step, prediction.

Data: labelled files in the formats of :mod:`plugins.tasks.classification.readers` or a hub
dataset (``data.text_column``, ``task.label_column``); the network is
:class:`~plugins.tasks.classification.network.ClassifierNetwork`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from pipeline.data import Splits, read_splits, split_encoding
from pipeline.errors import DataError
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.preparation import Encoded, prepare_cached, task_cache_key
from pipeline.sharding import split_loader
from pipeline.tokenizers import Tokenizer, build_tokenizer, load_tokenizer
from plugins.tasks.classification import reports
from plugins.tasks.classification.data import (
    Batch,
    EncodedTexts,
    Padder,
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
    dataset_examples,
    pattern_problems,
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
    label_column: str | int = "label"
    """The label column of CSV/TSV/JSON-lines files and datasets (the text: data.text_column);
    a number (from 0) in files without a header."""
    header: bool = True
    """csv/tsv: false when the file has no header row; its columns are then numbered from 0."""
    text_columns: list[str | int] = field(default_factory=list)
    """Columns joined with a space into the text (AG News: [1, 2], title and description);
    empty: data.text_column alone."""
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
        problems.extend(_column_problems(options))
        return problems

    # ------------------------------------------------------------------------- data

    def read_settings(self) -> ReadSettings:
        data, options = self.cfg.data, self.options
        return ReadSettings(
            options.format,
            data.text_column,
            str(options.label_column),
            data.encoding,
            options.trec_labels,
            options.line_pattern,
            options.header,
            tuple(str(column) for column in options.text_columns),
        )

    def read_splits(self) -> Splits[Example]:
        """Examples of train, validation and test (the missing ones carved from train)."""
        data, settings = self.cfg.data, self.read_settings()

        def read_split(name: str, dataset: Any) -> list[Example]:
            where = f"data.name: split {name!r} of dataset {data.name!r}"
            return dataset_examples(dataset, settings, where)

        def read_file(path: Path, key: str) -> list[Example]:
            encoding = split_encoding(data, key)
            return read_examples(path, dataclasses.replace(settings, encoding=encoding), key)

        return read_splits(
            data,
            self.cfg.seed,
            read_file,
            read_split,
            noun="labelled examples",
            kind="a labelled text file",
        )

    def cache_key(self) -> dict[str, Any]:
        """What the tokenised data depends on: files, columns, reading options, tokenizer, seed."""
        options = self.options
        return task_cache_key(
            "classification",
            self.cfg,
            version=CACHE_VERSION,
            columns=[self.cfg.data.text_column, options.label_column, *options.text_columns],
            read=[options.format, options.trec_labels, options.line_pattern]
            + ([] if options.header else ["no header"]),  # old runs' cache keys unchanged
        )

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        prepared = prepare_cached(self, cache_dir, loaded=self.tokenizer is not None)
        self.data = {split: EncodedTexts(**state) for split, state in prepared.tensors.items()}
        return prepared.facts(vocabulary=len(self.fitted_tokenizer), classes=len(self.class_names))

    def fit(self, splits: Splits[Example]) -> None:
        """Tokenizer and label order from the training texts (unless loaded)."""
        train = splits.examples["train"]
        if self.tokenizer is None:
            self.tokenizer = build_tokenizer(self.cfg.tokenizer)
            self.tokenizer.fit([example.text for example in train])
        if self.labels is None:
            self.labels = label_order([example.label for example in train])
        if len(self.labels) < 2:
            raise DataError(
                f"data.train: one label only ({self.labels[0]!r}); a classifier needs two"
            )

    def encode(self, split: str, examples: list[Example]) -> Encoded:
        """Token ids and label ids of one data split; its size is its number of texts."""
        ids = encode_texts(self.fitted_tokenizer, [example.text for example in examples])
        labels = label_ids(examples, self.class_names, f"data.{split}")
        return Encoded(EncodedTexts.from_lists(ids, labels).state(), {split: len(examples)})

    def save_artifacts(self, directory: Path) -> None:
        self.fitted_tokenizer.save(directory / "tokenizer")
        write_labels(directory, self.class_names)

    def load_artifacts(self, directory: Path) -> None:
        self.tokenizer = load_tokenizer(directory / "tokenizer")
        self.labels = read_labels(directory)

    def vocabulary(self) -> Sequence[str]:
        return self.fitted_tokenizer.vocab

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader[Batch]:
        """Padded :data:`Batch` es of ``split`` (train, val or test) for one rank."""
        collate = Padder(self.fitted_tokenizer.pad_id)
        return split_loader(self.data[split], split, self.cfg, rank, world_size, collate)

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
        loss = F.cross_entropy(logits, labels)
        metrics["loss"].update(loss.detach(), labels.numel())
        metrics["accuracy"].update(logits.detach(), labels)
        metrics["macro_f1"].update(logits.detach(), labels)
        return StepResult(loss)

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


def _column_problems(options: ClassificationOptions) -> list[str]:
    """Column names are text or numbers; numbers name the columns of headerless files."""
    columns = [options.label_column, *options.text_columns]
    problems = [
        f"task.text_columns: {column!r} is not a column name or number"
        for column in options.text_columns
        if isinstance(column, bool) or not isinstance(column, (str, int))
    ]
    numbered = [c for c in columns if isinstance(c, int) and not isinstance(c, bool)]
    if numbered and options.header:
        problems.append(
            f"task.label_column/task.text_columns: column numbers {numbered} are only for files "
            "without a header; set task.header=false, or name the header's columns"
        )
    if not options.header and options.format not in ("auto", "csv", "tsv"):
        problems.append("task.header=false is for csv and tsv files; set task.format to one")
    return problems
