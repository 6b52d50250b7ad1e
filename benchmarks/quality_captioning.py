"""Quality of the captioning task on the generated Spanish shapes set's held-out combinations.

    python benchmarks/quality_captioning.py               # bahdanau and none, full size
    python benchmarks/quality_captioning.py --smoke       # tiny data, one epoch: the path only
    python benchmarks/quality_captioning.py --runs bahdanau model.hidden_size=128
    python benchmarks/quality_captioning.py --workdir /tmp/shapes   # keep the runs

Writes the shapes set (``plugins.tasks.captioning.shapes``) into a temporary work folder, trains
conf/experiment/shapes_captioning.yaml through ``pipeline.train.train`` there (its own MLflow
SQLite store and cache) with attention (bahdanau) and without (none), then captions every test
image, whose colour-shape pairs never occur in training, with greedy search and with beam
search. Prints, per run and search: corpus BLEU-4 (0-1, all references), the exact-match rate
(the caption equals one of the image's references), captions/s of the search, and the training
wall time; the target is BLEU-4 >= 0.9 with attention. Extra KEY=VALUE overrides apply to
every run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.runs import TrainedRun

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "conf/experiment/shapes_captioning.yaml"
TARGET = 0.9
RUNS = {"bahdanau": ("task.attention=bahdanau",), "none": ("task.attention=none",)}
SIZES = {"full": (3000, 300, 300), "smoke": (60, 12, 12)}


@dataclass
class Scores:
    bleu4: float
    exact: float
    captions_per_s: float


def train_one(data: dict[str, Path], overrides: list[str], threads: int) -> tuple[str, float]:
    """Train in the current folder; the run id and the wall time."""
    from pipeline.config import load_config
    from pipeline.plugins import default_registries
    from pipeline.train import train

    registries = default_registries()
    settings = [
        *(f"data.{split}={path}" for split, path in data.items()),
        f"tracking.uri=sqlite:///{Path.cwd() / 'mlflow.db'}",
        "trainer.progress_bar=false",
        f"trainer.threads={threads}",
        *overrides,
    ]
    cfg = load_config(CONFIG, settings, registries)
    start = time.perf_counter()
    result = train(cfg, registries=registries)
    return result.run_id, time.perf_counter() - start


def score(trained: TrainedRun, beam_size: int) -> Scores:
    """BLEU-4 and exact matches of the run's captions of every test image."""
    import torch

    from plugins.tasks.captioning.metrics import CaptionBleu

    task: Any = trained.task
    task.prepare_data(Path(trained.cfg.data.cache_dir))
    test = task.data["test"]
    bleu, exact, start = CaptionBleu(4), 0, time.perf_counter()
    for first in range(0, len(test), 50):
        images = test.images[first : first + 50]
        references = test.references[first : first + 50]
        with torch.no_grad():
            found = task.generate(trained.network, images, task.search(beam_size))
        texts = [task.caption_text(best[0]) for best in found]
        bleu.update(texts, references)
        exact += sum(text in refs for text, refs in zip(texts, references, strict=True))
    seconds = time.perf_counter() - start
    return Scores(float(bleu.compute()), exact / len(test), len(test) / seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=",".join(RUNS), help=f"subset of {', '.join(RUNS)}")
    parser.add_argument("--smoke", action="store_true", help="tiny data and 1 epoch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (trainer.threads)")
    parser.add_argument("--beam", type=int, default=5, help="beam width of the beam rows")
    parser.add_argument("--workdir", type=Path, help="keep the runs here (default: a temp folder)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    from pipeline.inference import load
    from plugins.tasks.captioning.shapes import write_shapes

    extra = ["trainer.max_epochs=1"] if args.smoke else []
    lines = []
    with tempfile.TemporaryDirectory(prefix="quality-captioning-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(workdir)
        data = write_shapes(Path("shapes"), *SIZES["smoke" if args.smoke else "full"])
        for name in args.runs.split(","):
            overrides = [*RUNS[name], *extra, *args.overrides]
            run_id, wall = train_one(data, overrides, args.threads)
            print(f"attention {name}: run {run_id} in {workdir}", flush=True)
            trained = load(run_id, f"sqlite:///{workdir.resolve() / 'mlflow.db'}")
            for search, beam in (("greedy", 1), (f"beam {args.beam}", args.beam)):
                s = score(trained, beam)
                verdict = "PASS" if s.bleu4 >= TARGET else "FAIL"
                target = f"target >= {TARGET} {verdict}" if name != "none" else "(comparison)"
                lines.append(
                    f"attention {name:<9} {search:<7} BLEU-4 {s.bleu4:.4f}  exact {s.exact:.3f}  "
                    f"{s.captions_per_s:7.1f} captions/s  train {wall:6.1f} s  {target}"
                )
                print(lines[-1], flush=True)
        os.chdir(ROOT)
    print("\nsummary (2 CPU cores shared with other work; wall times vary with the load):")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
