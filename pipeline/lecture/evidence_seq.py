"""Evidence of the claims on other tasks (e, f, g, j, k): bidirectional tagging and
classification, the adding and copy problems by T, the Pontevedra probe, gradient flow by cell, and
every application's run. Each ``gather_x(lab)`` returns the evidence and what it produced."""

from __future__ import annotations

from pipeline.config import deep_merge
from pipeline.lecture import figures, measure
from pipeline.lecture.claims import APPLICATIONS
from pipeline.lecture.lab import Lab, LabRun
from pipeline.lecture.record import Evidence, Produced
from pipeline.plugins import PluginError
from pipeline.tracking import Tracker

MEMORY_CELLS = ("rnn_tanh", "lstm", "gru")
PROBE_CELLS = ("rnn_tanh", "lstm")
APPLICATION_RUNS = {
    "language_model": "a",
    "classification": "e",
    "tagging": "e",
    "seq2seq": "k",
    "captioning": "k",
}
"""Task -> the claim whose run shows it."""


def gather_e(lab: Lab) -> tuple[Evidence, Produced]:
    evidence: Evidence = {}
    runs = []
    for task, metric in (("tagging", "f1"), ("classification", "accuracy")):
        for directions in ("uni", "bi"):
            run = _application_run(lab, task, "e", bidirectional=directions == "bi")
            runs.append(run.run_id)
            evidence[f"{task}_{metric}_{directions}"] = run.metrics[f"test_{metric}"]
    panels = {
        name: {d: evidence[f"{name}_{d}"] for d in ("uni", "bi")}
        for name in ("tagging_f1", "classification_accuracy")
    }
    figure = figures.bars(panels, lab.out / "figures" / "e.png")
    return evidence, Produced((figure,), tuple(runs))


def _application_run(lab: Lab, task: str, claim: str, bidirectional: bool = True) -> LabRun:
    directions = "bi" if bidirectional else "uni"
    if task == "language_model":
        return lab.train("lm_lstm", claim, lab.lm())
    if task == "seq2seq":
        return lab.train("seq2seq", claim, lab.seq2seq())
    if task == "captioning":
        return lab.train("captioning", claim, lab.captioning())
    if task == "tagging":
        return lab.train(f"tagging_{directions}", claim, lab.tagging(bidirectional))
    return lab.train(f"classification_{directions}", claim, lab.classification(bidirectional))


def long_range_run(lab: Lab, claim: str, problem: str, cell: str, length: int) -> LabRun:
    """The adding or copy problem's run of cell at T = length."""
    changes = lab.adding(cell, length) if problem == "adding" else lab.copy(cell, length)
    return lab.train(f"{problem}_{cell}_T{length}", claim, changes)


def gather_f(lab: Lab) -> tuple[Evidence, Produced]:
    lengths, distances = lab.scale.lengths, lab.scale.probe_distances
    evidence: Evidence = {
        "lengths": list(lengths),
        "copy_lengths": list(lab.scale.copy_lengths),
        "distances": list(distances),
    }
    runs: list[str] = []
    ratios = _memory_runs(lab, "adding", lengths, evidence, runs)
    recalled = _memory_runs(lab, "copy", lab.scale.copy_lengths, evidence, runs)
    probes = {}
    for cell in PROBE_CELLS:
        run = probe_run(lab, cell)
        runs.append(run.run_id)
        probes[cell] = [run.metrics[f"probe_accuracy_n{n}"] for n in distances]
        evidence.update(
            {f"probe_{cell}_n{n}": a for n, a in zip(distances, probes[cell], strict=True)}
        )
    adding_title, probe_title = "adding: test MSE / trivial baseline", "Pontevedra probe accuracy"
    copy_title = "copy: digits recalled (chance 1/8)"
    figure = figures.curves(
        {adding_title: ratios, copy_title: recalled, probe_title: probes},
        lab.out / "figures" / "f.png",
        xs={adding_title: lengths, copy_title: lab.scale.copy_lengths, probe_title: distances},
        xlabel="T (adding, copy) / distance N (probe)",
    )
    return evidence, Produced((figure,), tuple(runs))


def _memory_runs(
    lab: Lab, problem: str, lengths: tuple[int, ...], evidence: Evidence, runs: list[str]
) -> dict[str, list[float]]:
    """Each memory cell's run of problem at each T: ``<problem>_ratio_<cell>_T<T>`` (test loss
    / trivial baseline) and ``<problem>_accuracy_...`` into evidence, run ids into runs.
    Returns per cell what the figure shows by T: adding the ratio, copy the accuracy."""
    shown: dict[str, list[float]] = {}
    for cell in MEMORY_CELLS:
        shown[cell] = []
        for length in lengths:
            run = long_range_run(lab, "f", problem, cell, length)
            runs.append(run.run_id)
            ratio = run.metrics["test_loss"] / run.metrics["test_baseline"]
            accuracy = run.metrics["test_accuracy"]
            evidence[f"{problem}_ratio_{cell}_T{length}"] = ratio
            evidence[f"{problem}_accuracy_{cell}_T{length}"] = accuracy
            shown[cell].append(ratio if problem == "adding" else accuracy)
    return shown


