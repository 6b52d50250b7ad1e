"""Evidence of the language-model claims (a, b, c, d, h, i): runs on the generated Spanish
news corpus, then measurements on their trained networks. Each ``gather_x(lab)`` returns the
claim's evidence and what it produced (figures, runs)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from torch import Tensor
from torch.nn import functional as F

from pipeline.config import deep_merge
from pipeline.inference import load
from pipeline.lecture import figures, measure
from pipeline.lecture.claims import INITS
from pipeline.lecture.lab import Lab, LabRun
from pipeline.lecture.record import Evidence, Produced
from pipeline.lecture.texts import GLOROT_PRINTED, GLOROT_SNIPPET
from pipeline.runs import TrainedRun
from pipeline.tracking import Tracker

PROMPT = "El gobierno aprobó un"
CONTEXTS = 50
"""Test sentences whose every position is checked (claims c, d)."""
LEARNING_RATES = {"small": 5e-5, "middle": 5e-3, "large": 0.5}
"""Adam's rates of claim i; the middle one is the language model every claim shares."""


def _lm_run(lab: Lab, claim: str) -> LabRun:
    return lab.train("lm_lstm", claim, lab.lm())


def _trained(lab: Lab, run: LabRun) -> TrainedRun:
    return load(run.run_id, lab.tracking_uri, lab.registries)


def _test_tokens(lab: Lab, trained: TrainedRun) -> Tensor:
    lines = Path(str(trained.cfg.data.test)).read_text(encoding="utf-8").splitlines()
    return measure.lm_token_ids(trained, lines[:CONTEXTS])


def _figure(lab: Lab, name: str) -> Path:
    return lab.out / "figures" / f"{name}.png"


def gather_a(lab: Lab) -> tuple[Evidence, Produced]:
    run = _lm_run(lab, "a")
    trained = _trained(lab, run)
    (prediction,) = trained.task.predict(trained.network, [PROMPT], top_k=5)
    ranked = {item["token"]: item["probability"] for item in prediction["next"]}
    evidence = {
        "vocab_size": len(trained.task.fitted_tokenizer),  # type: ignore[attr-defined]
        "top_words": ", ".join(f"{word} {p:.3f}" for word, p in ranked.items()),
        "top_probability": max(ranked.values()),
        "test_ppl": run.metrics["test_ppl"],
    }
    figure = figures.bars({f"P(next word | '{PROMPT}')": ranked}, _figure(lab, "a"))
    return evidence, Produced((figure,), (run.run_id,))


def gather_b(lab: Lab) -> tuple[Evidence, Produced]:
    run = _lm_run(lab, "b")
    trained = _trained(lab, run)
    error, vocab = measure.one_hot_error(trained.network)
    ids = measure.lm_token_ids(trained, [PROMPT])[0]  # (T,)
    weight = measure.embedding_of(trained.network).weight.detach()
    one_hot = F.one_hot(ids, vocab).float()
    panels = {
        f"one_hot('{PROMPT}') (T x |V|)": one_hot.numpy(),
        "one_hot @ E (T x d)": (one_hot @ weight).numpy(),
        "lookup E[x] (T x d)": weight[ids].numpy(),
    }
    figure = figures.matrices(panels, _figure(lab, "b"))
    evidence = {"max_abs_difference": error, "vocab_size": vocab, "dimension": weight.size(1)}
    return evidence, Produced((figure,), (run.run_id,))


def gather_d(lab: Lab) -> tuple[Evidence, Produced]:
    run = _lm_run(lab, "d")
    trained = _trained(lab, run)
    tokens = _test_tokens(lab, trained)
    size, error = measure.softmax_sums(trained.network, tokens)
    vocab = len(trained.task.fitted_tokenizer)  # type: ignore[attr-defined]
    logits, _ = trained.network(measure.lm_token_ids(trained, [PROMPT]))
    probabilities = F.softmax(logits[0, -1].detach(), -1).sort(descending=True).values
    title = f"softmax after '{PROMPT}': sum = {float(probabilities.sum()):.6f}"
    figure = figures.curves(
        {title: {"p by rank": probabilities.tolist()}},
        _figure(lab, "d"),
        log_panels=[title],
        xlabel="rank of the word",
    )
    evidence = {
        "vocab_size": vocab,
        "output_size": size,
        "max_sum_error": error,
        "contexts": tokens.numel(),
    }
    return evidence, Produced((figure,), (run.run_id,))


