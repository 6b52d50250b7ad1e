"""The Claim record: what the lecture says, the criterion, the verdict and its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_AVAILABLE = "not available"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_AVAILABLE)

Evidence = dict[str, Any]
"""Measured numbers (and a few labels, e.g. ranked words) by name."""


@dataclass(frozen=True)
class Produced:
    """What the experiments left for a claim besides its numbers."""

    figures: tuple[Path, ...] = ()
    run_ids: tuple[str, ...] = ()
    rerun: str = ""


@dataclass(frozen=True)
class Claim:
    """One claim of the lecture with the verdict its criterion gives on the evidence."""

    id: str
    quote_es: str
    gloss_en: str
    criterion: str
    verdict: str
    reason: str
    """Why the verdict: the criterion's parts with the measured values."""
    evidence: Evidence = field(default_factory=dict)
    figures: tuple[Path, ...] = ()
    rerun: str = ""
    run_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "quote_es": self.quote_es,
            "gloss_en": self.gloss_en,
            "criterion": self.criterion,
            "verdict": self.verdict,
            "reason": self.reason,
            "evidence": self.evidence,
            "figures": [str(path) for path in self.figures],
            "rerun": self.rerun,
            "run_ids": list(self.run_ids),
        }


@dataclass(frozen=True)
class Check:
    """One part of a criterion: a statement and whether the measurement satisfies it."""

    statement: str
    holds: bool


def verdict_of(checks: list[Check]) -> tuple[str, str]:
    """Reproduced when every check holds; the reason lists each check with its outcome."""
    verdict = REPRODUCED if checks and all(c.holds for c in checks) else NOT_REPRODUCED
    reason = "; ".join(f"{'ok' if c.holds else 'FAILS'}: {c.statement}" for c in checks)
    return verdict, reason
