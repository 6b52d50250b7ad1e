"""The seq2seq metrics, logged per split: token-weighted loss and perplexity (teacher-forced),
corpus BLEU and chrF of generated translations (evaluation splits only).

BLEU and chrF keep sacrebleu's sufficient statistics as summed states
(:mod:`pipeline.text_metrics`), so under DDP the reduced score is the one-process corpus score,
not an average of per-rank scores.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from pipeline.metrics import WeightedMean
from pipeline.text_metrics import CorpusBleu, CorpusChrF

__all__ = ["METRIC_NAMES", "GeneratedBleu", "GeneratedChrF", "Perplexity", "logged_metrics"]

METRIC_NAMES = ("loss", "ppl", "bleu", "chrf")


class Perplexity(WeightedMean):
    """exp of the token-weighted mean negative log-likelihood (update with a batch's mean NLL
    and its target tokens)."""

    def compute(self) -> Tensor:
        return torch.exp(super().compute())


def _nan_until_scored(score: Tensor, stats: Tensor) -> Tensor:
    """NaN while no sentence was added: training generates nothing, and a NaN score of the
    train split is not logged (a 0 would read as a measured BLEU)."""
    return score if bool(stats.any()) else torch.full_like(score, float("nan"))


class GeneratedBleu(CorpusBleu):
    """Corpus BLEU of the translations an evaluation step generated (NaN before any)."""

    def compute(self) -> Tensor:
        return _nan_until_scored(super().compute(), self.stats)


class GeneratedChrF(CorpusChrF):
    """Corpus chrF of the translations an evaluation step generated (NaN before any)."""

    def compute(self) -> Tensor:
        return _nan_until_scored(super().compute(), self.stats)


def logged_metrics() -> dict[str, Metric]:
    """Fresh metrics keyed by :data:`METRIC_NAMES`: loss and ppl take (batch mean, target
    tokens); bleu and chrf take (hypotheses, [[reference], ...])."""
    return {
        "loss": WeightedMean(),
        "ppl": Perplexity(),
        "bleu": GeneratedBleu(),
        "chrf": GeneratedChrF(),
    }
