"""What the quality scripts share: data paths from the repository root, one timed training."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train", "validation", "test")


def data_overrides(config: Path) -> list[str]:
    """The config's relative data file paths made absolute from the repository root."""
    from pipeline.config import load_config

    data = load_config(config).data
    return [
        f"data.{split}={(ROOT / path).resolve()}"
        for split in SPLITS
        if (path := getattr(data, split)) is not None and not Path(path).is_absolute()
    ]


def timed_train(config: Path, overrides: Sequence[str], threads: int) -> tuple[Any, float]:
    """Train config with overrides in the current folder (its own mlflow.db), no progress
    bar, ``threads`` torch threads; the TrainResult and the wall seconds of ``train``."""
    from pipeline.config import load_config
    from pipeline.plugins import default_registries
    from pipeline.train import train

    registries = default_registries()
    settings = [
        f"tracking.uri=sqlite:///{Path.cwd() / 'mlflow.db'}",
        "trainer.progress_bar=false",
        f"trainer.threads={threads}",
        *overrides,
    ]
    cfg = load_config(config, settings, registries)
    start = time.perf_counter()
    result = train(cfg, registries=registries)
    return result, time.perf_counter() - start
