"""`--json` output is strict JSON: non-finite numbers as null, flagged by their path."""

from __future__ import annotations

import json

import pytest

from pipeline.json_output import dumps


def strict_loads(text: str) -> dict:
    """What a strict parser (JavaScript, jq) accepts: no NaN, Infinity or -Infinity."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_diverged_run_prints_null_and_names_the_metrics() -> None:
    summary = {
        "run_id": "ab" * 16,
        "metrics": {"test_ppl": float("inf"), "val_loss": float("nan"), "test_loss": 2.5},
        "trials": [{"value": float("-inf")}, {"value": 1.0}],
    }
    printed = strict_loads(dumps(summary))
    assert printed["metrics"] == {"test_ppl": None, "val_loss": None, "test_loss": 2.5}
    assert printed["trials"] == [{"value": None}, {"value": 1.0}]
    assert printed["non_finite"] == {
        "metrics.test_ppl": "inf",
        "metrics.val_loss": "nan",
        "trials[0].value": "-inf",
    }


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_finite_output_is_unchanged_and_unflagged(ensure_ascii: bool) -> None:
    payload = {"predictions": [{"token": "aprobó", "p": 0.25}], "n": 3, "none": None}
    text = dumps(payload, ensure_ascii=ensure_ascii)
    assert strict_loads(text) == payload
    assert text == json.dumps(payload, ensure_ascii=ensure_ascii)
