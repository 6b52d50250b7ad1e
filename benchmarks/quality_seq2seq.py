"""Quality of the seq2seq task: Multi30k German to English and Tatoeba Spanish to English.

    python benchmarks/quality_seq2seq.py                      # all runs (hours on 2 CPU cores)
    python benchmarks/quality_seq2seq.py --runs bahdanau,none trainer.max_epochs=8
    python benchmarks/quality_seq2seq.py --smoke              # every code path in ~1 minute

Runs (``--runs``): ``bahdanau`` (conf/experiment/multi30k_de_en.yaml as it is), ``luong`` and
``none`` (the same with ``task.attention`` changed: the plain encoder-decoder whose fixed-size
summary is the lecture's bottleneck), ``tatoeba`` (conf/experiment/tatoeba_es_en.yaml). Each is
trained through ``pipeline.train.train`` in a temporary work folder (its own MLflow store and
token cache; data paths are read relative to the repository root); then its best weights
translate the test split (Multi30k: test_2016_flickr) greedily and with beam 5, and the script
prints sacrebleu's corpus BLEU (detokenised) of each, decoding sentences/s, wall time of the
training, trainable parameters, and the beam BLEU per source-length bucket (words), where the
attention-free model should fall behind most on long sentences. Target: Multi30k beam BLEU
>= 30 (anchor: 28.3 greedy for a BiGRU with Bahdanau attention, bentrevett/pytorch-seq2seq).

``--smoke`` trains each run for one short epoch of a tiny model on generated reversal pairs
(plugins/tasks/seq2seq/toy_data.py) instead of the corpora: it checks the script, not quality.
Extra KEY=VALUE overrides apply to every run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quality_common import ROOT, data_overrides, timed_train

MULTI30K, TATOEBA = "conf/experiment/multi30k_de_en.yaml", "conf/experiment/tatoeba_es_en.yaml"
BUCKETS = ((1, 10), (11, 15), (16, 20), (21, 1000))
"""Source lengths in words (whitespace-separated) of the BLEU-by-length table."""
SMOKE = (
    "model.embedding_size=16",
    "model.hidden_size=16",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "tokenizer.kind=word",
    "task.format=tsv",
    "task.source_column=source",
    "task.target_column=target",
    "task.source_lang=null",
    "task.target_lang=null",
    "task.val_bleu_sentences=8",
    "model.runner=eager",  # no compile time: the smoke checks the script
)


@dataclass(frozen=True)
class Run:
    name: str
    config: str
    overrides: tuple[str, ...] = ()
    target: float = 0.0


RUNS = {
    "bahdanau": Run("multi30k bahdanau", MULTI30K, (), 30.0),
    "luong": Run("multi30k luong", MULTI30K, ("task.attention=luong",)),
    "none": Run("multi30k no attention", MULTI30K, ("task.attention=none",)),
    "tatoeba": Run("tatoeba es-en", TATOEBA),
}


def smoke_or_data_overrides(config: Path, smoke: Path | None) -> list[str]:
    """The config's data paths made absolute from the repository root, or the smoke data."""
    if smoke is not None:
        return [
            f"data.{split}={smoke / f'{split}.tsv'}" for split in ("train", "validation", "test")
        ]
    return data_overrides(config)


def train_one(run: Run, extra: Sequence[str], threads: int, smoke: Path | None) -> Any:
    """Train run in the current folder; returns (TrainResult, wall seconds)."""
    config = ROOT / run.config
    overrides = [
        *smoke_or_data_overrides(config, smoke),
        *run.overrides,
        *(SMOKE if smoke else ()),
        *extra,
    ]
    return timed_train(config, overrides, threads)


def loaded(result: Any) -> Any:
    """The run's best weights and task, with its data prepared (a ``TrainedRun``)."""
    from pipeline.inference import load

    trained = load(result.run_id, result.tracking_uri)
    trained.task.prepare_data(Path(trained.cfg.data.cache_dir))
    trained.network.eval()
    return trained


def decode_test(trained: Any, beam: int) -> tuple[list[str], float]:
    """The best translation of every test source with that beam, and sentences/s."""
    from plugins.tasks.seq2seq.reports import test_hypotheses

    task, test = trained.task, trained.task.data["test"]
    start = time.perf_counter()
    batch = trained.cfg.data.eval_batch_size
    hypotheses = test_hypotheses(trained.network, task.fitted, test, task.search(beam), batch)
    return hypotheses, len(test) / (time.perf_counter() - start)


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def bucket_bleu(sources: Sequence[str], hypotheses: Sequence[str], refs: Sequence[str]) -> str:
    """BLEU of each source-length bucket, e.g. ``1-10: 34.1 (612)``."""
    parts = []
    for low, high in BUCKETS:
        chosen = [i for i, source in enumerate(sources) if low <= len(source.split()) <= high]
        if chosen:
            score = bleu([hypotheses[i] for i in chosen], [refs[i] for i in chosen])
            parts.append(f"{low}-{high if high < 1000 else ''}: {score:.1f} ({len(chosen)})")
    return "  ".join(parts)


def evaluate_run(run: Run, extra: Sequence[str], threads: int, smoke: Path | None) -> str:
    result, wall = train_one(run, extra, threads, smoke)
    trained = loaded(result)
    test = trained.task.data["test"]
    sources, references = test.sources, test.references
    greedy, greedy_speed = decode_test(trained, 1)
    beam, beam_speed = decode_test(trained, 5)
    beam_bleu = bleu(beam, references)
    verdict = f"target >= {run.target:.0f} {'PASS' if beam_bleu >= run.target else 'FAIL'}"
    return (
        f"{run.name:<22} BLEU greedy {bleu(greedy, references):5.2f} ({greedy_speed:6.1f} sent/s)"
        f"  beam5 {beam_bleu:5.2f} ({beam_speed:6.1f} sent/s)  logged test_bleu "
        f"{result.metrics.get('test_bleu', float('nan')):5.2f}  params {parameters(result):,}"
        f"  train {wall:7.1f} s  {verdict if run.target else '(comparison)'}\n"
        f"{'':<22} beam5 BLEU by source words: {bucket_bleu(sources, beam, references)}"
    )


def parameters(result: Any) -> int:
    from mlflow.tracking import MlflowClient

    params = MlflowClient(result.tracking_uri).get_run(result.run_id).data.params
    return int(params["model.trainable_parameters"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=",".join(RUNS), help=f"subset of {', '.join(RUNS)}")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (trainer.threads)")
    parser.add_argument("--smoke", action="store_true", help="tiny generated data, one epoch")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    runs = [RUNS[name] for name in args.runs.split(",")]
    lines = []
    with tempfile.TemporaryDirectory(prefix="quality-seq2seq-") as workdir:
        os.chdir(workdir)
        smoke = None
        if args.smoke:
            from plugins.tasks.seq2seq.toy_data import write_reversal_pairs

            smoke = write_reversal_pairs(
                Path(workdir, "smoke"), {"train": 200, "validation": 20, "test": 40}, max_length=25
            )["train"].parent
        for run in runs:
            lines.append(evaluate_run(run, args.overrides, args.threads, smoke))
            print(lines[-1], flush=True)
        os.chdir(ROOT)
    print("\nsummary (2 CPU cores shared with other work; wall times vary with the load):")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
