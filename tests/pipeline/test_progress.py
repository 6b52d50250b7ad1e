"""The time-based progress bar: redraws bounded by time, the loss read only when it redraws."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pipeline.cli import main
from pipeline.progress import TimedProgressBar

BATCHES = 40


class Regression(L.LightningModule):
    """A linear model that remembers its last training loss and logs val_loss to the bar."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 1)
        self.last_loss = float("nan")

    def _loss(self, batch: list[torch.Tensor]) -> torch.Tensor:
        inputs, targets = batch
        return nn.functional.mse_loss(self.layer(inputs), targets)

    def training_step(self, batch: list[torch.Tensor], batch_index: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.last_loss = loss.item()
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_index: int) -> None:
        self.log("val_loss", self._loss(batch), prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def _loader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(0)
        inputs = torch.randn(BATCHES * 2, 4, generator=generator)
        return DataLoader(TensorDataset(inputs, inputs.sum(1, keepdim=True)), batch_size=2)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()


def fit(interval: float, tmp_path: Path, capsys: pytest.CaptureFixture) -> tuple[str, Regression]:
    """Two epochs with the bar redrawing at most every interval seconds; returns its output."""
    module = Regression()
    trainer = L.Trainer(
        max_epochs=2,
        callbacks=[TimedProgressBar(interval)],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    capsys.readouterr()
    trainer.fit(module)
    captured = capsys.readouterr()
    return captured.out + captured.err, module


def draws(output: str, description: str) -> int:
    """How many times a bar with this description was drawn (tqdm starts each with \\r)."""
    return sum(segment.startswith(description) for segment in output.split("\r"))


def epoch_lines(output: str, description: str) -> list[str]:
    """Every drawing of the bar with this description, in order."""
    return [line for line in output.replace("\r", "\n").splitlines() if description in line]


def test_redraws_are_bounded_by_time_not_batches(tmp_path: Path, capsys) -> None:
    slow, _ = fit(3600.0, tmp_path, capsys)
    every, _ = fit(0.0, tmp_path, capsys)
    assert draws(every, "Epoch 0") >= BATCHES  # interval 0: a redraw at every batch
    assert draws(slow, "Epoch 0") <= 4  # opened, finished, closed: whatever the batch count


def test_shows_the_last_loss_and_the_validation_metrics(tmp_path: Path, capsys) -> None:
    output, module = fit(3600.0, tmp_path, capsys)
    final = epoch_lines(output, "Epoch 1")[-1]
    assert f"loss={module.last_loss:.4g}" in final
    assert "val_loss=" in final


@pytest.mark.slow
def test_default_cli_training_draws_the_timed_bar(lm_config: Path, capsys) -> None:
    """`pipeline train` with trainer.progress_bar=true (the default) shows this bar on stderr."""
    capsys.readouterr()
    assert main(["train", str(lm_config), "trainer.progress_bar=true", "--json"]) == 0
    captured = capsys.readouterr()
    assert "test_ppl" in json.loads(captured.out)["metrics"]
    final = epoch_lines(captured.err, "Epoch 1")
    assert final and "loss=" in final[-1] and "val_ppl=" in final[-1]
