"""Two WikiText-2 recipes for the same 2x200 LSTM, each given the same wall-clock budget.

Usage::

    python benchmarks/lm_recipes.py [--minutes M] [--data DIR] [--recipes classic,fast]
                                    [--train-tokens N] [--eval-tokens N] [--workdir DIR]
                                    [KEY=VALUE ...]

Each recipe is one ``pipeline train CONFIG --json`` process, started as a user starts it, one
after the other (nothing else should run meanwhile), with ``trainer.max_minutes=M`` added:

- ``classic``: conf/experiment/wikitext2.yaml (Zaremba et al. 2014 scaled to 2x200: SGD lr 20
  divided by 4 when validation stalls, clip 0.25, full softmax);
- ``fast``: conf/experiment/wikitext2_fast.yaml, the recipe this benchmark chose.

Times count from each process's start, so tokenising and start-up are in them. From each run's
MLflow store it reads the validation perplexity of every epoch (and of the last, partial epoch
the budget cut) with its time, and the test perplexity of the best checkpoint. It prints both
curves, the classic recipe's best validation perplexity and when it got there, when the fast
one first reached it (ratio, target <= 0.7), the wall time of each whole process, and the test
perplexities (fast/classic, target <= 0.9). ``--train-tokens`` and ``--eval-tokens`` train on
the first lines of WikiText-2 instead. Extra KEY=VALUE overrides apply to every recipe (a
smoke run: ``--minutes 0.3 --train-tokens 30000 --eval-tokens 5000
task.adaptive_cutoffs=[500,2000]``, as the slice has a smaller vocabulary).

This is a benchmark: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lm_common import (
    DEFAULT_DATA,
    REPO,
    load,
    log,
    machine,
    summary,
    wikitext_files,
    wikitext_slice,
)

RECIPES = {
    "classic": REPO / "conf/experiment/wikitext2.yaml",
    "fast": REPO / "conf/experiment/wikitext2_fast.yaml",
}
TIME_TARGET = 0.7
"""fast's time to classic's best validation perplexity, as a fraction of classic's."""
TEST_TARGET = 0.9
"""fast's test perplexity within the same budget, as a fraction of classic's."""


@dataclass(frozen=True)
class Outcome:
    """One recipe's run: validation perplexity by time, test perplexity, wall seconds."""

    name: str
    curve: list[tuple[float, int, float]]  # (seconds since the process started, epoch, val ppl)
    test_ppl: float
    wall: float
    load_before: str

    @property
    def best(self) -> tuple[float, int, float]:
        """The first point of the curve at its lowest perplexity."""
        return min(self.curve, key=lambda point: (point[2], point[0]))

    def first_reaching(self, ppl: float) -> float | None:
        """Seconds until validation perplexity first fell to ppl or below; None if never."""
        return next((seconds for seconds, _, value in self.curve if value <= ppl), None)


def train(name: str, files: dict[str, Path], args: argparse.Namespace, workdir: Path) -> Outcome:
    """One recipe as a user runs it; its log goes to workdir/NAME.log."""
    store = f"sqlite:///{workdir / 'mlflow.db'}"
    command = [
        str(Path(sys.executable).with_name("pipeline")),
        "train",
        str(RECIPES[name]),
        *(f"data.{split}={path}" for split, path in files.items()),
        f"trainer.max_minutes={args.minutes}",
        f"tracking.uri={store}",
        f"tracking.run_name={name}",
        *args.overrides,
        "--json",
    ]
    load_before = load()
    log(f"{name}: {' '.join(command[1:3])} trainer.max_minutes={args.minutes} ... ({load_before})")
    start = time.time()
    with (workdir / f"{name}.log").open("w") as errors:
        done = subprocess.run(
            command, cwd=workdir, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    wall = time.time() - start
    if done.returncode:
        raise SystemExit(f"{name} failed ({done.returncode}); see {workdir / f'{name}.log'}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    from mlflow.tracking import MlflowClient

    history = MlflowClient(store).get_metric_history(result["run_id"], "val_ppl")
    curve = sorted((m.timestamp / 1000 - start, m.step, m.value) for m in history)
    return Outcome(name, curve, float(result["metrics"]["test_ppl"]), wall, load_before)


def report(outcome: Outcome) -> None:
    log(f"{outcome.name}: validation perplexity by time (load before: {outcome.load_before})")
    for seconds, epoch, ppl in outcome.curve:
        log(f"  {seconds:8.1f} s  epoch {epoch:3d}  val ppl {ppl:9.2f}")
    log(f"  test ppl {outcome.test_ppl:.2f}, whole process {outcome.wall:.1f} s")


def comparison(classic: Outcome, fast: Outcome) -> list[str]:
    """The two targets' lines: time to classic's best validation, and test at equal budget."""
    seconds, epoch, best = classic.best
    reached = fast.first_reaching(best)
    lines = [
        f"classic: best val ppl {best:.2f} at {seconds:.1f} s (epoch {epoch}), test ppl "
        f"{classic.test_ppl:.2f}, whole process {classic.wall:.1f} s",
        f"fast: best val ppl {fast.best[2]:.2f}, test ppl {fast.test_ppl:.2f}, whole process "
        f"{fast.wall:.1f} s",
    ]
    if reached is None:
        lines.append(f"fast never reached val ppl {best:.2f} (target <= {TIME_TARGET}: NOT met)")
    else:
        ratio = reached / seconds
        lines.append(
            f"fast reached val ppl {best:.2f} at {reached:.1f} s: ratio {ratio:.3f} "
            f"({at_most(ratio, TIME_TARGET)})"
        )
    ratio = fast.test_ppl / classic.test_ppl
    lines.append(f"test ppl fast/classic {ratio:.3f} ({at_most(ratio, TEST_TARGET)})")
    return lines


def at_most(ratio: float, target: float) -> str:
    return f"target <= {target}: {'met' if ratio <= target else 'NOT met'}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="budget of each recipe")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="WikiText-2 folder")
    parser.add_argument("--recipes", default="classic,fast", help="of: classic,fast")
    parser.add_argument("--train-tokens", type=int, default=0, help="0: all of train")
    parser.add_argument("--eval-tokens", type=int, default=0, help="0: all of val and test")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE for every recipe")
    args = parser.parse_args(argv)
    args.recipes = args.recipes.split(",")
    if unknown := set(args.recipes) - set(RECIPES):
        parser.error(f"--recipes: unknown {', '.join(sorted(unknown))}; allowed: classic,fast")
    return args


def corpus(args: argparse.Namespace, workdir: Path) -> dict[str, Path]:
    """WikiText-2 itself, or the slices --train-tokens/--eval-tokens ask for."""
    if args.train_tokens or args.eval_tokens:
        return wikitext_slice(args.data, workdir / "slice", args.train_tokens, args.eval_tokens)
    files = wikitext_files(args.data.expanduser().resolve())
    if files is None:
        raise SystemExit(f"{args.data} has no WikiText-2 files; pass --data DIR")
    return files


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lm-recipes-"))
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = load()
    files = corpus(args, workdir)
    outcomes = {name: train(name, files, args, workdir) for name in args.recipes}
    for outcome in outcomes.values():
        report(outcome)
    header = [machine(0), f"budget {args.minutes} min per recipe, workdir {workdir}"]
    lines = [f"data: {', '.join(str(path) for path in files.values())}"]
    if {"classic", "fast"} <= outcomes.keys():
        lines += comparison(outcomes["classic"], outcomes["fast"])
    summary("lm_recipes", header, load_before, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
