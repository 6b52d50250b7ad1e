"""A valid third-party cell with its own parameter names (not torch's layout)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.interfaces import Cell


class ScaledTanhCell(Cell):
    """h_t = tanh(U x_t + V h_{t-1} + c): a plain tanh RNN named the way its author likes."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.u = nn.Parameter(torch.randn(hidden_size, input_size) * 0.1)
        self.v = nn.Parameter(torch.randn(hidden_size, hidden_size) * 0.1)
        self.c = nn.Parameter(torch.zeros(hidden_size))

    def project(self, x: Tensor) -> Tensor:
        return x @ self.u.T

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h = torch.tanh(p_t + state[0] @ self.v.T + self.c)
        return h, [h]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"input": [self.u], "recurrent": [self.v], "bias": [self.c]}
