"""Cost of ``diagnostics.gradient_flow``: one training epoch of the demo config with and without.

    .venv/bin/python benchmarks/gradient_flow_overhead.py [--repeats R] [--every N]
        [--batches B] [--threads T]

In one process, alternating off/on R times, it trains ``conf/experiment/demo.yaml`` for one
epoch (``--batches`` training batches, default all) and times the training epoch alone (a
callback reads the wall and CPU clocks at epoch start and end; validation, testing and
start-up are outside). Prints the median seconds of each and the ratio on/off.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from lm_common import load, machine, median, quiet_libraries, summary

from pipeline.config import load_config
from pipeline.plugins import default_registries
from pipeline.train import train


class EpochClock(Callback):
    """Wall and CPU seconds of each training epoch."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.wall.append(time.perf_counter() - self._start[0])
        self.cpu.append(time.process_time() - self._start[1])


def epoch_seconds(overrides: list[str], workdir: Path) -> tuple[float, float]:
    registries = default_registries()
    cfg = load_config(Path("conf/experiment/demo.yaml"), overrides, registries)
    clock = EpochClock()
    train(cfg, registries=registries, callbacks=[clock])
    return clock.wall[0], clock.cpu[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--every", type=int, default=10, help="diagnostics.every_n_batches")
    parser.add_argument("--batches", type=float, default=1.0, help="trainer.limit_train_batches")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    quiet_libraries()
    load_before = load()
    workdir = Path(tempfile.mkdtemp(prefix="gradient-flow-"))
    common = [
        "trainer.max_epochs=1",
        "trainer.progress_bar=false",
        f"trainer.threads={args.threads}",
        f"trainer.limit_train_batches={args.batches}",
        f"tracking.uri=sqlite:///{workdir}/mlflow.db",
        f"diagnostics.every_n_batches={args.every}",
    ]
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(args.repeats):
        for on in (False, True):
            times[on].append(epoch_seconds([*common, f"diagnostics.gradient_flow={on}"], workdir))
    lines = []
    for on in (False, True):
        wall, cpu = median([w for w, _ in times[on]]), median([c for _, c in times[on]])
        lines.append(f"gradient_flow={str(on).lower():<5}  wall {wall:7.2f} s  cpu {cpu:7.2f} s")
    for index, clock in enumerate(("wall", "cpu")):
        on, off = (median([t[index] for t in times[flag]]) for flag in (True, False))
        lines.append(f"ratio on/off ({clock}): {on / off:.3f}  (every {args.every} batches)")
    summary("diagnostics.gradient_flow overhead", [machine(args.threads)], load_before, lines)


if __name__ == "__main__":
    main()
