"""The seq2seq task: parallel data, the encoder-decoder, teacher-forced training, BLEU/chrF of
generated translations, prediction with beam search and n-best lists.

Metrics per split: ``loss`` (teacher-forced cross-entropy, label smoothing included, per
target token) and ``ppl`` (exp of the per-token NLL without smoothing); on val and test also
corpus ``bleu`` and ``chrf`` (sacrebleu, detokenised hypotheses against the raw target text):
val greedy on ``task.val_bleu_sentences`` sentences spread over the split every epoch, test
with beam search (``task.beam_size``). The monitored metric is ``val_loss``: it covers every
validation pair, changes smoothly, and does not tie the way a saturated greedy BLEU does (a tie
keeps the earliest checkpoint); tune spaces may still maximise ``val_bleu``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from pipeline.data import Splits
from pipeline.decoding import AttentionDecoder
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.preparation import Encoded, prepare_cached, task_cache_key
from pipeline.sharding import split_loader, split_sampler
from plugins.tasks.seq2seq import reports
from plugins.tasks.seq2seq.batching import LengthGrouped
from plugins.tasks.seq2seq.data import Batch, Collate, EncodedPairs, Sides, encode_sources
from plugins.tasks.seq2seq.metrics import METRIC_NAMES, logged_metrics
from plugins.tasks.seq2seq.network import Seq2SeqNetwork
from plugins.tasks.seq2seq.options import (
    Seq2SeqOptions,
    Seq2SeqPredictOptions,
    seq2seq_config_problems,
)
from plugins.tasks.seq2seq.readers import (
    Pair,
    parallel_fingerprint,
    parallel_problems,
    read_pairs,
)
from plugins.tasks.seq2seq.translate import Search, text, translate

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config

__all__ = ["Seq2SeqTask"]

CACHE_VERSION = 1
GROUP_BATCHES = 50
"""Training batches whose examples are sorted by length together (see :mod:`.batching`)."""
NOT_PREPARED = "the seq2seq task needs prepare_data or load_artifacts first"


class Seq2SeqTask(Task):
    """Translation and summarisation: an attention encoder-decoder over (source, target) pairs."""

    Options = Seq2SeqOptions
    PredictOptions = Seq2SeqPredictOptions
    monitor = "val_loss"
    monitor_mode = "min"
    metric_names = METRIC_NAMES

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.sides: Sides | None = None
        self.data: dict[str, EncodedPairs] = {}

    @property
    def fitted(self) -> Sides:
        """The tokenizers of both sides (after prepare_data or load_artifacts)."""
        if self.sides is None:
            raise RuntimeError(NOT_PREPARED)
        return self.sides

    @classmethod
    def config_problems(cls, cfg: Config) -> list[str]:
        return parallel_problems(cfg.task.options, cfg.data) + seq2seq_config_problems(cfg)

    # ------------------------------------------------------------------------- data

    def cache_key(self) -> dict[str, Any]:
        """Files and columns, tokenizer settings, vocabulary sharing, length limits, seed."""
        options = self.options
        return task_cache_key(
            "seq2seq",
            self.cfg,
            version=CACHE_VERSION,
            pairs=parallel_fingerprint(self.cfg.data, options),
            shared=options.shared_vocabulary,
            limits=self.limits,
        )

    @property
    def limits(self) -> tuple[int, int]:
        return self.options.max_source_length, self.options.max_target_length

    def read_splits(self) -> Splits[Pair]:
        return read_pairs(self.cfg.data, self.cfg.seed, self.options)

    def fit(self, splits: Splits[Pair]) -> None:
        """The tokenizer(s), fitted on the training pairs (unless loaded)."""
        if self.sides is None:
            train = splits.examples["train"]
            sources, targets = [p.source for p in train], [p.target for p in train]
            self.sides = Sides.fitted(
                self.cfg.tokenizer, sources, targets, self.options.shared_vocabulary
            )

    def encode(self, split: str, examples: list[Pair]) -> Encoded:
        sources, targets = [p.source for p in examples], [p.target for p in examples]
        pairs = EncodedPairs.encode(self.fitted, sources, targets, self.limits)
        return Encoded(pairs.state, {f"{split}_pairs": len(examples)})

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        prepared = prepare_cached(self, cache_dir, loaded=self.sides is not None)
        self.data = {split: EncodedPairs(state) for split, state in prepared.tensors.items()}
        sides = self.fitted
        return prepared.facts(
            source_vocabulary=len(sides.source), target_vocabulary=len(sides.target)
        )

    def save_artifacts(self, directory: Path) -> None:
        self.fitted.save(directory)

    def load_artifacts(self, directory: Path) -> None:
        self.sides = Sides.load(directory)

    def vocabulary(self) -> Sequence[str]:
        return self.fitted.source.vocab

    def embedding_vocabularies(self) -> Mapping[str, Sequence[str]]:
        return {"decoder.embedding": self.fitted.target.vocab}

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader[Batch]:
        """Padded batches; val translates val_bleu_sentences of its pairs (spread over the split)
        greedily, test all of it with the beam."""
        pad, options = self.fitted.target.pad_id, self.options
        if split == "train":
            return self.train_loader(rank, world_size)
        size = len(self.data[split])
        if split == "val":
            collate = Collate(pad, 1, options.val_bleu_sentences, size)
        else:
            collate = Collate(pad, options.beam_size, size, size)
        return split_loader(self.data[split], split, self.cfg, rank, world_size, collate)

    def train_loader(self, rank: int, world_size: int) -> DataLoader[Any]:
        """Shuffled like every task's train split, then grouped by length (:mod:`.batching`)."""
        data, pairs = self.cfg.data, self.data["train"]
        shuffled = split_sampler(pairs, "train", self.cfg.seed, rank, world_size)
        return DataLoader(
            pairs,
            batch_size=data.batch_size,
            sampler=LengthGrouped(shuffled, pairs.target_lengths(), data.batch_size, GROUP_BATCHES),
            collate_fn=Collate(self.fitted.target.pad_id),
            num_workers=data.num_workers,
        )

    # ------------------------------------------------------------------------- model

    def build_network(self, components: Components) -> nn.Module:
        model, options, sides = self.cfg.model, self.options, self.fitted
        encoder = components.encoder(model.embedding_size)
        decoder = AttentionDecoder(
            components.cell_factory,
            components.embedding(len(sides.target), padding_idx=sides.target.pad_id),
            model.hidden_size,
            model.num_layers,
            encoder.output_size,
            encoder.output_size,
            attention=options.attention,
            attention_score=options.attention_score,
            dropout=model.dropout,
            tie_embeddings=options.tie_embeddings,
            runner=model.runner,
        )
        return Seq2SeqNetwork(
            components.embedding(len(sides.source), padding_idx=sides.source.pad_id),
            encoder,
            decoder,
            model.dropout,
            options.teacher_forcing,
        )

    def metrics(self) -> dict[str, Any]:
        return dict(logged_metrics())

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        batch = Batch(*batch)
        inputs, gold = batch.target[:, :-1], batch.target[:, 1:]  # (B, T+1) each
        logits, _ = network(batch.source, batch.source_lengths, inputs)  # (B, T+1, V)
        pad = self.fitted.target.pad_id
        flat_logits, flat_gold = logits.flatten(0, 1), gold.flatten()
        loss = F.cross_entropy(
            flat_logits, flat_gold, ignore_index=pad, label_smoothing=self.options.label_smoothing
        )
        tokens = (gold != pad).sum()
        metrics["loss"].update(loss.detach(), tokens)
        nll = loss.detach()
        if self.options.label_smoothing > 0:
            nll = F.cross_entropy(flat_logits.detach(), flat_gold, ignore_index=pad)
        metrics["ppl"].update(nll, tokens)
        if not network.training and batch.search > 0:
            self.score(network, batch, metrics)
        return StepResult(loss)

    def score(self, network: nn.Module, batch: Batch, metrics: dict[str, Any]) -> None:
        """BLEU/chrF statistics of the batch's examples marked for decoding (possibly none:
        every rank updates, so every rank's metric joins the DDP reduction)."""
        chosen = batch.decode.nonzero().flatten().tolist()
        hypotheses: list[str] = []
        if chosen:
            index = torch.tensor(chosen, device=batch.source.device)
            search = self.search(beam=batch.search)
            found = translate(
                network,  # type: ignore[arg-type]  # build_network made it
                batch.source.index_select(0, index),
                batch.source_lengths.index_select(0, index.to(batch.source_lengths.device)),
                search,
            )
            hypotheses = [text(self.fitted.target, best[0]) for best in found]
        references = [[batch.references[i]] for i in chosen]
        metrics["bleu"].update(hypotheses, references)
        metrics["chrf"].update(hypotheses, references)

    def search(self, beam: int, n_best: int = 1) -> Search:
        options = self.options
        return Search(
            beam,
            n_best,
            options.length_penalty,
            options.max_length_ratio,
            options.max_target_length,
        )

    # ------------------------------------------------------------------------- prediction

    @torch.no_grad()
    def predict(
        self, network: nn.Module, texts: Sequence[str], beam: int = 0, n_best: int = 1, **_: Any
    ) -> list[dict[str, Any]]:
        """n_best translations of each text with their scores (beam 0: task.beam_size)."""
        network.eval()
        sides = self.fitted
        rows = encode_sources(sides.source, texts, self.options.max_source_length)
        source = nn.utils.rnn.pad_sequence(
            [torch.tensor(row) for row in rows], batch_first=True, padding_value=sides.source.pad_id
        )
        lengths = torch.tensor([len(row) for row in rows])
        search = self.search(beam or self.options.beam_size, n_best)
        found = translate(network, source, lengths, search)  # type: ignore[arg-type]
        return [
            {
                "text": source_text,
                "tokens": sides.source.tokens(source_text),
                "translations": [
                    {
                        "translation": text(sides.target, hypothesis),
                        "score": round(hypothesis.score, 6),
                        "log_prob": round(hypothesis.log_prob, 6),
                    }
                    for hypothesis in hypotheses
                ],
            }
            for source_text, hypotheses in zip(texts, found, strict=True)
        ]

    def describe(self, prediction: dict[str, Any]) -> str:
        lines = [prediction["text"]]
        for rank, item in enumerate(prediction["translations"], 1):
            lines.append(
                f"  {rank}. {item['translation']}  (score {item['score']:.4f}, "
                f"log-prob {item['log_prob']:.4f})"
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------------- reports

    def write_reports(self, network: nn.Module, directory: Path) -> None:
        """Sample translations, the test hypotheses, attention heatmaps of val sentences."""
        reports.write_reports(
            network,  # type: ignore[arg-type]  # build_network made it
            self.fitted,
            self.data,
            self.search(self.options.beam_size),
            Path(directory),
            self.cfg.data.eval_batch_size,
            attention=self.options.attention != "none",
        )
