"""Turn any one-step Cell into a sequence layer: layers, directions, padding, initial state.

Three runners compute the same function:
- ``fused``: torch's whole-sequence kernels (cuDNN on GPUs) for cells with a ``fused_mode``;
- ``compiled``: the time-step loop compiled by ``torch.compile`` (fused elementwise kernels,
  no Python per step). On CPU it beat the eager loop after a one-off compile, where
  TorchScript did not (figures: benchmarks/README.md, runner_speed.py), so torch.compile it
  is;
- ``eager``: the same loop in Python, and the fallback when compilation fails.

The encoder state is torch's layout: a list of ``cell.state_size`` tensors, each
(L*dirs, B, H), index ``layer * dirs + direction``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import rnn as rnn_utils

from pipeline.config import ConfigError
from pipeline.interfaces import Cell

RUNNERS = ("auto", "fused", "compiled", "eager")
FUSED_KERNELS: dict[str, Callable[..., Any]] = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


class StepLoop(nn.Module):
    """Run one cell over time: p (B, T, P) -> outputs (B, T, H), final state."""

    def __init__(self, cell: Cell) -> None:
        super().__init__()
        self.cell = cell

    def forward(
        self, p: Tensor, state: list[Tensor], mask: Tensor | None, reverse: bool
    ) -> tuple[Tensor, list[Tensor]]:
        steps = p.size(1)
        outputs: list[Tensor] = []
        for i in range(steps):
            t = steps - 1 - i if reverse else i
            h, new_state = self.cell.step(p[:, t], state)
            if mask is not None:
                valid = mask[:, t].unsqueeze(1)  # (B, 1): padding keeps the old state
                state = [torch.where(valid, new_state[k], state[k]) for k in range(len(state))]
                h = h.masked_fill(~valid, 0.0)
            else:
                state = new_state
            outputs.append(h)
        if reverse:
            outputs.reverse()
        return torch.stack(outputs, 1), state


class RecurrentEncoder(nn.Module):
    """Stacked, optionally bidirectional recurrent layer built from a cell factory.

    ``forward(x (B, T, D), lengths (B,) | None, state | None) -> (out (B, T, dirs*H), state)``.
    Padded positions of ``out`` are zeros and the final state is taken at each length.
    """

    def __init__(
        self,
        cell_factory: Callable[[int, int], Cell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        runner: str = "auto",
    ) -> None:
        super().__init__()
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.directions = 2 if bidirectional else 1
        self.cells = nn.ModuleList(
            cell_factory(input_size if layer == 0 else hidden_size * self.directions, hidden_size)
            for layer in range(num_layers)
            for _ in range(self.directions)
        )
        self.state_size: int = self.cell(0).state_size
        self.runner = self._choose_runner(runner)
        # Not submodules: no double params.
        self.loops = [StepLoop(self.cell(i)) for i in range(len(self.cells))]
        self._compiled: list[Callable[..., tuple[Tensor, list[Tensor]]]] | None = None

    def cell(self, index: int) -> Cell:
        """The cell of layer ``index // dirs``, direction ``index % dirs``."""
        return cast(Cell, self.cells[index])

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.directions

    def _choose_runner(self, runner: str) -> str:
        mode = self.cell(0).fused_mode
        if runner == "fused" and mode is None:
            raise ConfigError(
                [
                    f"model.runner: fused, but cell {type(self.cells[0]).__name__} has no "
                    "fused path; use auto, compiled or eager"
                ]
            )
        if runner not in RUNNERS:
            raise ConfigError([f"model.runner: {runner!r}; allowed: {', '.join(RUNNERS)}"])
        if runner == "auto":
            return "fused" if mode is not None else "compiled"
        return runner

    def init_state(
        self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> list[Tensor]:
        """Zero state: ``state_size`` tensors of (L*dirs, B, H)."""
        shape = (len(self.cells), batch, self.hidden_size)
        return [torch.zeros(shape, device=device, dtype=dtype) for _ in range(self.state_size)]

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, state: list[Tensor] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        if state is None:
            state = self.init_state(x.size(0), x.device, x.dtype)
        if self.runner == "fused":
            return self._run_fused(x, lengths, state)
        return self._run_steps(x, lengths, state)

    # ------------------------------------------------------------------------- fused

    def _flat_weights(self) -> list[Tensor]:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return [cast(Tensor, getattr(cell, name)) for cell in self.cells for name in names]

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> RecurrentEncoder:
        """After ``.to(device)`` and friends, lay the fused weights out for cuDNN again."""
        super()._apply(fn, recurse)  # type: ignore[no-untyped-call]  # torch leaves it bare
        self.flatten_for_cudnn()
        return self

    def flatten_for_cudnn(self) -> None:
        """Put the fused runner's weights into one contiguous cuDNN block, in place (the
        parameters stay the same objects); otherwise cuDNN copies them at every call.
        A no-op off CUDA, for step runners, and where cuDNN cannot take the weights."""
        weights = self._flat_weights() if self.runner == "fused" else []
        usable = weights and all(
            w.is_cuda and w.dtype == weights[0].dtype and torch.backends.cudnn.is_acceptable(w)
            for w in weights
        )
        if not usable or len({w.data_ptr() for w in weights}) < len(weights):
            return
        from torch.backends.cudnn import rnn as cudnn_rnn

        with torch.cuda.device_of(weights[0]), torch.no_grad():
            torch._cudnn_rnn_flatten_weight(
                weights,
                4,  # weight_ih, weight_hh, bias_ih, bias_hh per layer and direction
                weights[0].size(1),  # the first layer's input size
                cudnn_rnn.get_cudnn_mode(self.cell(0).fused_mode),
                self.hidden_size,
                0,  # no projection
                self.num_layers,
                True,  # batch_first
                self.directions == 2,
            )

    def _run_fused(
        self, x: Tensor, lengths: Tensor | None, state: list[Tensor]
    ) -> tuple[Tensor, list[Tensor]]:
        kernel = FUSED_KERNELS[cast(str, self.cell(0).fused_mode)]
        hx = tuple(state) if self.state_size > 1 else state[0]
        settings = (True, self.num_layers, self.dropout, self.training, self.directions == 2)
        if lengths is None:
            out, *final = kernel(x, hx, self._flat_weights(), *settings, True)
            return out, final
        packed = rnn_utils.pack_padded_sequence(
            x, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        order = cast(Tensor, packed.sorted_indices)
        hx = (
            tuple(h.index_select(1, order) for h in state)
            if self.state_size > 1
            else (state[0].index_select(1, order))
        )
        data, *final = kernel(packed.data, packed.batch_sizes, hx, self._flat_weights(), *settings)
        unsorted = cast(Tensor, packed.unsorted_indices)  # set when enforce_sorted=False
        out, _ = rnn_utils.pad_packed_sequence(
            packed._replace(data=data), batch_first=True, total_length=x.size(1)
        )
        return out, [h.index_select(1, unsorted) for h in final]

    # ------------------------------------------------------------------------- step loop

    def _step_loops(self) -> list[Callable[..., tuple[Tensor, list[Tensor]]]]:
        """The loops to run: compiled ones (built on first use) or the eager ones."""
        if self.runner != "compiled":
            return list(self.loops)
        if self._compiled is None:
            self._compiled = [torch.compile(loop, dynamic=False) for loop in self.loops]
        return self._compiled

    def _run_loop(self, index: int, *args: object) -> tuple[Tensor, list[Tensor]]:
        try:
            return self._step_loops()[index](*args)
        except Exception as error:  # compile errors come in many types
            if self.runner != "compiled":
                raise
            # The caller's own mistakes raise here, unchanged.
            result: tuple[Tensor, list[Tensor]] = self.loops[index](*args)
            warnings.warn(
                f"torch.compile failed for {type(self.cell(index)).__name__} "
                f"({type(error).__name__}: {str(error).splitlines()[0]}); using the eager loop",
                stacklevel=2,
            )
            self.runner = "eager"
            return result

    def _run_steps(
        self, x: Tensor, lengths: Tensor | None, state: list[Tensor]
    ) -> tuple[Tensor, list[Tensor]]:
        mask = None
        if lengths is not None:
            mask = torch.arange(x.size(1), device=x.device) < lengths.to(x.device).unsqueeze(1)
        finals, layer_input = [], x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
            outputs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                cell_state = [s[index] for s in state]
                projected = self.cell(index).project(layer_input)  # (B, T, P) in one matmul
                out, final = self._run_loop(index, projected, cell_state, mask, direction == 1)
                outputs.append(out)
                finals.append(final)
            layer_input = torch.cat(outputs, 2) if self.directions == 2 else outputs[0]
        return layer_input, [torch.stack([f[k] for f in finals]) for k in range(self.state_size)]

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the compiled loops (they do not pickle); rebuilt on first use."""
        return {**self.__dict__, "_compiled": None}
