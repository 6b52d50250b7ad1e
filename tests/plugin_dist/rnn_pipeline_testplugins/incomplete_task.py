"""A task plugin that imports fine but forgot ``predict`` (breaks the Task contract)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from pipeline.components import Components
from pipeline.interfaces import DataFacts, StepResult, Task


@dataclass
class IncompleteOptions:
    pass


class IncompleteTask(Task):
    """Everything but ``predict``: loading it must name the missing method."""

    Options = IncompleteOptions

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        return DataFacts()

    def save_artifacts(self, directory: Path) -> None:
        return None

    def load_artifacts(self, directory: Path) -> None:
        return None

    def build_network(self, components: Components) -> nn.Module:
        return nn.Identity()

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> list[Any]:
        return []

    def metrics(self) -> dict[str, Any]:
        return {}

    def step(self, network: nn.Module, batch: Any, carry: Any, metrics: dict) -> StepResult:
        return StepResult(loss=network(batch).sum())
