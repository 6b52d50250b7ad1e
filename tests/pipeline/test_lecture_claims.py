"""The lecture's verdicts come from their criteria: the same claim function says reproduced
or not reproduced as fabricated measurements satisfy or break the criterion."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pipeline.lecture.claims import CLAIMS, INITS
from pipeline.lecture.record import NOT_AVAILABLE, NOT_REPRODUCED, REPRODUCED, Produced

INIT_GOOD: dict[str, Any] = {
    **{f"spread_{n}": 0.5 for n in INITS},
    **{f"val_loss_{n}": 3.0 for n in INITS},
    "spread_zeros": 0.0,
    "val_loss_zeros": 6.0,
    "snippet_max_error": 4e-9,
}
FLOW: dict[str, Any] = {"lengths": [10, 40], "copy_lengths": [5, 20], "distances": [6, 20]}
MEMORY_GOOD = {
    **FLOW,
    "adding_ratio_rnn_tanh_T10": 0.3,
    "adding_ratio_rnn_tanh_T40": 0.9,
    "adding_ratio_lstm_T10": 0.1,
    "adding_ratio_lstm_T40": 0.2,
    "adding_ratio_gru_T10": 0.1,
    "adding_ratio_gru_T40": 0.6,
    "copy_ratio_rnn_tanh_T5": 0.2,
    "copy_ratio_rnn_tanh_T20": 1.0,
    "copy_accuracy_rnn_tanh_T20": 0.13,
    "copy_accuracy_lstm_T20": 0.2,
    "copy_accuracy_gru_T20": 0.5,
    "probe_rnn_tanh_n6": 0.9,
    "probe_rnn_tanh_n20": 0.2,
    "probe_lstm_n6": 0.9,
    "probe_lstm_n20": 0.8,
}
H_GOOD = {
    "gates_lstm": 3,
    "gates_gru": 2,
    "params_lstm": 1000,
    "params_gru": 800,
    "tokens_per_s_lstm": 900.0,
    "tokens_per_s_gru": 1100.0,
    "test_ppl_lstm": 40.0,
    "test_ppl_gru": 41.0,
}
LR_GOOD = {
    "val_losses_small": [6.0, 5.8],
    "val_losses_middle": [4.0, 3.6],
    "best_val_loss_large": 5.5,
    "best_val_loss_middle": 3.6,
}

# claim -> (evidence satisfying its criterion, changes that break one part of it)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "a": (
        {"vocab_size": 500, "top_probability": 0.2, "test_ppl": 30.0},
        {"top_probability": 0.01},
    ),
    "b": ({"max_abs_difference": 0.0, "vocab_size": 500}, {"max_abs_difference": 1e-3}),
    "c": (INIT_GOOD, {"spread_zeros": 1e-3}),
    "d": (
        {"vocab_size": 500, "output_size": 500, "max_sum_error": 1e-7, "contexts": 100},
        {"output_size": 499},
    ),
    "e": (
        {
            "tagging_f1_uni": 0.4,
            "tagging_f1_bi": 0.9,
            "classification_accuracy_uni": 0.6,
            "classification_accuracy_bi": 0.95,
        },
        {"classification_accuracy_bi": 0.61},
    ),
    "f": (MEMORY_GOOD, {"probe_lstm_n20": 0.25}),
    "g": (
        {"max_dsigmoid": 0.25, "max_dtanh": 1.0, "ratio_rnn_sigmoid": 1e-4, "ratio_rnn_tanh": 0.1},
        {"ratio_rnn_sigmoid": 0.2},
    ),
    "h": (H_GOOD, {"tokens_per_s_gru": 800.0}),
    "i": (LR_GOOD, {"best_val_loss_large": 3.7}),
    "j": (
        {"ratio_rnn_relu": 0.5, "ratio_rnn_tanh": 0.01, "mse_rnn_relu": 0.1, "mse_rnn_tanh": 0.15},
        {"mse_rnn_relu": 0.2},
    ),
}


@pytest.mark.parametrize("claim_id", sorted(CASES))
def test_a_verdict_flips_with_the_measurement(claim_id: str) -> None:
    good, breaking = CASES[claim_id]
    judge = CLAIMS[claim_id]
    passed = judge(good, Produced())
    assert passed.verdict == REPRODUCED, passed.reason
    assert "FAILS" not in passed.reason
    failed = judge({**good, **breaking}, Produced())
    assert failed.verdict == NOT_REPRODUCED
    assert "FAILS" in failed.reason
    assert failed.criterion == passed.criterion and failed.quote_es  # stated, not computed


@pytest.mark.parametrize(
    "breaking",
    [
        {"adding_ratio_rnn_tanh_T10": 0.95},  # the vanilla RNN does not get worse with T
        # the gated cells do not beat it on the adding problem
        {"adding_ratio_lstm_T40": 0.5, "adding_ratio_gru_T40": 0.6},
        {"copy_ratio_rnn_tanh_T5": 1.0},  # nor on the copy problem
        {"copy_accuracy_gru_T20": 0.22},  # the gated cells recall no more digits
        {"copy_accuracy_rnn_tanh_T20": 0.45},
    ],
)
def test_every_part_of_the_memory_claim_can_fail_it(breaking: dict[str, Any]) -> None:
    claim = CLAIMS["f"]({**MEMORY_GOOD, **breaking}, Produced())
    assert claim.verdict == NOT_REPRODUCED
    assert claim.reason.count("FAILS") == 1, claim.reason


def test_the_memory_claim_reads_the_longest_copy_length() -> None:
    longer = {
        **MEMORY_GOOD,
        "copy_lengths": [5, 20, 40],
        "copy_ratio_rnn_tanh_T40": 1.0,
        "copy_accuracy_rnn_tanh_T40": 0.12,
        "copy_accuracy_lstm_T40": 0.13,
        "copy_accuracy_gru_T40": 0.14,
    }
    claim = CLAIMS["f"](longer, Produced())
    assert claim.verdict == NOT_REPRODUCED
    assert "copy T=40" in claim.reason


def test_a_diverged_learning_rate_counts_as_too_large() -> None:
    claim = CLAIMS["i"]({**LR_GOOD, "best_val_loss_large": math.inf}, Produced())
    assert claim.verdict == REPRODUCED


def test_applications_not_installed_are_reported_not_faked() -> None:
    statuses = {
        "status_next-word prediction": "finished",
        "status_text classification": "finished",
        "status_named entities": "finished",
        "status_seq2seq": "not installed",
        "status_image captioning": "no experiment",
    }
    claim = CLAIMS["k"](statuses, Produced())
    assert claim.verdict == NOT_AVAILABLE
    assert "seq2seq (not installed)" in claim.reason
    every = {key: "finished" for key in statuses}
    assert CLAIMS["k"](every, Produced()).verdict == REPRODUCED
    broken = {**every, "status_named entities": "failed"}
    assert CLAIMS["k"](broken, Produced()).verdict == NOT_REPRODUCED
