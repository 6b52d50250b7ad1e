"""Gated recurrent unit (Cho et al. 2014), in torch's formulation and gate order r, z, n."""

from __future__ import annotations

import torch
from torch import Tensor

from plugins.cells.base import TorchLayoutCell


class GRUCell(TorchLayoutCell):
    """r = σ(.), z = σ(.), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h = (1 - z) n + z h."""

    gates = 3
    fused_mode = "GRU"

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h_prev = state[0]
        x_r, x_z, x_n = p_t.chunk(3, 1)  # each (B, H)
        h_r, h_z, h_n = self.recurrent(h_prev).chunk(3, 1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h_prev
        return h, [h]
