"""Sequence tagging (named entities and the like): one tag per word, scored by entity F1.

Data: CoNLL column files (``task.word_column``, ``task.tag_column``; blank lines between
sentences, ``-DOCSTART-`` skipped, ``data.encoding``) or a dataset with a tokens and a tags
column (``task.tokens_field``, ``task.tags_field``; integer tags are named by the dataset's
``ClassLabel`` feature). Tags in ``task.scheme`` (iob1, iob2, iobes) are converted to IOBES for
the network and back to ``task.scheme`` in predictions.

Words and pieces: the tokenizer splits each word (``tokenizer.kind=word``: one piece a word;
``sentencepiece``: one or more pieces). A word's tag sits on its first piece; the other pieces
carry ``IGNORE_INDEX`` and are left out of the loss, so predictions are one per original word.

Network (Lample et al. 2016, without pretrained vectors unless ``init.embedding=pretrained``):
piece embedding [+ character features of the word on its first piece] -> recurrent encoder,
bidirectional unless ``task.bidirectional=false`` (this task's option decides, because
``model.bidirectional`` defaults to false for the language model) -> linear tag scores ->
softmax, or a CRF with the scheme's transition constraints (``task.crf=true``).

Metrics per split: loss, token accuracy, and entity-level micro precision, recall and F1
(an entity counts only with exact span and type, as the CoNLL evaluation script counts).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler
from torchmetrics import MeanMetric, Metric

from pipeline.cache import cached_dir
from pipeline.data import LOADER_SPLITS, DataError, fingerprint
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.metrics import WeightedMean
from pipeline.tokenizers import PAD_ID, UNK_ID, Tokenizer, build_tokenizer, load_tokenizer
from plugins.tasks.char_features import PAD_CHAR, CharVocab, build_char_features
from plugins.tasks.conll import (
    INTERNAL_SCHEME,
    Sentence,
    Span,
    count_entities,
    read_sentences,
    scheme_tags,
    scores,
    spans,
    split_tag,
    tags_from_spans,
    to_internal,
)
from plugins.tasks.crf import CRF, allowed_transitions

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config
    from pipeline.recurrent import RecurrentEncoder

IGNORE_INDEX = -100
"""Label of pieces that are not a word's first piece, and of padding (F.cross_entropy's)."""
ENTITY_METRICS = ("f1", "precision", "recall")
DATA_OPTIONS = (
    "scheme",
    "word_column",
    "tag_column",
    "tokens_field",
    "tags_field",
    "max_word_chars",
)
"""Task options that change the tokenised data (part of the cache key; the others are not)."""


@dataclass
class TaggingOptions:
    scheme: Literal["iob1", "iob2", "iobes"] = "iob2"
    """Tag scheme of the data, and of the tags in predictions."""
    word_column: int = 0
    """CoNLL files: 0-based column of the word (negative counts from the end)."""
    tag_column: int = -1
    """CoNLL files: column of the tag; -1 is the last."""
    tokens_field: str = "tokens"
    """Datasets (data.name): the column holding each sentence's list of words."""
    tags_field: str = "ner_tags"
    """Datasets: the column holding each sentence's tags (strings, or ints of a ClassLabel)."""
    bidirectional: bool = True
    """Read the sentence both ways; this, not model.bidirectional (default false), decides."""
    crf: bool = False
    """A CRF output layer (forward-algorithm loss, Viterbi decoding) instead of softmax."""
    char_features: Literal["none", "lstm", "cnn"] = "none"
    """Character features of each word: a small BiLSTM or CNN over its characters."""
    char_embedding_size: int = field(default=25, metadata={"min": 1})
    char_hidden_size: int = field(default=25, metadata={"min": 1})
    """Units per direction of the character BiLSTM, or filters of the character CNN."""
    char_kernel_size: int = field(default=3, metadata={"min": 1})
    max_word_chars: int = field(default=20, metadata={"min": 1})
    """Characters of a word the character encoder reads (longer words are cut)."""


# ----------------------------------------------------------------------------- encoding