def gather_c(lab: Lab) -> tuple[Evidence, Produced]:
    evidence: Evidence = {}
    losses, starts, runs = {}, {}, []
    for name in INITS:
        groups = {g: name for g in ("embedding", "input", "recurrent", "output")}
        changes = deep_merge(lab.lm(), {"init": {**groups, "bias": "zeros"}})
        run = lab.train(f"lm_init_{name}", "c", changes)
        runs.append(run.run_id)
        trained = _trained(lab, run)
        evidence[f"spread_{name}"] = measure.hidden_spread(
            trained.network, _test_tokens(lab, trained)
        )
        losses[name] = Tracker(lab.tracking_uri).metric_history(run.run_id, "val_loss")
        evidence[f"val_loss_{name}"] = losses[name][-1]
        starts[name] = measure.step0_stats(lab.config(changes), lab.registries)
        evidence[f"step0_activation_std_{name}"] = starts[name]["activation_std"]
        evidence[f"step0_gradient_norm_{name}"] = starts[name]["gradient_norm"]
    evidence.update(snippet_evidence())
    curve = figures.curves({"val loss by initialisation": losses}, _figure(lab, "c_curves"))
    floor = 1e-12  # zeros' exact 0 on the log axis
    stats = figures.bars(
        {
            "step 0: std of h_t (+1e-12)": {
                n: s["activation_std"] + floor for n, s in starts.items()
            },
            "step 0: gradient norm": {n: s["gradient_norm"] + floor for n, s in starts.items()},
        },
        _figure(lab, "c_step0"),
        log=True,
    )
    return evidence, Produced((curve, stats), tuple(runs))


def snippet_evidence() -> Evidence:
    """Run the slide's numpy code and compare its matrix with the one the slide prints."""
    namespace: dict[str, object] = {}
    exec(compile(GLOROT_SNIPPET.replace("print(weights)", ""), "slide", "exec"), namespace)
    weights = np.asarray(namespace["weights"])
    error = float(np.abs(weights - np.asarray(GLOROT_PRINTED)).max())
    return {"snippet_max_error": error, "snippet_limit": math.sqrt(6 / (2 + 2))}


def gather_h(lab: Lab) -> tuple[Evidence, Produced]:
    evidence: Evidence = {}
    runs = []
    for cell in ("lstm", "gru"):
        run = _lm_run(lab, "h") if cell == "lstm" else lab.train("lm_gru", "h", lab.lm(cell=cell))
        runs.append(run.run_id)
        network = _trained(lab, run).network
        evidence[f"gates_{cell}"] = measure.gates(network, lab.scale.hidden)
        evidence[f"params_{cell}"] = sum(p.numel() for p in network.parameters())
        evidence[f"multiply_adds_per_token_{cell}"] = measure.multiply_adds_per_token(network)
        evidence[f"tokens_per_s_{cell}"] = measure.tokens_per_second(
            network, lab.scale.throughput_batches
        )
        evidence[f"test_ppl_{cell}"] = run.metrics["test_ppl"]
    panels = {
        name: {cell: float(evidence[f"{key}_{cell}"]) for cell in ("lstm", "gru")}
        for key, name in (
            ("gates", "gates"),
            ("params", "parameters"),
            ("tokens_per_s", "tokens/s, recurrent layer"),
            ("test_ppl", "test perplexity"),
        )
    }
    return evidence, Produced((figures.bars(panels, _figure(lab, "h")),), tuple(runs))


def gather_i(lab: Lab) -> tuple[Evidence, Produced]:
    tracker = Tracker(lab.tracking_uri)
    evidence: Evidence = {"lrs": ", ".join(f"{k} {v:g}" for k, v in LEARNING_RATES.items())}
    curves, runs = {}, []
    for size, lr in LEARNING_RATES.items():
        if size == "middle":
            run = _lm_run(lab, "i")
        else:
            run = lab.train(f"lm_lr_{size}", "i", deep_merge(lab.lm(), {"optim": {"lr": lr}}))
        runs.append(run.run_id)
        history = tracker.metric_history(run.run_id, "val_loss")
        evidence[f"val_losses_{size}"] = history
        evidence[f"best_val_loss_{size}"] = min(filter(math.isfinite, history), default=math.inf)
        curves[f"lr {lr:g}"] = history
    figure = figures.curves({"val loss by learning rate (Adam)": curves}, _figure(lab, "i"))
    return evidence, Produced((figure,), tuple(runs))
