"""``check_task``: a task through the life cycle of ``train`` and ``predict`` (DDP in ddp.py)."""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.testing.clauses import Notes, fail, require
from pipeline.testing.ddp import check_ddp

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config
    from pipeline.plugins import Registries

__all__ = ["check_task"]


def check_task(
    task_class: type[Task],
    cfg: Config,
    texts: Sequence[str],
    *,
    steps: int = 30,
    cache_dir: str | Path | None = None,
    registries: Registries | None = None,
    ddp: bool = True,
) -> Notes:
    """Check a task against the Task contract of :mod:`pipeline.interfaces`.

    ``cfg`` is a pipeline Config (e.g. from ``pipeline.config.load_config(path, overrides,
    registries)``) that points at tiny data you provide; keep the model tiny. ``texts`` are raw
    inputs for :meth:`Task.predict`. Checked: the class implements every abstract method of
    ``Task``; ``prepare_data`` into a temporary cache returns DataFacts; ``dataloader`` yields a
    batch for train, val and test; ``metrics()`` keys equal ``metric_names``; ``step`` returns a
    StepResult with a scalar loss; ``steps`` optimizer steps (``cfg.optim``) on one training
    batch lower the loss; metrics compute to finite numbers;
    ``save_artifacts``/``load_artifacts`` round trip into a fresh task gives the same
    predictions; ``predict`` returns one JSON-serialisable dict per text.

    With ``ddp=True`` (two processes start and import torch), the trained network
    evaluates the whole val split in 2 spawned CPU processes (gloo): ``dataloader("val",
    rank, 2)`` must give the ranks different batches, and each metric, reduced across them,
    must equal its one-process value.
    The spawned processes import ``task_class`` by name: define it at module level of an
    importable module (a plugin package, or a pytest test module), and call ``check_task``
    from a test or under ``if __name__ == "__main__":``.

    Cells and initializers come from ``registries`` (default: the installed plugins); the DDP
    processes get a copy, or the installed plugins when ``registries`` cannot be pickled.
    """
    from pipeline.components import Components
    from pipeline.initialization import initialize
    from pipeline.plugins import default_registries

    missing = sorted(getattr(task_class, "__abstractmethods__", ()))
    require(
        not missing,
        "the task implements every abstract method of pipeline.interfaces.Task",
        "none missing",
        ", ".join(f"{method}()" for method in missing),
    )
    notes: Notes = []
    given = registries
    registries = registries or default_registries()
    with _directory(cache_dir) as root, torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        task = task_class(cfg)
        facts = task.prepare_data(root / "cache")
        require(
            isinstance(facts, DataFacts),
            "prepare_data returns DataFacts",
            "DataFacts",
            type(facts).__name__,
        )
        components = Components(cfg.model, registries.cells, registries.image_encoders)
        network = task.build_network(components)
        require(
            isinstance(network, torch.nn.Module),
            "build_network returns an nn.Module",
            "nn.Module",
            type(network).__name__,
        )
        initialize(network, cfg.init, registries.initializers, cfg.seed, task.vocabulary())
        batches = {split: _first_batch(task, split) for split in ("train", "val", "test")}
        _check_training(task, network, batches["train"], cfg, steps)
        _check_metrics(task, network, batches["val"])
        _check_round_trip(task_class, cfg, task, network, components, texts, root / "artifacts")
        if ddp:
            notes += check_ddp(task_class, cfg, task, network, root, given)
        else:
            notes.append("ddp=False: sharding and metric reduction under DDP not checked")
    return notes


@contextlib.contextmanager
def _directory(path: str | Path | None) -> Iterator[Path]:
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="rnn-pipeline-check-") as name:
        yield Path(name)


def _first_batch(task: Task, split: str) -> Any:
    loader = task.dataloader(split)
    for batch in loader:
        return batch
    raise fail(f"dataloader({split!r}) yields at least one batch", "a batch", "no batches")