def encode_sentences(
    words: Sequence[Sequence[str]],
    tags: Sequence[Sequence[int]],
    tokenizer: Tokenizer,
    char_vocab: CharVocab,
    max_chars: int,
) -> dict[str, Tensor]:
    """Flat tensors of sentences (S sentences, W words, P pieces, C characters).

    ``pieces`` (P,), ``first`` (P,) True on each word's first piece, ``piece_offsets`` (S+1,);
    ``tags`` (W,), ``word_offsets`` (S+1,); ``chars`` (C,), ``char_offsets`` (W+1,).
    """
    flat_words = [word for sentence in words for word in sentence]
    per_word = [ids or [UNK_ID] for ids in tokenizer.encode_lines(flat_words, eos=False)]
    chars = [char_vocab.encode(word, max_chars) for word in flat_words]
    word_offsets = [0, *itertools.accumulate(len(sentence) for sentence in words)]
    pieces_per_sentence = [
        sum(len(per_word[i]) for i in range(start, end))
        for start, end in itertools.pairwise(word_offsets)
    ]
    return {
        "pieces": _long([i for ids in per_word for i in ids]),
        "first": torch.tensor([k == 0 for ids in per_word for k in range(len(ids))]),
        "piece_offsets": _long([0, *itertools.accumulate(pieces_per_sentence)]),
        "tags": _long([t for sentence in tags for t in sentence]),
        "word_offsets": _long(word_offsets),
        "chars": _long([c for word in chars for c in word]),
        "char_offsets": _long([0, *itertools.accumulate(len(word) for word in chars)]),
    }


def _long(values: Sequence[int]) -> Tensor:
    return torch.tensor(values, dtype=torch.long)


class TaggingBatch(NamedTuple):
    """A padded batch: B sentences, T pieces, W words, N = all words, L characters."""

    pieces: Tensor  # (B, T) piece ids, PAD_ID after each length
    lengths: Tensor  # (B,) pieces per sentence
    first: Tensor  # (B, T) True on each word's first piece
    labels: Tensor  # (B, T) tag id on first pieces, IGNORE_INDEX elsewhere
    tags: Tensor  # (B, W) tag id per word, 0 after each sentence's words
    word_mask: Tensor  # (B, W) True for real words
    chars: Tensor  # (N, L) character ids of every word, sentence by sentence
    char_lengths: Tensor  # (N,)


class SentenceData(Dataset):
    """Sentences of an ``encode_sentences`` result; items are per-sentence tensor dicts."""

    def __init__(self, encoded: dict[str, Tensor]) -> None:
        self.encoded = encoded

    def __len__(self) -> int:
        return self.encoded["word_offsets"].numel() - 1

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        e = self.encoded
        p0, p1 = e["piece_offsets"][index : index + 2].tolist()
        w0, w1 = e["word_offsets"][index : index + 2].tolist()
        offsets = e["char_offsets"][w0 : w1 + 1]
        return {
            "pieces": e["pieces"][p0:p1],
            "first": e["first"][p0:p1],
            "tags": e["tags"][w0:w1],
            "chars": e["chars"][offsets[0] : offsets[-1]],
            "char_lengths": offsets.diff(),
        }


def collate(items: Sequence[dict[str, Tensor]]) -> TaggingBatch:
    """Pad a list of ``SentenceData`` items into one ``TaggingBatch``."""
    pad = nn.utils.rnn.pad_sequence
    pieces = pad([i["pieces"] for i in items], batch_first=True, padding_value=PAD_ID)
    first = pad([i["first"] for i in items], batch_first=True, padding_value=False)
    tags = pad([i["tags"] for i in items], batch_first=True, padding_value=0)
    word_counts = torch.tensor([i["tags"].numel() for i in items])
    labels = torch.full_like(pieces, IGNORE_INDEX)
    labels[first] = torch.cat([i["tags"] for i in items])
    char_lengths = torch.cat([i["char_lengths"] for i in items])
    words = torch.cat([i["chars"] for i in items]).split(char_lengths.tolist())
    return TaggingBatch(
        pieces=pieces,
        lengths=torch.tensor([i["pieces"].numel() for i in items]),
        first=first,
        labels=labels,
        tags=tags,
        word_mask=torch.arange(tags.size(1)) < word_counts.unsqueeze(1),
        chars=pad(list(words), batch_first=True, padding_value=PAD_CHAR),
        char_lengths=char_lengths,
    )


class ShardSampler(Sampler):
    """Every world_size-th index from rank: evaluation shards without DistributedSampler's
    padding, whose repeated sentences would be counted twice in the metrics."""

    def __init__(self, size: int, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, size, world_size))

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Any:
        return iter(self.indices)


# ----------------------------------------------------------------------------- network


