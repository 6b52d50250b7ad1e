"""The captioning task: images in, captions out (Spanish shapes, Flickr8k, COCO, your own).

Data: an image folder plus captions in the layouts of :mod:`plugins.tasks.captioning.readers`,
images decoded once into the cache (:mod:`plugins.tasks.captioning.images`); the network is
:class:`~plugins.tasks.captioning.network.CaptioningNetwork` (an image-encoder plugin and the
shared attention decoder); metrics in :mod:`plugins.tasks.captioning.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from pipeline.data import Splits
from pipeline.decoding import Hypothesis
from pipeline.errors import OptionError
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.preparation import Encoded, prepare_cached, task_cache_key
from pipeline.sharding import split_loader
from pipeline.tokenizers import Tokenizer, build_tokenizer, load_tokenizer
from plugins.tasks.captioning import generation, images, readers, reports
from plugins.tasks.captioning.data import (
    CaptionBatch,
    CaptionPairs,
    CaptionSet,
    Collate,
    encode_captions,
)
from plugins.tasks.captioning.generation import Search
from plugins.tasks.captioning.metrics import METRIC_NAMES, logged_metrics
from plugins.tasks.captioning.network import build_captioner, encoder_image_size
from plugins.tasks.captioning.options import CaptioningOptions, CaptioningPredictOptions

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config
    from plugins.tasks.captioning.network import CaptioningNetwork

CACHE_VERSION = 1
NOT_PREPARED = "the captioning task needs prepare_data or load_artifacts first"
SEARCH_OF_SPLIT = {"train": "none", "val": "greedy", "test": "beam"}


class CaptioningTask(Task):
    """Captions for images; loss, ppl and BLEU-1..4 (0-1); monitors val_bleu4."""

    Options = CaptioningOptions
    PredictOptions = CaptioningPredictOptions
    monitor = "val_bleu4"
    monitor_mode = "max"
    metric_names = METRIC_NAMES

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.tokenizer: Tokenizer | None = None
        self.data: dict[str, CaptionSet] = {}
        self._image_size: int | None = None

    @property
    def fitted_tokenizer(self) -> Tokenizer:
        """The tokenizer fitted on the training captions (after prepare_data/load_artifacts)."""
        if self.tokenizer is None:
            raise RuntimeError(NOT_PREPARED)
        return self.tokenizer

    @classmethod
    def config_problems(cls, cfg: Config) -> list[str]:
        options, model = cfg.task.options, cfg.model
        problems = readers.option_problems(options, cfg.data)
        if options.tie_embeddings and model.embedding_size != model.hidden_size:
            problems.append(
                f"task.tie_embeddings needs model.embedding_size == model.hidden_size, got "
                f"{model.embedding_size} and {model.hidden_size}; set them equal or "
                "task.tie_embeddings=false"
            )
        return problems

    # ------------------------------------------------------------------------- data

    def image_size(self) -> int:
        """Side S of the square images the configured encoder reads."""
        if self._image_size is None:
            options = self.options
            self._image_size = encoder_image_size(
                options.image_encoder, options.image_encoder_options
            )
        return self._image_size

    def cache_key(self) -> dict[str, Any]:
        """What the cached tensors depend on: data, reading options, image side, tokenizer."""
        options = self.options
        return task_cache_key(
            "captioning",
            self.cfg,
            version=CACHE_VERSION,
            read=readers.cache_key(options),
            image_size=self.image_size(),
            max_caption_length=options.max_caption_length,
        )

    def read_splits(self) -> Splits[readers.CaptionedImage]:
        """Captioned images of train, validation and test (the missing ones carved)."""
        return readers.read_caption_splits(self.cfg.data, self.options, self.cfg.seed)

    def fit(self, splits: Splits[readers.CaptionedImage]) -> None:
        """The tokenizer, on every reference caption of train (unless loaded)."""
        if self.tokenizer is None:
            self.tokenizer = build_tokenizer(self.cfg.tokenizer)
            self.tokenizer.fit(
                [text for item in splits.examples["train"] for text in item.captions]
            )

    def references(self, captions: Sequence[str]) -> list[str]:
        """Reference texts for BLEU, cased as the tokenizer's output will be."""
        lowercase = self.cfg.tokenizer.lowercase
        return [text.strip().lower() if lowercase else text.strip() for text in captions]

    def encode(self, split: str, examples: list[readers.CaptionedImage]) -> Encoded:
        """Decoded images, token ids and references of one split (bad images per the options)."""
        loaded = images.load_split(examples, self.image_size(), self.options, f"data.{split}")
        kept = loaded.examples
        ids = encode_captions(
            self.fitted_tokenizer,
            [item.captions for item in kept],
            self.options.max_caption_length,
        )
        references = [self.references(item.captions) for item in kept]
        names = [item.name for item in kept]
        captions = CaptionSet.build(loaded.images, ids, references, names)
        sizes = {
            f"{split}_images": len(kept),
            f"{split}_captions": sum(len(item.captions) for item in kept),
            f"{split}_skipped_images": loaded.skipped,
        }
        return Encoded(captions.state(), sizes)

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        prepared = prepare_cached(self, cache_dir, loaded=self.tokenizer is not None)
        self.data = {split: CaptionSet(**state) for split, state in prepared.tensors.items()}
        return prepared.facts(vocabulary=len(self.fitted_tokenizer))

    def save_artifacts(self, directory: Path) -> None:
        self.fitted_tokenizer.save(directory / "tokenizer")

    def load_artifacts(self, directory: Path) -> None:
        self.tokenizer = load_tokenizer(directory / "tokenizer")

    def vocabulary(self) -> Sequence[str]:
        return self.fitted_tokenizer.vocab

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader[Any]:
        """:class:`CaptionBatch` es: (image, caption) pairs for train, images with all their
        captions for val (greedy BLEU) and test (beam-search BLEU)."""
        data = self.data[split]
        dataset = CaptionPairs(data) if split == "train" else data
        collate = Collate(self.fitted_tokenizer, SEARCH_OF_SPLIT[split])
        return split_loader(dataset, split, self.cfg, rank, world_size, collate)

    # ------------------------------------------------------------------------- model

    def build_network(self, components: Components) -> nn.Module:
        return build_captioner(components, self.cfg, len(self.fitted_tokenizer))

    def metrics(self) -> dict[str, Any]:
        return dict(logged_metrics())

    def search(self, beam_size: int | None = None, n_best: int = 1) -> Search:
        """Generation settings: ``beam_size`` (default ``task.beam_size``; 1 greedy), the
        length penalty and ``task.max_caption_length``."""
        options = self.options
        beam = beam_size or options.beam_size
        if n_best > beam:
            source = "beam" if beam_size else "the run's task.beam_size"
            raise OptionError(
                f"predict option n_best ({n_best}) exceeds the beam ({source}: {beam}); ask for "
                f"at most {beam} captions, or widen the beam (--option beam={n_best})"
            )
        return Search(beam, options.length_penalty, options.max_caption_length, n_best)

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        """Teacher-forced cross-entropy of every caption (label smoothing in training only);
        evaluation batches also generate a caption per image for BLEU."""
        batch = cast(CaptionBatch, batch)
        pad = self.fitted_tokenizer.pad_id
        inputs, targets = batch.captions[:, :-1], batch.captions[:, 1:]  # (C, T) each
        forcing = self.options.teacher_forcing if network.training else 1.0
        logits, _ = network(batch.images, inputs, batch.image_index, forcing)  # (C, T, V)
        smoothing = self.options.label_smoothing if network.training else 0.0
        loss = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=pad, label_smoothing=smoothing
        )
        tokens = (targets != pad).sum()
        metrics["loss"].update(loss.detach(), tokens)
        metrics["ppl"].update(loss.detach(), tokens)
        if batch.search != "none":
            beam = 1 if batch.search == "greedy" else None
            hypotheses = self.generate(network, batch.images, self.search(beam))
            texts = [self.caption_text(best[0]) for best in hypotheses]
            for name in METRIC_NAMES:
                if name.startswith("bleu"):
                    metrics[name].update(texts, batch.references)
        return StepResult(loss)

    def generate(
        self, network: nn.Module, pictures: Tensor, search: Search
    ) -> list[list[Hypothesis]]:
        """The ``search.n_best`` best captions of each image (B, 3, S, S) uint8, best first."""
        device = next(network.parameters()).device
        captioner = cast("CaptioningNetwork", network)
        return generation.generate(
            captioner, pictures.to(device), search, self.fitted_tokenizer.eos_id
        )

    def caption_text(self, hypothesis: Hypothesis) -> str:
        """A generated caption as text (detokenised)."""
        return self.fitted_tokenizer.decode(hypothesis.tokens)

    # ------------------------------------------------------------------------- prediction

    @torch.no_grad()
    def predict(
        self,
        network: nn.Module,
        texts: Sequence[str],
        beam: int = 0,
        n_best: int = 1,
        **options: Any,
    ) -> list[dict[str, Any]]:
        """The n_best captions of each image file (texts are image paths) with their scores
        (log-probability / GNMT length penalty) and log-probabilities; best first."""
        network.eval()
        pictures = images.load_files(texts, self.image_size())  # (N, 3, S, S)
        found = self.generate(network, pictures, self.search(beam, n_best))
        return [
            {
                "image": str(path),
                "captions": [
                    {
                        "caption": self.caption_text(hypothesis),
                        "score": round(hypothesis.score, 6),
                        "log_prob": round(hypothesis.log_prob, 6),
                    }
                    for hypothesis in best
                ],
            }
            for path, best in zip(texts, found, strict=True)
        ]

    def describe(self, prediction: dict[str, Any]) -> str:
        lines = [prediction["image"]]
        for rank, item in enumerate(prediction["captions"], 1):
            lines.append(f"  {rank}. {item['caption']}  (score {item['score']:.4f})")
        return "\n".join(lines)

    # ------------------------------------------------------------------------- reports

    @torch.no_grad()
    def write_reports(self, network: nn.Module, directory: Path) -> None:
        """captions.png/.csv/.md and attention maps of the first test images (beam search)."""
        network.eval()
        test = self.data["test"]
        pictures = test.images[: reports.GRID_IMAGES]
        found = self.generate(network, pictures, self.search())
        tokenizer = self.fitted_tokenizer
        examples = [
            reports.Captioned(
                name=test.names[i],
                image=pictures[i],
                words=[tokenizer.id_to_token(t) for t in best[0].tokens],
                caption=self.caption_text(best[0]),
                references=test.references[i],
                attention=best[0].attention.cpu(),
            )
            for i, best in enumerate(found)
        ]
        captioner = cast("CaptioningNetwork", network)
        attention = captioner.encoder.grid_shape() if self.options.attention != "none" else None
        reports.write_reports(examples, Path(directory), attention)
