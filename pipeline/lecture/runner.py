"""Run the lecture's claims: experiments, measurements, verdicts, then the report files."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import UserError
from pipeline.lecture import evidence_lm, evidence_seq, html, markdown
from pipeline.lecture.claims import CLAIMS, ids
from pipeline.lecture.lab import EXPERIMENT, Lab
from pipeline.lecture.record import Claim, Evidence, Produced
from pipeline.lecture.scale import Scale
from pipeline.plugins import Registries, default_registries

GATHER: dict[str, Callable[[Lab], tuple[Evidence, Produced]]] = {
    "a": evidence_lm.gather_a,
    "b": evidence_lm.gather_b,
    "c": evidence_lm.gather_c,
    "d": evidence_lm.gather_d,
    "e": evidence_seq.gather_e,
    "f": evidence_seq.gather_f,
    "g": evidence_seq.gather_g,
    "h": evidence_lm.gather_h,
    "i": evidence_lm.gather_i,
    "j": evidence_seq.gather_j,
    "k": evidence_seq.gather_k,
}


@dataclass(frozen=True)
class Report:
    claims: list[Claim]
    html: Path
    markdown: Path
    json: Path
    seconds: float


def check_selection(selection: Sequence[str] | None) -> list[str]:
    """The selected claim ids in lecture order; an unknown id is the user's mistake."""
    unknown = sorted(set(selection or ()) - set(CLAIMS))
    if unknown:
        raise UserError(
            f"--claims: unknown claim {', '.join(unknown)}; choose among {', '.join(CLAIMS)}"
        )
    return ids(selection)


def rerun_command(claim_id: str, scale: Scale) -> str:
    """The command that reruns one claim at the same scale."""
    option = {"quick": " --quick", "full": ""}.get(scale.name, f" --scale {scale.name}")
    return f"pipeline report lecture{option} --claims {claim_id}"


def build_report(
    out: Path,
    scale: Scale,
    selection: Sequence[str] | None = None,
    tracking_uri: str | None = None,
    registries: Registries | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> Report:
    """Run the selected claims (all by default) and write index.html, README.md and
    claims.json into out."""
    chosen = check_selection(selection)
    start = time.perf_counter()
    lab = Lab(out, scale, registries or default_registries(), tracking_uri)
    claims = []
    for claim_id in chosen:
        progress(f"claim {claim_id}: running its experiments")
        evidence, produced = GATHER[claim_id](lab)
        produced = dataclasses.replace(produced, rerun=rerun_command(claim_id, scale))
        claims.append(CLAIMS[claim_id](evidence, produced))
        progress(f"claim {claim_id}: {claims[-1].verdict}")
    seconds = time.perf_counter() - start
    facts = {
        "scale": scale.name,
        "experiment": EXPERIMENT,
        "tracking_uri": lab_uri(tracking_uri),
        "minutes": f"{seconds / 60:.1f}",
    }
    out.mkdir(parents=True, exist_ok=True)
    report_json = out / "claims.json"
    report_json.write_text(
        json.dumps({**facts, "claims": [c.as_dict() for c in claims]}, indent=2, default=str),
        encoding="utf-8",
    )
    return Report(
        claims,
        html.write_html(claims, facts, out / "index.html"),
        markdown.write_markdown(claims, facts, out / "README.md"),
        report_json,
        seconds,
    )


def lab_uri(tracking_uri: str | None) -> str:
    from pipeline.tracking import tracking_uri as resolve

    return resolve(tracking_uri)
