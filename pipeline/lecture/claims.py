"""One function per lecture claim: the evidence (measured numbers) judged against a criterion.

Each ``claim_x(evidence, produced) -> Claim`` reads the named numbers the runner measured,
checks the criterion stated in :data:`CRITERIA` and returns the Claim with its verdict. No
verdict is fixed in advance: the same function says "not reproduced" when the numbers fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from pipeline.lecture.record import (
    NOT_AVAILABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    Check,
    Claim,
    Evidence,
    Produced,
    verdict_of,
)
from pipeline.lecture.texts import QUOTES

INITS = ("zeros", "normal", "uniform", "xavier_uniform", "he_normal")
"""The initialisation schemes of claim c (every weight group; biases zero)."""
GATED = ("lstm", "gru")
APPLICATIONS = {
    "next-word prediction": "language_model",
    "text classification": "classification",
    "named entities": "tagging",
    "seq2seq": "seq2seq",
    "image captioning": "captioning",
}
"""Application -> the task that runs it (claim k)."""
SYMMETRY_TOLERANCE = 1e-6
BROKEN_SYMMETRY = 1e-3
ONE_HOT_TOLERANCE = 1e-6
SUM_TOLERANCE = 1e-5
BIDIRECTIONAL_GAIN = 0.02
MEMORY_FACTOR = 0.5
COPY_GAIN = 0.1
PROBE_GAIN = 0.1
GRU_QUALITY_SLACK = 1.10
LR_GAP = 0.3

CRITERIA = {
    "a": "after 'El gobierno aprobó un' the trained model's top word has probability at least "
    "10/|V| (ten times a uniform guess), and its test perplexity is below |V|/10",
    "b": f"one_hot(x) @ E equals the embedding lookup E[x] within {ONE_HOT_TOLERANCE:g} for "
    "every token x of the trained model's vocabulary",
    "c": f"zeros: the spread of h_t over hidden units stays <= {SYMMETRY_TOLERANCE:g} after "
    f"training (every unit identical) and its val loss is the worst; every random scheme: "
    f"spread > {BROKEN_SYMMETRY:g}; the slide's snippet prints its matrix within 1e-8",
    "d": f"softmax gives |V| probabilities whose sum is 1 within {SUM_TOLERANCE:g} for every "
    "test context",
    "e": f"one vs two directions at the same budget: the bidirectional model is at least "
    f"{BIDIRECTIONAL_GAIN} better in tagging test F1 and in classification test accuracy",
    "f": f"adding problem: rnn_tanh's test MSE over the trivial baseline grows from the shortest "
    f"to the longest T, and at the longest T the best of LSTM/GRU has at most {MEMORY_FACTOR} "
    f"times rnn_tanh's; copy problem: rnn_tanh's test cross-entropy over the memoryless "
    f"baseline 10 log 8 / (T + 20) grows from the shortest to the longest T, and at the longest "
    f"T the best of LSTM/GRU recalls a fraction of the digits at least {COPY_GAIN} above "
    f"rnn_tanh's; Pontevedra probe: at the longest distance LSTM's accuracy exceeds rnn_tanh's "
    f"by at least {PROBE_GAIN}",
    "g": "max sigmoid'(x) = 0.25 and max tanh'(x) = 1 (within 1e-6, on a grid), and the "
    "gradient at t = 1 relative to t = T (adding problem, last epoch) is smaller through "
    "rnn_sigmoid than through rnn_tanh",
    "h": "LSTM has 3 gates and GRU 2 (rows of the recurrent matrix / H - 1); GRU has fewer "
    "parameters and more tokens/s through its recurrent layer (forward + backward) than "
    "LSTM, and its test perplexity is "
    f"at most {GRU_QUALITY_SLACK:.2f} times LSTM's after the same epochs",
    "i": f"after the same epochs, the smallest rate's val loss is at least {LR_GAP} nats above "
    f"the middle rate's and still falling; the largest rate's best val loss is at least "
    f"{LR_GAP} nats above the middle rate's (or not finite)",
    "j": "on the adding problem at the longest T, rnn_relu's gradient at t = 1 relative to "
    "t = T is at least rnn_tanh's (it vanishes less) and its test MSE is at most rnn_tanh's",
    "k": "every application's task is registered and its lecture run finished; applications "
    "whose task is not installed are reported as not available",
}


def _claim(claim_id: str, evidence: Evidence, produced: Produced, checks: list[Check]) -> Claim:
    verdict, reason = verdict_of(checks)
    return _record(claim_id, evidence, produced, verdict, reason)


def _record(
    claim_id: str, evidence: Evidence, produced: Produced, verdict: str, reason: str
) -> Claim:
    quote, gloss = QUOTES[claim_id]
    return Claim(
        claim_id,
        quote,
        gloss,
        CRITERIA[claim_id],
        verdict,
        reason,
        dict(evidence),
        produced.figures,
        produced.rerun,
        produced.run_ids,
    )


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def claim_a(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: vocab_size, top_probability, test_ppl (and top_words to show)."""
    vocab = evidence["vocab_size"]
    return _claim(
        "a",
        evidence,
        produced,
        [
            Check(
                f"top probability {evidence['top_probability']:.4f} >= 10/|V| = {10 / vocab:.4f}",
                evidence["top_probability"] >= 10 / vocab,
            ),
            Check(
                f"test perplexity {evidence['test_ppl']:.1f} < |V|/10 = {vocab / 10:.1f}",
                _finite(evidence["test_ppl"]) and evidence["test_ppl"] < vocab / 10,
            ),
        ],
    )