def _step(task: Task, network: torch.nn.Module, batch: Any, metrics: dict[str, Any]) -> Tensor:
    result = task.step(network, batch, None, metrics)
    require(
        isinstance(result, StepResult),
        "step returns a StepResult",
        "StepResult",
        type(result).__name__,
    )
    loss = result.loss
    require(
        isinstance(loss, Tensor) and loss.dim() == 0 and bool(torch.isfinite(loss)),
        "StepResult.loss is a finite scalar tensor",
        "finite 0-d tensor",
        f"{tuple(loss.shape)} {loss}" if isinstance(loss, Tensor) else type(loss).__name__,
    )
    return loss


def _check_metric_keys(task: Task, metrics: Any) -> None:
    require(
        isinstance(metrics, dict) and set(metrics) == set(task.metric_names),
        "metrics() returns one metric per name in metric_names",
        sorted(task.metric_names),
        sorted(metrics) if isinstance(metrics, dict) else metrics,
    )


def _check_training(
    task: Task, network: torch.nn.Module, batch: Any, cfg: Config, steps: int
) -> None:
    from pipeline.model import build_optimizer

    optimizer = build_optimizer(network.parameters(), cfg.optim)
    network.train()
    losses = []
    for _ in range(steps):
        metrics = task.metrics()
        _check_metric_keys(task, metrics)
        optimizer.zero_grad()
        loss = _step(task, network, batch, metrics)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    require(
        losses[-1] < losses[0],
        f"{steps} {cfg.optim.name} steps (lr {cfg.optim.lr}) on one batch lower the loss",
        f"last < first ({losses[0]:.4g})",
        f"{losses[-1]:.4g} (losses {losses[:3]}...)",
    )


def _check_metrics(task: Task, network: torch.nn.Module, batch: Any) -> None:
    metrics = task.metrics()
    network.eval()
    with torch.no_grad():
        _step(task, network, batch, metrics)
    for name, metric in metrics.items():
        value = metric.compute()
        number = float(value) if isinstance(value, Tensor) and value.numel() == 1 else None
        require(
            number is not None and math.isfinite(number),
            f"metric {name!r} computes to a finite number after one step",
            "finite scalar",
            value,
        )


def _check_round_trip(
    task_class: type[Task],
    cfg: Config,
    task: Task,
    network: torch.nn.Module,
    components: Components,
    texts: Sequence[str],
    directory: Path,
) -> None:
    network.eval()
    expected = _predictions(task, network, texts)
    task.save_artifacts(directory)  # as in train: the directory does not exist yet
    fresh = task_class(cfg)
    fresh.load_artifacts(directory)
    rebuilt = fresh.build_network(components)
    try:
        rebuilt.load_state_dict(network.state_dict())
    except Exception as error:
        raise fail(
            "load_artifacts + build_network rebuilds a network the trained weights fit",
            "load_state_dict succeeds",
            repr(error),
        ) from error
    actual = _predictions(fresh, rebuilt.eval(), texts)
    require(
        json.dumps(expected, sort_keys=True) == json.dumps(actual, sort_keys=True),
        "save_artifacts/load_artifacts round trip: a fresh task predicts the same",
        expected,
        actual,
    )


def _predictions(
    task: Task, network: torch.nn.Module, texts: Sequence[str]
) -> list[dict[str, Any]]:
    predictions = task.predict(network, list(texts))
    require(
        isinstance(predictions, list) and len(predictions) == len(texts),
        "predict returns one prediction per text",
        len(texts),
        len(predictions) if isinstance(predictions, list) else type(predictions).__name__,
    )
    for prediction in predictions:
        require(
            isinstance(prediction, dict),
            "each prediction is a dict",
            "dict",
            type(prediction).__name__,
        )
        try:
            json.dumps(prediction)
        except (TypeError, ValueError) as error:
            raise fail(
                "each prediction is JSON-serialisable", "json.dumps works", repr(error)
            ) from error
        require(
            isinstance(task.describe(prediction), str), "describe returns a str", "str", "other"
        )
    return predictions
