"""The report as one self-contained HTML file: figures embedded as base64 data URIs, styles
inline, no external link or script, so it opens offline and travels as one file."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape
from pathlib import Path

from pipeline.lecture.format import VERDICT_MARKS, value_text
from pipeline.lecture.record import Claim

STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.4; }
blockquote { color: #444; border-left: 4px solid #ccc; margin-left: 0; padding-left: 1em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; font-size: 90%; }
.reproduced { color: #137333; } .not-reproduced { color: #b3261e; }
.not-available { color: #666; }
img { max-width: 100%; }
code { background: #f4f4f4; padding: 1px 4px; }
"""


def data_uri(path: Path) -> str:
    """The PNG at path as a data: URI."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


def write_html(claims: list[Claim], facts: Mapping[str, str], path: Path) -> Path:
    rows = "".join(
        f"<tr><td><a href='#claim-{c.id}'>{c.id}</a></td><td class='{_css(c.verdict)}'>"
        f"{VERDICT_MARKS[c.verdict]} {escape(c.verdict)}</td><td>{escape(c.gloss_en)}</td></tr>"
        for c in claims
    )
    body = "".join(_section(claim) for claim in claims)
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>The lecture, reproduced</title><style>{STYLE}</style></head><body>"
        "<h1>The lecture, reproduced</h1>"
        f"<p>Scale <code>{escape(facts['scale'])}</code>, {escape(facts['minutes'])} minutes; "
        f"every run is in the MLflow experiment <code>{escape(facts['experiment'])}</code> of "
        f"<code>{escape(facts['tracking_uri'])}</code> (<code>pipeline ui</code>).</p>"
        f"<table><tr><th>claim</th><th>verdict</th><th></th></tr>{rows}</table>"
        f"{body}</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path


def _css(verdict: str) -> str:
    return verdict.replace(" ", "-")


def _section(claim: Claim) -> str:
    evidence = "".join(
        f"<tr><td>{escape(k)}</td><td>{escape(value_text(v))}</td></tr>"
        for k, v in claim.evidence.items()
    )
    images = "".join(
        f"<p><img alt='figure of claim {claim.id}' src='{data_uri(p)}'></p>" for p in claim.figures
    )
    runs = ", ".join(f"<code>{escape(r)}</code>" for r in claim.run_ids) or "none"
    return (
        f"<h2 id='claim-{claim.id}'>{claim.id}. {escape(claim.gloss_en)}</h2>"
        f"<blockquote lang='es'>{escape(claim.quote_es)}</blockquote>"
        f"<p class='{_css(claim.verdict)}'><b>Verdict: {escape(claim.verdict)}.</b></p>"
        f"<p>Criterion: {escape(claim.criterion)}.</p>"
        f"<p>Measured: {escape(claim.reason)}</p>"
        f"<table><tr><th>evidence</th><th>value</th></tr>{evidence}</table>{images}"
        f"<p>Rerun: <code>{escape(claim.rerun)}</code></p><p>Runs: {runs}</p>"
    )
