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

__all__ = ["METRIC_NAMES", "Perplexity", "logged_metrics"]

METRIC_NAMES = ("loss", "ppl", "bleu", "chrf")


class Perplexity(WeightedMean):
    """exp of the token-weighted mean negative log-likelihood (update with a batch's mean NLL
    and its target tokens)."""

    def compute(self) -> Tensor:
        return torch.exp(super().compute())


def logged_metrics() -> dict[str, Metric]:
    """Fresh metrics keyed by :data:`METRIC_NAMES`."""
    return {
        "loss": WeightedMean(),
        "ppl": Perplexity(),
        "bleu": CorpusBleu(),
        "chrf": CorpusChrF(),
    }