def claim_b(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: max_abs_difference, vocab_size."""
    error = evidence["max_abs_difference"]
    statement = f"max |one_hot(x) @ E - E[x]| = {error:.2e} over {evidence['vocab_size']} tokens"
    return _claim("b", evidence, produced, [Check(statement, error <= ONE_HOT_TOLERANCE)])


def claim_c(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: spread_<init>, val_loss_<init> for each of INITS, snippet_max_error."""
    zeros_loss = evidence["val_loss_zeros"]
    others = [name for name in INITS if name != "zeros"]
    checks = [
        Check(
            f"zeros: spread {evidence['spread_zeros']:.2e} <= {SYMMETRY_TOLERANCE:g}",
            evidence["spread_zeros"] <= SYMMETRY_TOLERANCE,
        ),
        Check(
            f"zeros: val loss {zeros_loss:.3f} is the worst",
            all(zeros_loss > evidence[f"val_loss_{name}"] for name in others),
        ),
        *(
            Check(
                f"{name}: spread {evidence[f'spread_{name}']:.3g} > {BROKEN_SYMMETRY:g}",
                evidence[f"spread_{name}"] > BROKEN_SYMMETRY,
            )
            for name in others
        ),
        Check(
            f"snippet: max error {evidence['snippet_max_error']:.1e} <= 1e-8",
            evidence["snippet_max_error"] <= 1e-8,
        ),
    ]
    return _claim("c", evidence, produced, checks)


def claim_d(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: vocab_size, output_size, max_sum_error, contexts."""
    checks = [
        Check(
            f"softmax size {evidence['output_size']} == |V| = {evidence['vocab_size']}",
            evidence["output_size"] == evidence["vocab_size"],
        ),
        Check(
            f"max |sum - 1| = {evidence['max_sum_error']:.1e} over {evidence['contexts']} contexts",
            evidence["max_sum_error"] <= SUM_TOLERANCE,
        ),
    ]
    return _claim("d", evidence, produced, checks)


def _gain(evidence: Evidence, metric: str) -> Check:
    uni, bi = evidence[f"{metric}_uni"], evidence[f"{metric}_bi"]
    return Check(
        f"{metric}: two directions {bi:.3f} vs one {uni:.3f}", bi >= uni + BIDIRECTIONAL_GAIN
    )


def claim_e(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: tagging_f1_uni/_bi, classification_accuracy_uni/_bi."""
    checks = [_gain(evidence, "tagging_f1"), _gain(evidence, "classification_accuracy")]
    return _claim("e", evidence, produced, checks)


def _forgets(evidence: Evidence, problem: str, lengths: Sequence[int]) -> Check:
    """rnn_tanh's test loss over the problem's trivial baseline grows with T."""
    short, long = min(lengths), max(lengths)
    at_short = evidence[f"{problem}_ratio_rnn_tanh_T{short}"]
    at_long = evidence[f"{problem}_ratio_rnn_tanh_T{long}"]
    return Check(
        f"{problem}: rnn_tanh loss/baseline {at_short:.3f} at T={short} < {at_long:.3f} at "
        f"T={long}",
        at_short < at_long,
    )


def claim_f(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: lengths, copy_lengths, distances; <problem>_ratio_<cell>_T<T> (test loss /
    trivial baseline) and <problem>_accuracy_<cell>_T<T> for problem adding and copy, cell
    rnn_tanh, lstm, gru; probe_<cell>_n<N> for rnn_tanh and lstm."""
    long = max(evidence["lengths"])
    tanh_long = evidence[f"adding_ratio_rnn_tanh_T{long}"]
    gated = min(evidence[f"adding_ratio_{cell}_T{long}"] for cell in GATED)
    copy_long = max(evidence["copy_lengths"])
    recalled_tanh = evidence[f"copy_accuracy_rnn_tanh_T{copy_long}"]
    recalled = max(evidence[f"copy_accuracy_{cell}_T{copy_long}"] for cell in GATED)
    far = max(evidence["distances"])
    probe_tanh, probe_lstm = evidence[f"probe_rnn_tanh_n{far}"], evidence[f"probe_lstm_n{far}"]
    checks = [
        _forgets(evidence, "adding", evidence["lengths"]),
        Check(
            f"adding T={long}: best gated {gated:.3f} <= {MEMORY_FACTOR} x rnn_tanh "
            f"{tanh_long:.3f}",
            gated <= MEMORY_FACTOR * tanh_long,
        ),
        _forgets(evidence, "copy", evidence["copy_lengths"]),
        Check(
            f"copy T={copy_long}: best gated recalls {recalled:.3f} >= rnn_tanh "
            f"{recalled_tanh:.3f} + {COPY_GAIN}",
            recalled >= recalled_tanh + COPY_GAIN,
        ),
        Check(
            f"probe at N={far}: LSTM {probe_lstm:.2f} >= rnn_tanh {probe_tanh:.2f} + {PROBE_GAIN}",
            probe_lstm >= probe_tanh + PROBE_GAIN,
        ),
    ]
    return _claim("f", evidence, produced, checks)


def claim_g(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: max_dsigmoid, max_dtanh, ratio_rnn_sigmoid, ratio_rnn_tanh."""
    sigmoid, tanh = evidence["ratio_rnn_sigmoid"], evidence["ratio_rnn_tanh"]
    checks = [
        Check(
            f"max sigmoid' = {evidence['max_dsigmoid']:.6f}",
            abs(evidence["max_dsigmoid"] - 0.25) <= 1e-6,
        ),
        Check(f"max tanh' = {evidence['max_dtanh']:.6f}", abs(evidence["max_dtanh"] - 1) <= 1e-6),
        Check(
            f"gradient ratio t=1/t=T: sigmoid {sigmoid:.2e} < tanh {tanh:.2e}",
            _finite(sigmoid) and _finite(tanh) and sigmoid < tanh,
        ),
    ]
    return _claim("g", evidence, produced, checks)


def claim_h(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: gates_/params_/tokens_per_s_/test_ppl_ + lstm and gru."""

    def pair(name: str) -> tuple[float, float]:
        return evidence[f"{name}_lstm"], evidence[f"{name}_gru"]

    (gl, gg), (pl, pg), (sl, sg), (ql, qg) = map(
        pair, ("gates", "params", "tokens_per_s", "test_ppl")
    )
    checks = [
        Check(f"gates: LSTM {gl}, GRU {gg}", (gl, gg) == (3, 2)),
        Check(f"parameters: GRU {pg} < LSTM {pl}", pg < pl),
        Check(f"tokens/s: GRU {sg:.0f} > LSTM {sl:.0f}", sg > sl),
        Check(
            f"test perplexity: GRU {qg:.1f} <= {GRU_QUALITY_SLACK:.2f} x LSTM {ql:.1f}",
            _finite(qg) and qg <= GRU_QUALITY_SLACK * ql,
        ),
    ]
    return _claim("h", evidence, produced, checks)


def claim_i(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: lrs (small, middle, large); val_losses_<k> per epoch and best_val_loss_<k> for
    k in small, middle, large."""
    small, middle = evidence["val_losses_small"], evidence["val_losses_middle"]
    best_large, best_middle = evidence["best_val_loss_large"], evidence["best_val_loss_middle"]
    still_falling = len(small) > 1 and small[-1] < small[-2]
    checks = [
        Check(
            f"small rate: val loss {small[-1]:.3f} vs middle {middle[-1]:.3f}, still falling: "
            f"{still_falling}",
            small[-1] >= middle[-1] + LR_GAP and still_falling,
        ),
        Check(
            f"large rate: best val loss {best_large:.3f} vs middle {best_middle:.3f}",
            not _finite(best_large) or best_large >= best_middle + LR_GAP,
        ),
    ]
    return _claim("i", evidence, produced, checks)


def claim_j(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: ratio_rnn_relu, ratio_rnn_tanh (gradient t=1/t=T), mse_rnn_relu, mse_rnn_tanh."""
    relu, tanh = evidence["ratio_rnn_relu"], evidence["ratio_rnn_tanh"]
    checks = [
        Check(
            f"gradient ratio: relu {relu:.2e} >= tanh {tanh:.2e}",
            _finite(relu) and _finite(tanh) and relu >= tanh,
        ),
        Check(
            f"test MSE: relu {evidence['mse_rnn_relu']:.4f} <= tanh {evidence['mse_rnn_tanh']:.4f}",
            evidence["mse_rnn_relu"] <= evidence["mse_rnn_tanh"],
        ),
    ]
    return _claim("j", evidence, produced, checks)


def claim_k(evidence: Evidence, produced: Produced) -> Claim:
    """Keys: status_<application> in {'finished', 'failed', 'not installed', 'no experiment'}."""
    statuses = {app: evidence[f"status_{app}"] for app in APPLICATIONS}
    missing = [
        app for app, status in statuses.items() if status in ("not installed", "no experiment")
    ]
    failed = [app for app, status in statuses.items() if status == "failed"]
    ran = [app for app, status in statuses.items() if status == "finished"]
    reason = f"finished: {', '.join(ran) or 'none'}"
    if missing:
        reason += "; not available: " + ", ".join(f"{a} ({statuses[a]})" for a in missing)
    if failed:
        reason += f"; failed: {', '.join(failed)}"
    verdict = NOT_REPRODUCED if failed else NOT_AVAILABLE if missing else REPRODUCED
    return _record("k", evidence, produced, verdict, reason)


CLAIMS: dict[str, Callable[[Evidence, Produced], Claim]] = {
    "a": claim_a,
    "b": claim_b,
    "c": claim_c,
    "d": claim_d,
    "e": claim_e,
    "f": claim_f,
    "g": claim_g,
    "h": claim_h,
    "i": claim_i,
    "j": claim_j,
    "k": claim_k,
}


def ids(selection: Sequence[str] | None = None) -> list[str]:
    """Claim ids in order: all, or the selected ones (unknown ids are the caller's check)."""
    return [c for c in CLAIMS if selection is None or c in selection]
