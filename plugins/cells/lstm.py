"""Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers 2000)."""

from __future__ import annotations

import torch
from torch import Tensor

from plugins.cells.base import TorchLayoutCell


class LSTMCell(TorchLayoutCell):
    """Gates in torch's order i, f, g, o; state [h, c], each (B, H).

    c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)
    """

    gates = 4
    state_size = 2
    fused_mode = "LSTM"

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        gates = p_t + self.recurrent(state[0])  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, [h, c]
