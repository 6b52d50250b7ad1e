"""``pipeline report lecture`` end to end at the tests' miniature scale (every claim, real
runs): the report's structure, self-contained HTML, verdicts from the criteria, and the runs
in the MLflow experiment ``lecture``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.lecture.claims import CLAIMS
from pipeline.lecture.record import VERDICTS, Produced
from pipeline.plugins import PluginError, default_registries
from pipeline.tracking import Tracker


def test_the_report_covers_every_claim_with_evidence_and_runs(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = workdir / "report"
    assert main(["report", "lecture", "--scale", "tiny", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary["claims"]) == list(CLAIMS)
    report = json.loads((out / "claims.json").read_text(encoding="utf-8"))
    claims = {claim["id"]: claim for claim in report["claims"]}
    assert list(claims) == list(CLAIMS)

    for claim_id, claim in claims.items():
        assert claim["verdict"] in VERDICTS and claim["quote_es"] and claim["criterion"]
        assert claim["rerun"] == f"pipeline report lecture --scale tiny --claims {claim_id}"
        # the verdict is what the criterion gives on the recorded evidence
        assert CLAIMS[claim_id](claim["evidence"], Produced()).verdict == claim["verdict"]
        assert claim["run_ids"]
        for figure in claim["figures"]:
            assert Path(figure).is_file()
    applications = claims["k"]["evidence"]
    assert applications["status_named entities"] == "finished"
    # each application's run when its task is there, with the task's own yardstick
    for application, task, metric in (
        ("seq2seq", "seq2seq", "test_loss"),
        ("image captioning", "captioning", "test_bleu4"),
    ):
        status = "finished" if _installed(task) else "not installed"
        assert applications[f"status_{application}"] == status
        if status == "finished":
            assert applications[f"run_{application}"] in claims["k"]["run_ids"]
            assert math.isfinite(applications[f"{metric}_{application}"])

    html = (out / "index.html").read_text(encoding="utf-8")
    links = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)""", html)
    assert all(link.startswith(("data:image/png;base64,", "#")) for link in links), links
    figures = sum(len(c["figures"]) for c in claims.values())
    assert figures >= 10 and html.count("data:image/png;base64,") == figures
    assert not re.search(r"<(script|link|iframe)\b", html)
    markdown = (out / "README.md").read_text(encoding="utf-8")
    for claim_id, claim in claims.items():
        assert f"id='claim-{claim_id}'" in html and f"## {claim_id}. " in markdown
        assert claim["rerun"] in markdown

    tracker = Tracker()
    experiment = tracker.client.get_experiment_by_name("lecture")
    runs = tracker.client.search_runs([experiment.experiment_id], max_results=1000)
    by_id = {run.info.run_id: run for run in runs}
    used = {run_id for claim in claims.values() for run_id in claim["run_ids"]}
    assert used == set(by_id)  # every run belongs to a claim, every claim's run is there
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.tags["lecture.claim"] in CLAIMS
    shared = by_id[claims["a"]["run_ids"][0]].data.tags["lecture.claims"].split(",")
    assert {"a", "b", "d", "h", "i", "k"} <= set(shared)  # one language model, reused


def _installed(task: str) -> bool:
    try:
        default_registries().tasks.get(task)
    except PluginError:
        return False
    return True


def test_an_unknown_claim_is_a_user_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "lecture", "--claims", "a,z", "--out", str(workdir / "r")]) == 2
    assert "unknown claim z" in capsys.readouterr().err