def probe_run(lab: Lab, cell: str) -> LabRun:
    """A language model trained on the Pontevedra corpus, probed by distance."""
    from plugins.tasks.language_model.pontevedra import train_and_probe

    key = f"probe_{cell}"
    if key in lab.runs:
        return lab.runs[key]
    scale = lab.scale
    # Truncated back-propagation learns a dependency only inside one window of task.bptt
    # steps: 3 x the longest distance puts both ends in one window two times in three.
    changes = deep_merge(
        lab.lm(cell=cell),
        {
            "task": {"bptt": 3 * max(scale.probe_distances)},
            "data": {"batch_size": 8},  # long windows, fewer streams: more updates per epoch
            "optim": {"lr": 0.01},
            "trainer": {"max_epochs": scale.probe_epochs},
        },
    )
    cfg = lab.config(changes)
    result = train_and_probe(
        cfg, lab.data / key, lab.registries, scale.probe_per_distance, scale.probe_distances
    )
    return lab.adopt(key, "f", result.run_id, cfg)


def _flow(
    lab: Lab, claim: str, cells: tuple[str, ...]
) -> tuple[Evidence, list[str], dict[str, list[float]]]:
    """Each cell's adding run at the longest T: gradient ratio t=1/t=T (last epoch), test
    MSE and its per-step profile."""
    length = max(lab.scale.lengths)
    tracker = Tracker(lab.tracking_uri)
    evidence: Evidence = {"length": length}
    runs, profiles = [], {}
    for cell in cells:
        run = long_range_run(lab, claim, "adding", cell, length)
        runs.append(run.run_id)
        history = tracker.metric_history(run.run_id, "grad_ratio_l0_first_last")
        evidence[f"ratio_{cell}"] = history[-1] if history else float("nan")
        evidence[f"mse_{cell}"] = run.metrics["test_loss"]
        profiles[cell] = measure.flow_profile(run.run_id)
    return evidence, runs, profiles


def gather_g(lab: Lab) -> tuple[Evidence, Produced]:
    evidence, runs, profiles = _flow(lab, "g", ("rnn_sigmoid", "rnn_tanh"))
    evidence.update(measure.derivative_maxima())
    flow_title = f"|dL/dh_t| / |dL/dh_T|, adding T={evidence['length']}"
    x = [i / 10 for i in range(-60, 61)]
    sigmoid = [measure.sigmoid_derivative(v) for v in x]
    tanh = [measure.tanh_derivative(v) for v in x]
    figure = figures.curves(
        {flow_title: profiles, "derivatives": {"sigmoid'": sigmoid, "tanh'": tanh}},
        lab.out / "figures" / "g.png",
        xs={"derivatives": x},
        log_panels=[flow_title],
        xlabel="time step t / x",
    )
    return evidence, Produced((figure,), tuple(runs))


def gather_j(lab: Lab) -> tuple[Evidence, Produced]:
    evidence, runs, profiles = _flow(lab, "j", ("rnn_relu", "rnn_tanh"))
    title = f"|dL/dh_t| / |dL/dh_T|, adding T={evidence['length']}"
    figure = figures.curves(
        {title: profiles}, lab.out / "figures" / "j.png", log_panels=[title], xlabel="time step t"
    )
    return evidence, Produced((figure,), tuple(runs))


def gather_k(lab: Lab) -> tuple[Evidence, Produced]:
    evidence: Evidence = {}
    runs = []
    tracker = Tracker(lab.tracking_uri)
    for application, task in APPLICATIONS.items():
        try:
            task_class = lab.registries.tasks.get(task)
        except PluginError:
            evidence[f"status_{application}"] = "not installed"
            continue
        if task not in APPLICATION_RUNS:
            evidence[f"status_{application}"] = "no experiment"
            continue
        run = _application_run(lab, task, "k")
        runs.append(run.run_id)
        status = tracker.get_run(run.run_id).info.status
        evidence[f"status_{application}"] = "finished" if status == "FINISHED" else "failed"
        evidence[f"run_{application}"] = run.run_id
        metric = task_class.monitor.replace("val_", "test_", 1)  # the task's own yardstick
        evidence[f"{metric}_{application}"] = run.metrics.get(metric, float("nan"))
    return evidence, Produced((), tuple(runs))
