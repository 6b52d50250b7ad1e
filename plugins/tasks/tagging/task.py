"""The tagging task: data preparation, network building, step, prediction and reports.

Tags in ``task.scheme`` (iob1, iob2, iobes) are converted to IOBES for the network and back
to ``task.scheme`` in predictions. Metrics per split: loss, token accuracy, and entity-level
micro precision, recall and F1 (``metrics.py``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchmetrics import MeanMetric, Metric

from pipeline.data import Splits
from pipeline.errors import DataError
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.metrics import WeightedMean
from pipeline.preparation import Encoded, prepare_cached, task_cache_key
from pipeline.reports import write_table
from pipeline.sharding import split_loader
from pipeline.tokenizers import PAD_ID, Tokenizer, build_tokenizer, load_tokenizer
from plugins.tasks.tagging.conll import Sentence, read_sentences
from plugins.tasks.tagging.crf import CRF, allowed_transitions
from plugins.tasks.tagging.data import (
    CharVocab,
    SentenceData,
    TaggingBatch,
    collate,
    encode_sentences,
)
from plugins.tasks.tagging.metrics import (
    ENTITY_METRICS,
    EntityScore,
    batch_entity_counts,
    entity_counts,
    tag_names,
)
from plugins.tasks.tagging.network import TaggingNetwork, build_char_features
from plugins.tasks.tagging.options import DATA_OPTIONS, TaggingOptions
from plugins.tasks.tagging.schemes import (
    INTERNAL_SCHEME,
    Span,
    entity_types,
    scheme_tags,
    spans,
    tags_from_spans,
)

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config

ENTITY_TABLE_TITLE = "Entity-level scores on the test split (exact span and type)."


class TaggingTask(Task):
    """Tag every word (NER); monitor val entity F1. See the package docstring."""

    Options = TaggingOptions
    monitor = "val_f1"
    monitor_mode = "max"
    metric_names = ("loss", "accuracy", "f1", "precision", "recall")
    options: TaggingOptions

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.tokenizer: Tokenizer | None = None
        self.tags: list[str] = []  # internal (IOBES) tags; the index is the tag id
        self.char_vocab: CharVocab | None = None
        self.encoded: dict[str, dict[str, Tensor]] = {}

    @classmethod
    def config_problems(cls, cfg: Config) -> list[str]:
        if cfg.model.bidirectional and not cfg.task.options.bidirectional:
            return [
                "task.bidirectional=false contradicts model.bidirectional=true; the tagging "
                "task follows task.bidirectional, so set model.bidirectional=false"
            ]
        return []

    @property
    def types(self) -> list[str]:
        """Entity types, sorted (``PER``, ``LOC``, ...)."""
        return entity_types(self.tags)

    @property
    def vocabularies(self) -> tuple[Tokenizer, CharVocab]:
        """The fitted tokenizer and characters (after prepare_data or load_artifacts)."""
        if self.tokenizer is None or self.char_vocab is None:
            raise RuntimeError("the tagging task needs prepare_data or load_artifacts first")
        return self.tokenizer, self.char_vocab

    # ------------------------------------------------------------------------- data

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        prepared = prepare_cached(self, cache_dir, loaded=self.tokenizer is not None)
        self.encoded = prepared.tensors
        extra = {"data.entity_types": ",".join(self.types)}
        return prepared.facts(extra, vocabulary=len(self.vocabularies[0]), tags=len(self.tags))

    def cache_key(self) -> dict[str, Any]:
        options = dataclasses.asdict(self.options)
        data_options = {name: options[name] for name in DATA_OPTIONS}
        return task_cache_key("tagging", self.cfg, options=data_options)

    def read_splits(self) -> Splits[Sentence]:
        """Sentences of each data split, their tags in IOBES."""
        return read_sentences(self.cfg, self.options)

    def fit(self, splits: Splits[Sentence]) -> None:
        """Tokenizer and characters from train, tags from every split (unless loaded)."""
        train = splits.examples["train"]
        if self.tokenizer is None:
            self.tokenizer = build_tokenizer(self.cfg.tokenizer)
            self.tokenizer.fit([" ".join(sentence.words) for sentence in train])
        if self.char_vocab is None:
            self.char_vocab = CharVocab.fit(word for sentence in train for word in sentence.words)
        if not self.tags:
            every = splits.examples.values()
            found = entity_types(tag for split in every for s in split for tag in s.tags)
            self.tags = scheme_tags(found, INTERNAL_SCHEME)

    def encode(self, split: str, examples: list[Sentence]) -> Encoded:
        """The tensors of ``encode_sentences`` for one data split, and its sizes."""
        tokenizer, chars = self.vocabularies
        index = {tag: i for i, tag in enumerate(self.tags)}
        words = [sentence.words for sentence in examples]
        ids = [[_tag_id(index, tag, split) for tag in sentence.tags] for sentence in examples]
        encoded = encode_sentences(words, ids, tokenizer, chars, self.options.max_word_chars)
        sizes = {f"{split}_sentences": len(words), f"{split}_words": int(encoded["tags"].numel())}
        return Encoded(encoded, sizes)

    def save_artifacts(self, directory: Path) -> None:
        tokenizer, chars = self.vocabularies
        directory.mkdir(parents=True, exist_ok=True)
        tokenizer.save(directory / "tokenizer")
        chars.save(directory / "chars.json")
        meta = {"scheme": INTERNAL_SCHEME, "tags": self.tags}
        (directory / "tags.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))

    def load_artifacts(self, directory: Path) -> None:
        self.tokenizer = load_tokenizer(directory / "tokenizer")
        self.char_vocab = CharVocab.load(directory / "chars.json")
        self.tags = json.loads((directory / "tags.json").read_text(encoding="utf-8"))["tags"]

    def vocabulary(self) -> Sequence[str]:
        return self.vocabularies[0].vocab

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader[Any]:
        dataset = SentenceData(self.encoded[split])
        return split_loader(dataset, split, self.cfg, rank, world_size, collate_fn=collate)

    # ------------------------------------------------------------------------- model

    def build_network(self, components: Components) -> nn.Module:
        model, options = self.cfg.model, self.options
        tokenizer, char_vocab = self.vocabularies
        chars = build_char_features(
            options.char_features,
            len(char_vocab),
            options.char_embedding_size,
            options.char_hidden_size,
            options.char_kernel_size,
        )
        input_size = model.embedding_size + (chars.output_size if chars is not None else 0)
        crf = None
        if options.crf:
            crf = CRF(len(self.tags), allowed_transitions(self.tags, INTERNAL_SCHEME))
        return TaggingNetwork(
            components.embedding(len(tokenizer), padding_idx=PAD_ID),
            chars,
            components.encoder(input_size, bidirectional=options.bidirectional),
            len(self.tags),
            model.dropout,
            crf,
        )

    def metrics(self) -> dict[str, Any]:
        entity: dict[str, Metric] = {
            name: EntityScore(name, len(self.types)) for name in ENTITY_METRICS
        }
        # nan_strategy="disable": NaN shows as NaN, and no per-step GPU sync to look for one
        accuracy = MeanMetric(nan_strategy="disable")
        return {"loss": WeightedMean(), "accuracy": accuracy, **entity}

    def step(
        self, network: nn.Module, batch: TaggingBatch, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        tagger = _tagger(network)
        emissions = tagger(batch)  # (B, T, K)
        loss = tagger.loss(emissions, batch)
        predicted = tagger.decode(emissions, batch)  # (B, W)
        mask = batch.word_mask
        metrics["loss"].update(loss.detach(), mask.sum())
        metrics["accuracy"].update((predicted == batch.tags)[mask].float())
        counts = batch_entity_counts(predicted, batch.tags, mask, self.tags, self.types)
        for name in ENTITY_METRICS:
            metrics[name].update(counts)
        return StepResult(loss)

    # ------------------------------------------------------------------------- prediction

    @torch.no_grad()
    def predict(
        self, network: nn.Module, texts: Sequence[str], **options: Any
    ) -> list[dict[str, Any]]:
        """Entities and per-word tags of each whitespace-split text (options such as top_k are
        ignored). Entities: ``type``, word span ``start``..``end`` (end exclusive), ``text``."""
        network.eval()
        return [self._predict_one(_tagger(network), text) for text in texts]

    def _predict_one(self, network: TaggingNetwork, text: str) -> dict[str, Any]:
        words = text.split()
        result: dict[str, Any] = {"text": text, "words": words, "tags": [], "entities": []}
        if not words:
            return result
        tokenizer, chars = self.vocabularies
        zeros = [[0] * len(words)]
        encoded = encode_sentences([words], zeros, tokenizer, chars, self.options.max_word_chars)
        device = next(network.parameters()).device
        batch = collate([SentenceData(encoded)[0]]).to(device)
        predicted = network.decode(network(batch), batch)  # (1, W)
        entities = spans(tag_names(predicted, batch.word_mask, self.tags)[0])
        result["tags"] = tags_from_spans(entities, len(words), self.options.scheme)
        result["entities"] = [_entity(span, words) for span in entities]
        return result

    def describe(self, prediction: dict[str, Any]) -> str:
        lines = [prediction["text"]]
        for entity in prediction["entities"]:
            where = f"words {entity['start']}-{entity['end'] - 1}"
            lines.append(f"  {entity['type']:<6} {entity['text']:<30} ({where})")
        if not prediction["entities"]:
            lines.append("  (no entities)")
        pairs = zip(prediction["words"], prediction["tags"], strict=True)
        lines.append("  tags: " + " ".join(f"{w}/{t}" for w, t in pairs))
        return "\n".join(lines)

    # ------------------------------------------------------------------------- evaluation

    @torch.no_grad()
    def tagged(self, network: nn.Module, split: str) -> Iterator[tuple[list[str], list[str]]]:
        """(gold, predicted) internal tags of each sentence of split (val, test), in order."""
        tagger = _tagger(network)
        device = next(tagger.parameters()).device
        for batch in self.dataloader(split):
            batch = batch.to(device)
            predicted = tagger.decode(tagger(batch), batch)  # (B, W)
            gold = tag_names(batch.tags, batch.word_mask, self.tags)
            yield from zip(gold, tag_names(predicted, batch.word_mask, self.tags), strict=True)

    def write_reports(self, network: nn.Module, directory: Path) -> None:
        """Per-type precision/recall/F1/support on the test split: Markdown and CSV tables."""
        score = EntityScore("f1", len(self.types))
        score.update(entity_counts(self.tagged(network, "test"), self.types))
        rows = [row._asdict() for row in score.table(self.types)]
        write_table(rows, directory / "entities_test", title=ENTITY_TABLE_TITLE)


def _tagger(network: nn.Module) -> TaggingNetwork:
    if not isinstance(network, TaggingNetwork):
        raise TypeError(f"the tagging task runs a TaggingNetwork, not {type(network).__name__}")
    return network


def _tag_id(index: dict[str, int], tag: str, split: str) -> int:
    if tag not in index:
        raise DataError(
            f"data.{split}: tag {tag!r} is not among the trained tags; its entity type is "
            "unknown to this run (train a new run on data that has it)"
        )
    return index[tag]


def _entity(span: Span, words: list[str]) -> dict[str, Any]:
    text = " ".join(words[span.start : span.end])
    return {"type": span.type, "start": span.start, "end": span.end, "text": text}
