"""Every random state of a training, saved in its checkpoints, so a resumed run goes on exactly.

Saved with each checkpoint (as tensors, ints and lists, so ``weights_only=True`` loads them):
Python's ``random``, numpy's global generator, torch's CPU generator and every CUDA device's,
and the ``torch.Generator`` objects of the train loaders (a loader's own, its sampler's, its
batch sampler's sampler's), which hold the task's shuffling. A ``DistributedSampler`` needs
none: Lightning sets its epoch. Under DDP the states are rank 0's (Lightning saves rank 0's
checkpoint).

A resumed fit restores them at the start of its first epoch and then starts the epoch's loader
iterator afresh, since Lightning creates the first iterator before any epoch hook runs and
creating one draws from these generators. Exact for checkpoints saved at an epoch's end
(``last.ckpt`` between epochs); a checkpoint saved mid-epoch (Ctrl-C) resumes approximately.
"""

from __future__ import annotations

import random
from typing import Any, cast

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader


class RandomStates(Callback):
    """Save every random state with the checkpoint; restore it when a resumed fit starts."""

    def __init__(self) -> None:
        self.trainer: L.Trainer | None = None
        self.pending: dict[str, Any] | None = None

    def setup(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        self.trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        loaders = self.trainer.train_dataloader if self.trainer is not None else None
        return {
            "python": _python_state(),
            "numpy": _numpy_state(),
            "torch": torch.get_rng_state(),
            "cuda": _cuda_states(),
            "loaders": [generator.get_state() for generator in loader_generators(loaders)],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.pending = state_dict

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.pending is None:
            return
        state, self.pending = self.pending, None
        restore(state, trainer.train_dataloader)
        fetcher = trainer.fit_loop._data_fetcher  # Lightning made its iterator before restore
        if fetcher is not None:
            iter(fetcher)


def restore(state: dict[str, Any], loaders: Any) -> None:
    """Set every generator to the states that :meth:`RandomStates.state_dict` saved."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generators = loader_generators(loaders)
    if len(generators) != len(state["loaders"]):
        raise RuntimeError(
            f"the checkpoint holds {len(state['loaders'])} loader generator states, the train "
            f"loaders have {len(generators)}: was the task's data loading changed?"
        )
    for generator, saved in zip(generators, state["loaders"], strict=True):
        generator.set_state(saved)


def loader_generators(loaders: Any) -> list[torch.Generator]:
    """The distinct ``torch.Generator`` objects of the train loader(s), in a fixed order."""
    found: list[torch.Generator] = []
    for loader in _flat(loaders):
        batch_sampler = getattr(loader, "batch_sampler", None)
        for owner in (loader, loader.sampler, getattr(batch_sampler, "sampler", None)):
            generator = getattr(owner, "generator", None)
            if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
                found.append(generator)
    return found


def _flat(loaders: Any) -> list[DataLoader[Any]]:
    if isinstance(loaders, DataLoader):
        return [loaders]
    if isinstance(loaders, dict):
        return [item for value in loaders.values() for item in _flat(value)]
    if isinstance(loaders, list | tuple):
        return [item for value in loaders for item in _flat(value)]
    return []


def _python_state() -> tuple[int, list[int], float | None]:
    version, internal, gauss = random.getstate()
    return version, list(internal), gauss


def _numpy_state() -> tuple[torch.Tensor, int, int, float]:
    legacy = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state(legacy=True))
    _, keys, position, has_gauss, cached = legacy
    return torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)


def _cuda_states() -> list[torch.Tensor]:
    """Every CUDA device's generator state; none when CUDA was never used (never start it)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return list(torch.cuda.get_rng_state_all())
    return []
