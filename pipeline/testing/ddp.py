"""The DDP clause of ``check_task``: val evaluated by 2 spawned CPU processes (gloo) must give
each rank its own shard and, reduced, the one-process metrics."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import pickle
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from pipeline.interfaces import Task
from pipeline.testing.clauses import Notes, fail, require

if TYPE_CHECKING:
    from pipeline.config import Config
    from pipeline.plugins import Registries

__all__ = ["WORLD_SIZE", "check_ddp"]

WORLD_SIZE = 2


def check_ddp(
    task_class: type[Task],
    cfg: Config,
    task: Task,
    network: torch.nn.Module,
    root: Path,
    registries: Registries | None,
) -> Notes:
    """Evaluate val in one process and in WORLD_SIZE spawned ones; compare shards and metrics."""
    shipped, notes = _registries_for_children(registries)
    expected, _, items = _evaluate(task, network, task.dataloader("val", 0, 1))
    directory = root / "ddp"
    directory.mkdir(exist_ok=True)
    torch.save(network.state_dict(), directory / "network.pt")
    result = _spawn(task_class, cfg, root / "cache", shipped, directory)
    _check_shards(result["digests"], items)
    _check_reduced(expected, result["metrics"])
    return notes


def _check_shards(digests: list[str], items: int) -> None:
    """The ranks' val batches differ (unless val holds too few items to split)."""
    require(
        len(set(digests)) == WORLD_SIZE or items < WORLD_SIZE,
        "dataloader(split, rank, world_size) gives each rank its own shard",
        "different val batches on ranks 0 and 1",
        "the same val batches on both ranks",
    )


def _check_reduced(expected: dict[str, float], reduced: dict[str, float]) -> None:
    for name, value in expected.items():
        require(
            math.isclose(reduced[name], value, rel_tol=1e-4, abs_tol=1e-6),
            f"under {WORLD_SIZE}-process DDP, metric {name!r} reduced over the val shards "
            "equals the one-process value (each example evaluated exactly once, torchmetrics "
            "states with a dist_reduce_fx)",
            value,
            reduced[name],
        )


def _registries_for_children(registries: Registries | None) -> tuple[Registries | None, Notes]:
    """The caller's registries if they pickle; None (the installed plugins) otherwise."""
    if registries is None:
        return None, []
    try:
        pickle.dumps(registries)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        return None, [f"registries cannot be pickled ({error}): DDP used the installed plugins"]
    return registries, []


def _evaluate(
    task: Task, network: torch.nn.Module, loader: Any
) -> tuple[dict[str, float], str, int]:
    """One pass over loader as validation runs it: metric values, batches' digest, item count.

    The carry is handed from batch to batch as ``PipelineModule`` does (None at the start).
    """
    metrics = task.metrics()
    digest, items, carry = hashlib.sha256(), 0, None
    network.eval()
    with torch.no_grad():
        for batch in loader:
            items += _absorb(digest, batch)
            carry = task.step(network, batch, carry, metrics).carry
    return {name: float(m.compute()) for name, m in metrics.items()}, digest.hexdigest(), items


def _absorb(digest: Any, batch: Any) -> int:
    """Feed batch's contents to digest; return its item count (its first tensor's length)."""
    sizes = []
    for leaf in _leaves(batch):
        if isinstance(leaf, Tensor):
            digest.update(f"{leaf.dtype}{tuple(leaf.shape)}".encode())
            digest.update(leaf.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
            sizes.append(len(leaf) if leaf.dim() else 1)
        else:
            digest.update(repr(leaf).encode())
    return sizes[0] if sizes else 1


def _leaves(batch: Any) -> Iterator[Any]:
    """Tensors and other values inside nested mappings, lists and tuples."""
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, list | tuple):
        for value in batch:
            yield from _leaves(value)
    else:
        yield batch


def _spawn(
    task_class: type[Task],
    cfg: Config,
    cache: Path,
    registries: Registries | None,
    directory: Path,
) -> dict[str, Any]:
    """Run :func:`_ddp_worker` in WORLD_SIZE spawned processes; return rank 0's result."""
    from torch.multiprocessing.spawn import ProcessException, start_processes

    args = (task_class, cfg, cache, registries, directory, _free_port())
    try:
        start_processes(_ddp_worker, args=args, nprocs=WORLD_SIZE, start_method="spawn")
    except ProcessException as error:
        raise fail(
            f"the task runs under {WORLD_SIZE}-process DDP (gloo)",
            "every process evaluates val and exits cleanly",
            str(error).strip(),
        ) from error
    result: dict[str, Any] = json.loads((directory / "result.json").read_text())
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ddp_worker(
    rank: int,
    task_class: type[Task],
    cfg: Config,
    cache: Path,
    registries: Registries | None,
    directory: Path,
    port: int,
) -> None:
    """One DDP process: evaluate this rank's val shard; rank 0 writes the reduced metrics."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=datetime.timedelta(minutes=2),
    )
    try:
        task, network = _rebuild(task_class, cfg, cache, registries, directory / "network.pt")
        metrics, digest, _ = _evaluate(task, network, task.dataloader("val", rank, WORLD_SIZE))
        digests: list[Any] = [None] * WORLD_SIZE
        dist.all_gather_object(digests, digest)
        if rank == 0:
            result = {"metrics": metrics, "digests": digests}
            (directory / "result.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def _rebuild(
    task_class: type[Task],
    cfg: Config,
    cache: Path,
    registries: Registries | None,
    weights: Path,
) -> tuple[Task, torch.nn.Module]:
    """The task and trained network as a training process builds them (data from the cache)."""
    from pipeline.components import Components
    from pipeline.plugins import default_registries

    task = task_class(cfg)
    task.prepare_data(cache)
    registries = registries or default_registries()
    components = Components(cfg.model, registries.cells, registries.image_encoders, restoring=True)
    network = task.build_network(components)
    network.load_state_dict(torch.load(weights, weights_only=True))
    return task, network