class TaggingNetwork(nn.Module):
    """Piece embedding [+ char features] -> recurrent encoder -> tag scores [-> CRF]."""

    def __init__(
        self,
        embedding: nn.Embedding,
        chars: nn.Module | None,
        encoder: RecurrentEncoder,
        num_tags: int,
        dropout: float,
        crf: CRF | None,
    ) -> None:
        super().__init__()
        self.embedding, self.chars, self.encoder, self.crf = embedding, chars, encoder, crf
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(encoder.output_size, num_tags)

    def forward(self, batch: TaggingBatch) -> Tensor:
        """Tag scores of every piece: (B, T, K)."""
        inputs = self.embedding(batch.pieces)  # (B, T, E)
        if self.chars is not None:
            per_word = self.chars(batch.chars, batch.char_lengths)  # (N, C)
            placed = per_word.new_zeros(*batch.pieces.shape, per_word.size(1))  # (B, T, C)
            placed[batch.first] = per_word  # on each word's first piece
            inputs = torch.cat([inputs, placed], dim=2)
        hidden, _ = self.encoder(self.dropout(inputs), batch.lengths)  # (B, T, dirs*H)
        return self.output(self.dropout(hidden))

    @staticmethod
    def word_scores(emissions: Tensor, batch: TaggingBatch) -> Tensor:
        """The first-piece rows of emissions (B, T, K), one per word: (B, W, K)."""
        words = emissions.new_zeros(*batch.word_mask.shape, emissions.size(2))
        words[batch.word_mask] = emissions[batch.first]
        return words

    def loss(self, emissions: Tensor, batch: TaggingBatch) -> Tensor:
        """Mean loss per word: CRF negative log-likelihood, or cross-entropy on first pieces."""
        if self.crf is None:
            flat = emissions.flatten(0, 1)  # (B*T, K)
            return F.cross_entropy(flat, batch.labels.flatten(), ignore_index=IGNORE_INDEX)
        words = self.word_scores(emissions, batch)
        nll = self.crf(words, batch.tags, batch.word_mask)  # (B,)
        return nll.sum() / batch.word_mask.sum()

    @torch.no_grad()
    def decode(self, emissions: Tensor, batch: TaggingBatch) -> Tensor:
        """Best tag id per word (B, W): Viterbi with a CRF, else the arg max per word."""
        words = self.word_scores(emissions, batch)
        if self.crf is None:
            return words.argmax(dim=2)
        return self.crf.decode(words, batch.word_mask)


# ----------------------------------------------------------------------------- metrics


