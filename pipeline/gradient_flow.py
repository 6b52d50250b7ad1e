"""Seeing inside a recurrent net: dL/dh_t at every time step, and saturated units.

A diagnostic pass runs one batch through ``task.step`` with every ``RecurrentEncoder`` of the
network switched to its eager step loop, keeping each h_t of every layer and direction. The
fused kernels return only the last layer's outputs, so the step loop is what makes the lower
layers' states visible; on the same weights it computes the same function. The loop keeps
``h_t`` itself, the tensor that feeds both the output at t and step t+1, so the gradient
found for it is the total dL/dh_t.

The pass leaves the training step alone: ``torch.autograd.grad`` returns the gradients
instead of adding them to ``.grad``, the random generators are restored (dropout masks of
the training step stay the same), metrics are scratch copies, and the runner is put back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from pipeline.interfaces import Cell, Task
from pipeline.recurrent import RecurrentEncoder, StepLoop

SATURATION = 0.99
"""|tanh| above it, or sigmoid outside [1 - it, it], counts a unit as saturated."""
_TANH = {torch.tanh, Tensor.tanh}
_SIGMOID = {torch.sigmoid, Tensor.sigmoid, torch.special.expit}


@dataclass
class Saturation:
    """Counts of saturated activations, by nonlinearity (``tanh``, ``sigmoid``)."""

    saturated: dict[str, float] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)

    def add(self, kind: str, output: Tensor) -> None:
        with torch.no_grad():
            if kind == "tanh":
                hits = output.abs() > SATURATION
            else:
                hits = (output < 1 - SATURATION) | (output > SATURATION)
            self.saturated[kind] = self.saturated.get(kind, 0.0) + float(hits.sum())
            self.total[kind] = self.total.get(kind, 0.0) + output.numel()

    def fractions(self) -> dict[str, float]:
        """Fraction of saturated units per nonlinearity seen."""
        return {kind: self.saturated[kind] / self.total[kind] for kind in self.total}


class _CountSaturation(TorchFunctionMode):
    """Sees every tanh and sigmoid a cell computes (gates included), whatever the cell."""

    def __init__(self, saturation: Saturation) -> None:
        super().__init__()
        self.saturation = saturation

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        output = func(*args, **(kwargs or {}))
        kind = "tanh" if func in _TANH else "sigmoid" if func in _SIGMOID else None
        if kind is not None and isinstance(output, Tensor):
            self.saturation.add(kind, output)
        return output


class RecordingLoop(StepLoop):
    """The eager step loop, keeping every h_t (B, H) and the padding mask (B, T)."""

    def __init__(self, cell: Cell, saturation: Saturation) -> None:
        super().__init__(cell)
        self.saturation = saturation
        self.states: list[Tensor] = []
        self.mask: Tensor | None = None

    def forward(
        self, p: Tensor, state: list[Tensor], mask: Tensor | None, reverse: bool
    ) -> tuple[Tensor, list[Tensor]]:
        step, states = self.cell.step, self.states

        def recording_step(p_t: Tensor, s: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
            h, new_state = step(p_t, s)
            states.append(h)
            return h, new_state

        self.cell.step = recording_step  # type: ignore[method-assign, assignment]  # undone below
        try:
            with _CountSaturation(self.saturation):
                out, final = super().forward(p, state, mask, reverse)
        finally:
            del self.cell.step  # back to the class's method
        if reverse:  # kept in processing order: T first
            self.mask = None if mask is None else mask.flip(1)
        else:
            self.mask = mask
        return out, final


@contextmanager
def recording(encoder: RecurrentEncoder, saturation: Saturation) -> Iterator[list[RecordingLoop]]:
    """Run encoder through recording step loops (index ``layer * dirs + direction``)."""
    loops = [RecordingLoop(encoder.cell(i), saturation) for i in range(len(encoder.cells))]
    runner, previous = encoder.runner, encoder.loops
    encoder.runner, encoder.loops = "eager", list(loops)
    try:
        yield loops
    finally:
        encoder.runner, encoder.loops = runner, previous


@dataclass
class FlowSample:
    """One diagnostic pass: per-step gradient norms of each recorded layer and direction.

    ``norms[name]`` is a (T,) tensor: the mean over the examples valid at step t of
    ||dL/dh_t|| (processing order, so a backward direction starts at the last word).
    ``saturation`` holds the fractions of saturated tanh and sigmoid units.
    """

    norms: dict[str, Tensor]
    saturation: dict[str, float]


def series_name(prefix: str, layer: int, direction: int) -> str:
    """``l0``, ``l1_rev`` (backward direction), with an encoder prefix when there are several."""
    return f"{prefix}l{layer}{'_rev' if direction else ''}"


def encoders(network: nn.Module) -> dict[str, RecurrentEncoder]:
    """The network's recurrent encoders by metric prefix ('' when there is only one)."""
    found = {n: m for n, m in network.named_modules() if isinstance(m, RecurrentEncoder)}
    if len(found) == 1:
        return {"": next(iter(found.values()))}
    return {name.replace(".", "_") + "_": module for name, module in found.items()}


def gradient_flow(network: nn.Module, loss_of: Callable[[], Tensor]) -> FlowSample:
    """dL/dh_t norms of the loss that ``loss_of()`` computes with network (one batch)."""
    saturation, recorded = Saturation(), {}
    device = batch_device(network)
    with (
        torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
        _recording_all(network, saturation) as loops,
    ):
        loss = loss_of()
        for name, (encoder, per_cell) in loops.items():
            for index, loop in enumerate(per_cell):
                layer, direction = divmod(index, encoder.directions)
                recorded[series_name(name, layer, direction)] = loop
    states = [h for loop in recorded.values() for h in loop.states]
    if not states:  # no recurrent encoder in this network: nothing to see
        return FlowSample({}, saturation.fractions())
    grads = iter(torch.autograd.grad(loss, states, materialize_grads=True))
    norms = {name: _step_norms(loop, grads) for name, loop in recorded.items()}
    return FlowSample(norms, saturation.fractions())


def task_loss(task: Task, network: nn.Module, batch: Any, metrics: dict[str, Any]) -> Tensor:
    """The loss ``task.step`` computes for batch at epoch start; ``metrics`` are scratch."""
    return task.step(network, batch, None, metrics).loss


@contextmanager
def _recording_all(
    network: nn.Module, saturation: Saturation
) -> Iterator[dict[str, tuple[RecurrentEncoder, list[RecordingLoop]]]]:
    """Every encoder of network recording at once, by metric prefix."""
    with ExitStack() as stack:
        yield {
            name: (encoder, stack.enter_context(recording(encoder, saturation)))
            for name, encoder in encoders(network).items()
        }


def _step_norms(loop: RecordingLoop, grads: Iterator[Tensor | None]) -> Tensor:
    """(T,) mean ||dL/dh_t|| over the examples valid at step t (zero where none is)."""
    columns = []
    for h in loop.states:
        grad = next(grads)
        columns.append(
            torch.zeros(h.size(0), device=h.device) if grad is None else grad.norm(dim=1)
        )
    norms = torch.stack(columns, 1).detach()  # (B, T)
    valid = torch.ones_like(norms) if loop.mask is None else loop.mask.to(norms.dtype)
    return ((norms * valid).sum(0) / valid.sum(0).clamp(min=1)).cpu()


def batch_device(network: nn.Module) -> torch.device:
    """The device of the network's first parameter (CPU when it has none)."""
    return next((p.device for p in network.parameters()), torch.device("cpu"))
