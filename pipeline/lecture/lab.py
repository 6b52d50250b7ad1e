"""The lecture's experiments: small configs, each trained once through ``train(cfg)`` as an
MLflow run in the experiment ``lecture`` (tagged with the claims that use it).

A run is asked for by key (``lm_lstm``, ``adding_gru_T40``); a second claim asking for the
same key reuses it and adds itself to the run's ``lecture.claims`` tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Config, build_config, deep_merge
from pipeline.lecture.scale import Scale
from pipeline.lecture.synthetic import write_classification, write_tagging
from pipeline.plugins import Registries
from plugins.tasks.language_model.demo_corpus import write_demo_corpus

EXPERIMENT = "lecture"
CLAIM_TAG = "lecture.claim"
CLAIMS_TAG = "lecture.claims"
KEY_TAG = "lecture.key"


@dataclass
class LabRun:
    key: str
    run_id: str
    cfg: Config
    metrics: dict[str, float]
    claims: set[str]


class Lab:
    """Builds, trains and remembers the lecture's runs; data is generated under ``out/data``."""

    def __init__(
        self, out: Path, scale: Scale, registries: Registries, tracking_uri: str | None = None
    ) -> None:
        self.out, self.scale, self.registries = out, scale, registries
        self.tracking_uri = tracking_uri
        self.runs: dict[str, LabRun] = {}
        self.data = out / "data"

    # ------------------------------------------------------------------------- runs

    def train(self, key: str, claim: str, changes: dict[str, Any]) -> LabRun:
        """The run called key (trained now with base settings + changes, or reused)."""
        from pipeline.tracking import Tracker
        from pipeline.train import train

        if key in self.runs:
            run = self.runs[key]
            run.claims.add(claim)
            Tracker(self.tracking_uri).set_tags(
                run.run_id, {CLAIMS_TAG: ",".join(sorted(run.claims))}
            )
            return run
        cfg = self.config(changes)
        tags = {CLAIM_TAG: claim, CLAIMS_TAG: claim, KEY_TAG: key}
        result = train(cfg, registries=self.registries, tags=tags)
        self.runs[key] = LabRun(key, result.run_id, cfg, result.metrics, {claim})
        return self.runs[key]

    def adopt(self, key: str, claim: str, run_id: str, cfg: Config) -> LabRun:
        """A run trained elsewhere (the Pontevedra probe), tagged like the lab's own."""
        from pipeline.tracking import Tracker

        tracker = Tracker(self.tracking_uri)
        tracker.set_tags(run_id, {CLAIM_TAG: claim, CLAIMS_TAG: claim, KEY_TAG: key})
        metrics = dict(tracker.get_run(run_id).data.metrics)
        self.runs[key] = LabRun(key, run_id, cfg, metrics, {claim})
        return self.runs[key]

    def config(self, changes: dict[str, Any]) -> Config:
        """Settings every lecture run shares, with a claim's changes on top."""
        hidden = self.scale.hidden
        base: dict[str, Any] = {
            "model": {
                "embedding_size": hidden,
                "hidden_size": hidden,
                "num_layers": 1,
                "dropout": 0,
            },
            "trainer": {
                "accelerator": "cpu",
                "devices": 1,
                "threads": 1,  # small matrices on shared cores: one thread is fastest
                "progress_bar": False,
                "early_stopping_patience": 0,
            },
            "tracking": {"experiment": EXPERIMENT, "uri": self.tracking_uri},
        }
        return build_config(deep_merge(base, changes), self.registries)

    # ------------------------------------------------------------------------- configs

    def lm(self, **model: Any) -> dict[str, Any]:
        """The next-word model on the generated Spanish news corpus."""
        paths = self._lm_corpus()
        return {
            "task": {"name": "language_model", "bptt": 20},
            "data": {**paths, "batch_size": 20, "eval_batch_size": 10},
            "tokenizer": {"vocab_size": 3000},
            "model": {"cell": "lstm", **model},
            "optim": {"name": "adam", "lr": 0.005},
            "trainer": {"max_epochs": self.scale.lm_epochs, "gradient_clip_val": 0.5},
        }

    def adding(self, cell: str, length: int) -> dict[str, Any]:
        """The adding problem at T = length, with the gradient-flow diagnostics on (g, j)."""
        scale = self.scale
        return deep_merge(
            self._long_range("adding", cell, length, scale.long_train, scale.long_epochs),
            {"diagnostics": {"gradient_flow": True, "every_n_batches": 5}},
        )

    def copy(self, cell: str, length: int) -> dict[str, Any]:
        """The copy-memory problem: 10 digits recalled after T blanks (T + 20 symbols)."""
        scale = self.scale
        return self._long_range("copy", cell, length, scale.copy_train, scale.copy_epochs)

    def _long_range(
        self, problem: str, cell: str, length: int, size: int, epochs: int
    ) -> dict[str, Any]:
        return {
            "task": {
                "name": "long_range",
                "problem": problem,
                "length": length,
                "train_size": size,
                "eval_size": max(20, size // 4),
            },
            "data": {"batch_size": 50, "eval_batch_size": 100},
            "model": {"cell": cell, "runner": "eager" if cell == "rnn_sigmoid" else "auto"},
            "optim": {"name": "adam", "lr": 0.003},
            "trainer": {"max_epochs": epochs, "gradient_clip_val": 1.0},
        }

    def tagging(self, bidirectional: bool) -> dict[str, Any]:
        paths = write_tagging(self.data / "tagging", self.scale.synthetic_size, 0)
        return {
            "task": {"name": "tagging", "scheme": "iob2", "bidirectional": bidirectional},
            **self._synthetic(paths, bidirectional),
        }

    def classification(self, bidirectional: bool) -> dict[str, Any]:
        paths = write_classification(self.data / "classification", self.scale.synthetic_size, 0)
        return {
            "task": {"name": "classification", "format": "label_first", "pooling": "last"},
            **deep_merge(
                self._synthetic(paths, bidirectional), {"model": {"bidirectional": bidirectional}}
            ),
        }

    def seq2seq(self) -> dict[str, Any]:
        """The seq2seq task's own toy data (reverse and upper-case a few symbols)."""
        # the module comes with the seq2seq task, asked for only when that is installed
        from plugins.tasks.seq2seq.toy_data import (  # type: ignore[import-not-found,unused-ignore]
            write_reversal_pairs,
        )

        size = self.scale.synthetic_size
        sizes = {"train": size, "validation": max(8, size // 4), "test": max(8, size // 4)}
        paths = write_reversal_pairs(self.data / "seq2seq", sizes, seed=0)
        return {
            "task": {"name": "seq2seq"},
            "data": {**{k: str(p) for k, p in paths.items()}, "batch_size": 16},
            "model": {"cell": "gru", "runner": "eager"},
            "optim": {"name": "adam", "lr": 0.01},
            "trainer": {"max_epochs": self.scale.synthetic_epochs, "gradient_clip_val": 5.0},
        }

    def captioning(self) -> dict[str, Any]:
        """Spanish captions of generated shapes pictures (the captioning task's generator, the
        shipped data/shapes set in miniature: 32 px, a two-block CNN, attention, beam 3)."""
        # the module comes with the captioning task, asked for only when that is installed
        from plugins.tasks.captioning.shapes import (  # type: ignore[import-not-found,unused-ignore]
            write_shapes,
        )

        size, side = self.scale.synthetic_size, 32
        paths = write_shapes(
            self.data / f"captioning-{size}", size, max(8, size // 4), max(8, size // 4), size=side
        )
        encoder = {"channels": 16, "blocks": 2, "image_size": side}
        return {
            "task": {
                "name": "captioning",
                "image_encoder": "small_cnn",
                "image_encoder_options": encoder,
                "attention": "bahdanau",
                "beam_size": 3,
                "max_caption_length": 20,
            },
            "data": {**{k: str(p) for k, p in paths.items()}, "batch_size": 16},
            "tokenizer": {"vocab_size": 200},
            "model": {"cell": "lstm"},
            "optim": {"name": "adam", "lr": 0.005},
            "trainer": {"max_epochs": self.scale.synthetic_epochs, "gradient_clip_val": 5.0},
        }

    def _synthetic(self, paths: dict[str, Path], bidirectional: bool) -> dict[str, Any]:
        """Same budget both ways: two directions get half the units each."""
        hidden = self.scale.hidden // 2 if bidirectional else self.scale.hidden
        return {
            "data": {**{k: str(p) for k, p in paths.items()}, "batch_size": 16},
            "tokenizer": {"vocab_size": 1000},
            "model": {"cell": "lstm", "hidden_size": max(1, hidden)},
            "optim": {"name": "adam", "lr": 0.01},
            "trainer": {"max_epochs": self.scale.synthetic_epochs, "gradient_clip_val": 5.0},
        }

    def _lm_corpus(self) -> dict[str, str]:
        size = self.scale.lm_sentences
        directory = self.data / f"lm-{size}"  # one corpus per size: scales share --out
        if not (directory / "test.txt").exists():
            write_demo_corpus(directory, size, max(10, size // 10), max(10, size // 10), seed=0)
        names = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}
        return {split: str(directory / name) for split, name in names.items()}
