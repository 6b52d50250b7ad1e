"""Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers 2000)."""

from __future__ import annotations

import math
from collections.abc import Collection

import torch
from torch import Tensor

from pipeline.errors import OptionError
from plugins.cells.base import TorchLayoutCell


class LSTMCell(TorchLayoutCell):
    """Gates in torch's order i, f, g, o; state [h, c], each (B, H).

    c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)

    Option ``forget_bias``: the forget gate's initial bias (e.g. 1.0, Jozefowicz et al. 2015,
    so that c is kept early in training); the other gate biases then start at 0. The cell
    declares both bias vectors as its own init, so the default ``init.bias`` keeps them.
    None (the default) leaves the biases to ``init.bias``.
    """

    gates = 4
    state_size = 2
    fused_mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, forget_bias: float | None = None) -> None:
        self.validate_options(forget_bias)
        super().__init__(input_size, hidden_size)
        self.forget_bias = forget_bias
        if forget_bias is not None:
            with torch.no_grad():
                self.bias_ih.zero_()
                self.bias_hh.zero_()
                self.bias_ih[hidden_size : 2 * hidden_size] = forget_bias  # gate order i, f, g, o

    @staticmethod
    def validate_options(forget_bias: float | None = None) -> None:
        """``forget_bias`` is a finite number or None."""
        if forget_bias is not None and not math.isfinite(forget_bias):
            raise OptionError(f"lstm: option 'forget_bias' must be finite, got {forget_bias!r}")

    def own_init(self) -> Collection[str]:
        """Both bias vectors when ``forget_bias`` set them, else nothing."""
        return () if self.forget_bias is None else ("bias_ih", "bias_hh")

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        gates = p_t + self.recurrent(state[0])  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, [h, c]