class EntityScore(Metric):
    """Micro precision, recall or F1 of entities from summed (tp, fp, fn) per entity type.

    The counts are sum states, so DDP ranks add theirs up before the score is computed.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, kind: str, num_types: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        for name in ("tp", "fp", "fn"):
            self.add_state(name, torch.zeros(num_types, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, counts: Tensor) -> None:
        """counts (3, types): tp, fp, fn of one batch."""
        self.tp += counts[0]
        self.fp += counts[1]
        self.fn += counts[2]

    def compute(self) -> Tensor:
        precision, recall, f1 = scores(*(int(s.sum()) for s in (self.tp, self.fp, self.fn)))
        value = {"precision": precision, "recall": recall, "f1": f1}[self.kind]
        return torch.tensor(value, dtype=torch.float32)


def batch_entity_counts(
    predicted: Tensor, gold: Tensor, mask: Tensor, tags: Sequence[str], types: Sequence[str]
) -> Tensor:
    """(3, types) tp/fp/fn of predicted vs gold tag ids (B, W) over the words in mask."""
    totals = {kind: [0, 0, 0] for kind in types}
    lengths = mask.sum(1).tolist()
    for row_p, row_g, n in zip(predicted.tolist(), gold.tolist(), lengths, strict=True):
        found = count_entities(
            spans([tags[i] for i in row_g[:n]]), spans([tags[i] for i in row_p[:n]])
        )
        for kind, values in found.items():
            totals[kind] = [a + b for a, b in zip(totals[kind], values, strict=True)]
    counts = torch.tensor([totals[kind] for kind in types], dtype=torch.long).reshape(-1, 3)
    return counts.T.to(predicted.device)


# ----------------------------------------------------------------------------- the task


class TaggingTask(Task):
    """Tag every word (NER); monitor val entity F1. See the module docstring."""

    Options = TaggingOptions
    monitor = "val_f1"
    monitor_mode = "max"
    metric_names = ("loss", "accuracy", "f1", "precision", "recall")

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
        return sorted({split_tag(tag)[1] for tag in self.tags} - {""})

    # ------------------------------------------------------------------------- data

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        cfg = self.cfg
        options = dataclasses.asdict(self.options)
        key = {
            "task": "tagging",
            "data": fingerprint(cfg.data),
            "seed": cfg.seed,
            "tokenizer": dataclasses.asdict(cfg.tokenizer),
            "options": {name: options[name] for name in DATA_OPTIONS},
        }
        directory, _ = cached_dir(cache_dir, key, self._tokenise_into)
        if self.tokenizer is None:
            self.load_artifacts(directory)
        self.encoded = {split: torch.load(directory / f"{split}.pt") for split in LOADER_SPLITS}
        facts = json.loads((directory / "facts.json").read_text())
        sizes = {"vocabulary": len(self.tokenizer), "tags": len(self.tags), **facts["sizes"]}
        extra = {
            "data.carved": ",".join(facts["carved"]),
            "data.entity_types": ",".join(self.types),
        }
        return DataFacts(sizes=sizes, extra=extra)

    def _tokenise_into(self, directory: Path) -> None:
        """Read the splits, fit tokenizer, tags and characters on them, save tensors (cached)."""
        sentences, carved = read_sentences(self.cfg, self.options)
        internal = {
            split: to_internal(sentences[split], self.options.scheme, f"data.{split}")
            for split in LOADER_SPLITS.values()
        }
        self._fit_vocabularies(sentences["train"], internal)
        self.save_artifacts(directory)
        index = {tag: i for i, tag in enumerate(self.tags)}
        sizes = {}
        for split, name in LOADER_SPLITS.items():
            words = [sentence.words for sentence in sentences[name]]
            ids = [[_tag_id(index, tag, name) for tag in tags] for tags in internal[name]]
            encoded = encode_sentences(
                words, ids, self.tokenizer, self.char_vocab, self.options.max_word_chars
            )
            torch.save(encoded, directory / f"{split}.pt")
            sizes[f"{name}_sentences"] = len(words)
            sizes[f"{name}_words"] = int(encoded["tags"].numel())
        (directory / "facts.json").write_text(json.dumps({"sizes": sizes, "carved": carved}))

    def _fit_vocabularies(self, train: list[Sentence], internal: dict[str, list]) -> None:
        """Tokenizer and characters from train, tags from every split (unless loaded)."""
        if self.tokenizer is None:
            self.tokenizer = build_tokenizer(self.cfg.tokenizer)
            self.tokenizer.fit([" ".join(sentence.words) for sentence in train])
        if self.char_vocab is None:
            self.char_vocab = CharVocab.fit(word for sentence in train for word in sentence.words)
        if not self.tags:
            found = {split_tag(t)[1] for tags in internal.values() for s in tags for t in s}
            self.tags = scheme_tags(found - {""}, INTERNAL_SCHEME)

    def save_artifacts(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(directory / "tokenizer")
        self.char_vocab.save(directory / "chars.json")
        meta = {"scheme": INTERNAL_SCHEME, "tags": self.tags}
        (directory / "tags.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))

    def load_artifacts(self, directory: Path) -> None:
        self.tokenizer = load_tokenizer(directory / "tokenizer")
        self.char_vocab = CharVocab.load(directory / "chars.json")
        self.tags = json.loads((directory / "tags.json").read_text(encoding="utf-8"))["tags"]

    def vocabulary(self) -> Sequence[str]:
        return self.tokenizer.vocab

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader:
        data = self.cfg.data
        dataset = SentenceData(self.encoded[split])
        if split == "train" and world_size > 1:
            sampler: Sampler = DistributedSampler(
                dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=self.cfg.seed
            )
        elif split == "train":
            generator = torch.Generator().manual_seed(self.cfg.seed)
            sampler = RandomSampler(dataset, generator=generator)
        else:
            sampler = ShardSampler(len(dataset), rank, world_size)
        return DataLoader(
            dataset,
            batch_size=data.batch_size if split == "train" else data.eval_batch_size,
            sampler=sampler,
            collate_fn=collate,
            num_workers=data.num_workers,
        )

    # ------------------------------------------------------------------------- model

    def build_network(self, components: Components) -> nn.Module:
        model, options = self.cfg.model, self.options
        chars = build_char_features(
            options.char_features,
            len(self.char_vocab),
            options.char_embedding_size,
            options.char_hidden_size,
            options.char_kernel_size,
        )
        input_size = model.embedding_size + (chars.output_size if chars is not None else 0)
        crf = None
        if options.crf:
            crf = CRF(len(self.tags), allowed_transitions(self.tags, INTERNAL_SCHEME))
        return TaggingNetwork(
            components.embedding(len(self.tokenizer), padding_idx=PAD_ID),
            chars,
            components.encoder(input_size, bidirectional=options.bidirectional),
            len(self.tags),
            model.dropout,
            crf,
        )

    def metrics(self) -> dict[str, Any]:
        entity = {name: EntityScore(name, len(self.types)) for name in ENTITY_METRICS}
        mean = {"nan_strategy": "disable"}  # NaN shows as NaN; no per-step GPU sync
        return {"loss": WeightedMean(), "accuracy": MeanMetric(**mean), **entity}

    def step(
        self, network: nn.Module, batch: TaggingBatch, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        emissions = network(batch)  # (B, T, K)
        loss = network.loss(emissions, batch)
        predicted = network.decode(emissions, batch)  # (B, W)
        mask = batch.word_mask
        metrics["loss"].update(loss.detach(), mask.sum())
        metrics["accuracy"].update((predicted == batch.tags)[mask].float())
        counts = batch_entity_counts(predicted, batch.tags, mask, self.tags, self.types)
        for name in ENTITY_METRICS:
            metrics[name].update(counts)
        return StepResult(loss)

    # ------------------------------------------------------------------------- prediction

    @torch.no_grad()
    def predict(self, network: nn.Module, texts: Sequence[str], **options: Any) -> list[dict]:
        """Entities and per-word tags of each whitespace-split text (options such as top_k are
        ignored). Entities: ``type``, word span ``start``..``end`` (end exclusive), ``text``."""
        network.eval()
        return [self._predict_one(network, text) for text in texts]

    def _predict_one(self, network: nn.Module, text: str) -> dict:
        words = text.split()
        result: dict[str, Any] = {"text": text, "words": words, "tags": [], "entities": []}
        if not words:
            return result
        encoded = encode_sentences(
            [words],
            [[0] * len(words)],
            self.tokenizer,
            self.char_vocab,
            self.options.max_word_chars,
        )
        device = next(network.parameters()).device
        batch = TaggingBatch(*(t.to(device) for t in collate([SentenceData(encoded)[0]])))
        predicted = network.decode(network(batch), batch)[0].tolist()
        entities = spans([self.tags[i] for i in predicted])
        result["tags"] = tags_from_spans(entities, len(words), self.options.scheme)
        result["entities"] = [_entity(span, words) for span in entities]
        return result

    def describe(self, prediction: dict) -> str:
        lines = [prediction["text"]]
        for entity in prediction["entities"]:
            where = f"words {entity['start']}-{entity['end'] - 1}"
            lines.append(f"  {entity['type']:<6} {entity['text']:<30} ({where})")
        if not prediction["entities"]:
            lines.append("  (no entities)")
        pairs = zip(prediction["words"], prediction["tags"], strict=True)
        lines.append("  tags: " + " ".join(f"{w}/{t}" for w, t in pairs))
        return "\n".join(lines)

    # ------------------------------------------------------------------------- reports

    @torch.no_grad()
    def write_reports(self, network: nn.Module, directory: Path) -> None:
        """Per-type precision/recall/F1/support on the test split: Markdown and CSV tables."""
        device = next(network.parameters()).device
        counts = torch.zeros(3, len(self.types), dtype=torch.long)
        for batch in self.dataloader("test"):
            batch = TaggingBatch(*(t.to(device) for t in batch))
            predicted = network.decode(network(batch), batch)
            found = batch_entity_counts(
                predicted, batch.tags, batch.word_mask, self.tags, self.types
            )
            counts += found.cpu()
        rows = _report_rows(self.types, counts)
        (directory / "entities_test.md").write_text(_markdown(rows), encoding="utf-8")
        (directory / "entities_test.csv").write_text(_csv(rows), encoding="utf-8")


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


def _report_rows(
    types: Sequence[str], counts: Tensor
) -> list[tuple[str, float, float, float, int]]:
    """(type, precision, recall, F1, support) per type, then the micro average over all."""
    rows = []
    for column, kind in enumerate([*types, "micro avg"]):
        tp, fp, fn = (counts[:, column] if column < len(types) else counts.sum(1)).tolist()
        rows.append((kind, *scores(tp, fp, fn), tp + fn))
    return rows


def _markdown(rows: list[tuple[str, float, float, float, int]]) -> str:
    lines = [
        "Entity-level scores on the test split (exact span and type).",
        "",
        "| type | precision | recall | F1 | support |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {k} | {p:.4f} | {r:.4f} | {f:.4f} | {s} |" for k, p, r, f, s in rows]
    return "\n".join(lines) + "\n"


def _csv(rows: list[tuple[str, float, float, float, int]]) -> str:
    lines = ["type,precision,recall,f1,support"]
    lines += [f"{k},{p:.6f},{r:.6f},{f:.6f},{s}" for k, p, r, f, s in rows]
    return "\n".join(lines) + "\n"
