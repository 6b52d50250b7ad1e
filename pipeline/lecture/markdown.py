"""The report as Markdown: one section per claim; figures linked as files beside it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipeline.lecture.format import VERDICT_MARKS, value_text
from pipeline.lecture.record import Claim


def write_markdown(claims: list[Claim], facts: Mapping[str, str], path: Path) -> Path:
    lines = [
        "# The lecture, reproduced",
        "",
        f"Scale `{facts['scale']}`, {facts['minutes']} minutes; every run is in the MLflow "
        f"experiment `{facts['experiment']}` of `{facts['tracking_uri']}` (`pipeline ui`).",
        "",
        "| claim | verdict | |",
        "|---|---|---|",
        *(f"| {c.id} | {VERDICT_MARKS[c.verdict]} {c.verdict} | {c.gloss_en} |" for c in claims),
        "",
    ]
    for claim in claims:
        lines += _section(claim, path.parent)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _section(claim: Claim, folder: Path) -> list[str]:
    lines = [
        f"## {claim.id}. {claim.gloss_en}",
        "",
        f"> {claim.quote_es}",
        "",
        f"**Verdict: {claim.verdict}.** Criterion: {claim.criterion}.",
        "",
        f"Measured: {claim.reason}",
        "",
        "| evidence | value |",
        "|---|---|",
        *(f"| {k} | {value_text(v)} |" for k, v in claim.evidence.items()),
        "",
    ]
    for figure in claim.figures:
        lines += [f"![{claim.id}]({figure.relative_to(folder).as_posix()})", ""]
    lines += [f"Rerun: `{claim.rerun}`", ""]
    if claim.run_ids:
        lines += ["Runs: " + ", ".join(f"`{r}`" for r in claim.run_ids), ""]
    return lines
