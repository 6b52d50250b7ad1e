"""RandomStates: a fit resumed from an epoch's last.ckpt ends with the weights of one never stopped.

The module draws from every generator a task may use: dropout (torch, CUDA on a GPU), numpy and
Python noise, and a shuffling loader with its own torch.Generator.
"""

from __future__ import annotations

import random
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pipeline.random_states import RandomStates

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(
            not torch.cuda.is_available(), reason="CUDA generator states need a GPU"
        ),
    ),
]


class Noisy(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))

    def training_step(self, batch: list[torch.Tensor], index: int) -> torch.Tensor:
        x, y = batch
        noise = float(np.random.normal()) + random.random()  # numpy's and Python's generators
        return ((self.net(x).squeeze(1) - y) ** 2).mean() * (1.0 + 0.1 * noise)

    def train_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        data = torch.Generator().manual_seed(0)
        dataset = TensorDataset(torch.randn(64, 4, generator=data), torch.randn(64, generator=data))
        shuffle = torch.Generator().manual_seed(1)  # built anew by every fit, as tasks do
        return DataLoader(dataset, batch_size=8, shuffle=True, generator=shuffle)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)


def fit(folder: Path, device: str, epochs: int, states: bool, resume: Path | None = None) -> Noisy:
    L.seed_everything(7, verbose=False)
    module = Noisy()  # the same initial weights every time; a resume loads its own
    callbacks: list[Callback] = [ModelCheckpoint(dirpath=folder, save_last=True)]
    if states:
        callbacks.append(RandomStates())
    trainer = L.Trainer(
        accelerator=device,
        devices=1,
        max_epochs=epochs,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=folder,
    )
    trainer.fit(module, ckpt_path=resume, weights_only=True)
    return module


def weights(module: Noisy) -> list[torch.Tensor]:
    return [p.detach().cpu() for p in module.parameters()]


@pytest.mark.parametrize("device", DEVICES)
def test_a_resumed_fit_ends_with_the_weights_of_an_uninterrupted_one(
    tmp_path: Path, device: str
) -> None:
    whole = weights(fit(tmp_path / "whole", device, 3, states=True))
    fit(tmp_path / "cut", device, 1, states=True)
    resumed = fit(tmp_path / "cut", device, 3, states=True, resume=tmp_path / "cut/last.ckpt")
    assert all(torch.equal(a, b) for a, b in zip(whole, weights(resumed), strict=True))
    # Without the callback the same resume draws other numbers: the states are what matters.
    fit(tmp_path / "plain", device, 1, states=False)
    plain = fit(tmp_path / "plain", device, 3, states=False, resume=tmp_path / "plain/last.ckpt")
    assert not all(torch.equal(a, b) for a, b in zip(whole, weights(plain), strict=True))


def test_the_states_load_as_plain_data(tmp_path: Path) -> None:
    fit(tmp_path, "cpu", 1, states=True)
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)["callbacks"]["RandomStates"]
    assert set(saved) == {"python", "numpy", "torch", "cuda", "loaders"}
    assert len(saved["loaders"]) == 1  # the loader's shuffling generator
