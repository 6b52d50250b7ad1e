"""The ``prepare_data`` recipe every task follows, written once: cache key -> cached folder ->
artifacts (tokenizer, label maps) -> tensors per split -> facts file -> ``DataFacts``.

A task supplies the steps that are its own (:class:`Preparation`) and calls
:func:`prepare_cached`; the first run builds the cache folder, later runs (and the other DDP
ranks) reuse it::

    class MyTask(Task):
        def cache_key(self) -> dict[str, Any]:
            return task_cache_key("my_task", self.cfg, options=[self.options.scheme])

        def read_splits(self) -> Splits[Sentence]:
            return read_splits(self.cfg.data, self.cfg.seed, read_file, read_dataset)

        def fit(self, splits: Splits[Sentence]) -> None:  # vocabularies from train
            self.tokenizer = build_tokenizer(self.cfg.tokenizer)
            self.tokenizer.fit([" ".join(s.words) for s in splits.examples["train"]])

        def encode(self, split: str, examples: list[Sentence]) -> Encoded:
            ids = ...  # tensors of one split
            return Encoded(ids, {f"{split}_sentences": len(examples)})

        def prepare_data(self, cache_dir: Path) -> DataFacts:
            prepared = prepare_cached(self, cache_dir, loaded=self.tokenizer is not None)
            self.encoded = prepared.tensors  # keyed by train, val, test
            return prepared.facts(vocabulary=len(self.tokenizer))

``save_artifacts``/``load_artifacts`` are the task's own (the ``Task`` contract): the build
saves the artifacts into the cache folder, and a task that has none loaded yet reads them back.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import torch

from pipeline.cache import cached_dir
from pipeline.data import LOADER_SPLITS, Splits, fingerprint
from pipeline.interfaces import DataFacts

if TYPE_CHECKING:
    from pipeline.config import Config

__all__ = ["Encoded", "Prepared", "Preparation", "prepare_cached", "task_cache_key"]

FACTS_FILE = "facts.json"
E = TypeVar("E")


@dataclass
class Encoded:
    """One split as the task encoded it, and what to report about it."""

    tensors: Any
    """What ``torch.save`` stores: a tensor, or a dict/list of tensors."""
    sizes: dict[str, int]
    """Logged as ``data.size.<key>``; name keys after the split, e.g. ``validation_tokens``."""


@dataclass
class Prepared:
    """The cached data of a run: tensors per loader split, and the facts of the build."""

    directory: Path
    tensors: dict[str, Any]
    """Keyed by ``Task.dataloader``'s split names: ``train``, ``val``, ``test``."""
    sizes: dict[str, int] = field(default_factory=dict)
    carved: list[str] = field(default_factory=list)

    def facts(self, extra: dict[str, Any] | None = None, **sizes: int) -> DataFacts:
        """DataFacts of the build's sizes plus ``sizes`` (e.g. ``vocabulary=...``), the carved
        splits (param ``data.carved``) and ``extra`` params."""
        carved = {"data.carved": ",".join(self.carved)}
        return DataFacts(sizes={**sizes, **self.sizes}, extra={**carved, **(extra or {})})


class Preparation(Protocol[E]):
    """The task's own steps of :func:`prepare_cached` (a ``Task`` implements them itself)."""

    def cache_key(self) -> dict[str, Any]:
        """Everything the tensors depend on (see :func:`task_cache_key`)."""
        ...

    def read_splits(self) -> Splits[E]:
        """Examples of train, validation and test (usually ``pipeline.data.read_splits``)."""
        ...

    def fit(self, splits: Splits[E]) -> None:
        """Fit tokenizer and label maps on the splits (train), unless they are loaded."""
        ...

    def save_artifacts(self, directory: Path) -> None:
        """The ``Task`` method: what prediction needs besides weights."""
        ...

    def load_artifacts(self, directory: Path) -> None:
        """The ``Task`` method: read back what ``save_artifacts`` wrote."""
        ...

    def encode(self, split: str, examples: list[E]) -> Encoded:
        """Tensors of one data split (``train``, ``validation`` or ``test``)."""
        ...


def task_cache_key(task: str, cfg: Config, **more: Any) -> dict[str, Any]:
    """The usual cache key: task name, data fingerprint, seed (carving), tokenizer settings,
    and ``more`` (the task's options that change the tensors, a format version)."""
    return {
        "task": task,
        "data": fingerprint(cfg.data),
        "seed": cfg.seed,
        "tokenizer": dataclasses.asdict(cfg.tokenizer),
        **more,
    }


def prepare_cached(task: Preparation[Any], cache_dir: Path, loaded: bool = False) -> Prepared:
    """Build (once) or reuse the cache folder of ``task.cache_key()`` and load its tensors.

    ``loaded``: the task's artifacts are already in memory (a resumed or evaluated run): the
    build encodes with them and they are not read back from the cache.
    """
    directory, _ = cached_dir(cache_dir, task.cache_key(), lambda into: _build(task, into))
    if not loaded:
        task.load_artifacts(directory)
    facts = json.loads((directory / FACTS_FILE).read_text(encoding="utf-8"))
    tensors = {
        split: torch.load(directory / f"{split}.pt", weights_only=True) for split in LOADER_SPLITS
    }
    return Prepared(directory, tensors, facts["sizes"], facts["carved"])


def _build(task: Preparation[Any], directory: Path) -> None:
    """The cache build: read, fit, save the artifacts, encode and save each split, facts."""
    splits = task.read_splits()
    task.fit(splits)
    task.save_artifacts(directory)
    sizes: dict[str, int] = {}
    for split, name in LOADER_SPLITS.items():
        encoded = task.encode(name, splits.examples[name])
        torch.save(encoded.tensors, directory / f"{split}.pt")
        sizes.update(encoded.sizes)
    facts = {"sizes": sizes, "carved": splits.carved}
    (directory / FACTS_FILE).write_text(json.dumps(facts), encoding="utf-8")
