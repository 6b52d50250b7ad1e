"""Corpus BLEU and chrF of generated text as torchmetrics metrics, exact under DDP.

A corpus score is not the mean of per-batch or per-rank scores: BLEU divides n-gram matches
summed over the whole corpus, and its brevity penalty compares summed lengths. So the states
here are sacrebleu's sufficient statistics (lengths and n-gram counts per sentence, from its own
tokenisation), summed over batches and, by ``dist_reduce_fx="sum"``, across DDP ranks; the
score is computed once from the sums with sacrebleu's own formula. The result equals
``sacrebleu.corpus_bleu`` / ``corpus_chrf`` on the whole corpus, however it was split::

    bleu = CorpusBleu()  # BLEU-4 on sacrebleu's 0-100 scale; max_order=1..4 for BLEU-1..4
    bleu.update(["The cat sat on the mat."], [["The cat sat on the mat.", "A cat sat."]])
    bleu.compute()  # tensor(100., dtype=torch.float64)

Hypotheses and references are detokenised strings (sacrebleu tokenises them). Each hypothesis
has one or more references, and the number may differ from one hypothesis to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Literal, TypeVar

import torch
from sacrebleu.metrics.base import Metric as SacreMetric
from sacrebleu.metrics.base import Score
from sacrebleu.metrics.bleu import BLEU, BLEUScore
from sacrebleu.metrics.chrf import CHRF, CHRFScore
from torch import Tensor
from torchmetrics import Metric

__all__ = ["CorpusBleu", "CorpusChrF"]

S = TypeVar("S", bound=Score)


class _CorpusScore(Metric, Generic[S]):
    """A sacrebleu metric's sentence statistics summed into one (S,) state; see the module."""

    full_state_update = False
    higher_is_better = True
    is_differentiable = False
    stats: Tensor  # (S,) int64 sum state: sacrebleu's statistics of every sentence so far

    def __init__(self, scorer: SacreMetric, size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scorer = scorer
        self.add_state("stats", torch.zeros(size, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
        """Add sentences: ``references[i]`` holds the reference(s) of ``hypotheses[i]``."""
        if not hypotheses and not references:
            return
        streams = _reference_streams(hypotheses, references)
        # sacrebleu reads None as "no k-th reference here" (its docs); its type hint omits it
        hyps = list(hypotheses)
        sentences = self.scorer._extract_corpus_statistics(hyps, streams)  # type: ignore[arg-type]
        totals = torch.tensor(sentences, dtype=torch.long).sum(0)
        self.stats += totals.to(self.stats.device)

    def compute(self) -> Tensor:
        """The corpus score (0-100) of every sentence added, on every rank under DDP."""
        return torch.tensor(self._score().score, dtype=torch.float64)

    def result(self) -> S:
        """sacrebleu's score object of the whole corpus (reduced across DDP ranks): for BLEU
        also its n-gram precisions, brevity penalty and lengths; ``format()`` prints it."""
        with self.sync_context():
            return self._score()

    def _score(self) -> S:
        score: S = self.scorer._compute_score_from_stats(self.stats.tolist())
        return score


class CorpusBleu(_CorpusScore[BLEUScore]):
    """Corpus BLEU (sacrebleu, 0-100) up to n-grams of ``max_order`` (BLEU-1 .. BLEU-4).

    ``tokenize``: sacrebleu's tokenizer (None: ``13a``, as ``sacrebleu.corpus_bleu``);
    ``smooth_method``: ``exp`` (sacrebleu's default), ``floor``, ``add-k`` or ``none``.
    """

    def __init__(
        self,
        max_order: int = 4,
        tokenize: str | None = None,
        lowercase: bool = False,
        smooth_method: Literal["exp", "floor", "add-k", "none"] = "exp",
        **kwargs: Any,
    ) -> None:
        if not 1 <= max_order <= 4:
            raise ValueError(f"CorpusBleu: max_order is {max_order}; BLEU takes 1 to 4")
        scorer = BLEU(
            tokenize=tokenize,
            lowercase=lowercase,
            smooth_method=smooth_method,
            max_ngram_order=max_order,
        )
        super().__init__(scorer, 2 + 2 * max_order, **kwargs)


class CorpusChrF(_CorpusScore[CHRFScore]):
    """Corpus chrF (sacrebleu, 0-100): character n-grams up to ``char_order``, word n-grams up
    to ``word_order`` (2 gives chrF++), recall weighted by ``beta``."""

    def __init__(
        self,
        char_order: int = CHRF.CHAR_ORDER,
        word_order: int = CHRF.WORD_ORDER,
        beta: int = CHRF.BETA,
        lowercase: bool = False,
        **kwargs: Any,
    ) -> None:
        scorer = CHRF(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase)
        super().__init__(scorer, 3 * (char_order + word_order), **kwargs)


def _reference_streams(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> list[list[str | None]]:
    """sacrebleu's layout of references: stream k holds each sentence's k-th reference, None
    where a sentence has fewer (sacrebleu's way of allowing unequal numbers)."""
    if isinstance(hypotheses, str) or len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference lists; give one "
            "list of references per hypothesis"
        )
    for refs in references:
        if isinstance(refs, str) or not refs:
            raise ValueError(
                f"each hypothesis needs a list of one or more reference strings, got {refs!r}"
            )
    most = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]
