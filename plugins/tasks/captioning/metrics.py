"""The captioner's logged metrics: teacher-forced loss and perplexity, BLEU-1..4.

BLEU-n is corpus BLEU with n-grams up to n (Papineni et al. 2002) of one generated caption per
image against all of its references, with sacrebleu's statistics
(:class:`pipeline.text_metrics.CorpusBleu`): the n-gram counts are summed across DDP ranks, so
the score equals a one-process evaluation. It is reported on the 0-1 scale captioning papers
use (COCO's evaluation code), not sacrebleu's 0-100. Validation decodes greedily, test with
beam search; training decodes nothing, and its BLEU is NaN, which is not logged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from pipeline.metrics import WeightedMean
from pipeline.text_metrics import CorpusBleu

BLEU_ORDERS = (1, 2, 3, 4)
METRIC_NAMES = ("loss", "ppl", *(f"bleu{n}" for n in BLEU_ORDERS))


class Perplexity(WeightedMean):
    """exp of the token-weighted mean cross-entropy."""

    def compute(self) -> Tensor:
        return torch.exp(super().compute())


class CaptionBleu(CorpusBleu):
    """Corpus BLEU-n on the 0-1 scale; NaN when no caption was generated (training)."""

    captions: Tensor  # () float sum state: how many captions were scored

    def __init__(self, max_order: int) -> None:
        super().__init__(max_order=max_order)
        self.add_state("captions", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
        """One generated caption per image, and that image's reference captions."""
        super().update(hypotheses, references)
        self.captions += len(hypotheses)

    def compute(self) -> Tensor:
        if not bool(self.captions > 0):
            return torch.tensor(float("nan"))
        return super().compute() / 100.0


def logged_metrics() -> dict[str, Metric]:
    """Fresh metrics keyed by :data:`METRIC_NAMES`: loss and ppl take (batch mean loss,
    tokens); the BLEU ones (hypotheses, references per hypothesis)."""
    bleu: dict[str, Metric] = {f"bleu{n}": CaptionBleu(n) for n in BLEU_ORDERS}
    return {"loss": WeightedMean(), "ppl": Perplexity(), **bleu}
