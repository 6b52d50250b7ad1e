"""Shared parameter layout of the built-in cells: torch's, so fused kernels can run them."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.interfaces import Cell


class TorchLayoutCell(Cell):
    """A cell with ``gates`` blocks of H units in torch's parameter layout.

    Parameters: ``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H), ``bias_ih`` (G*H),
    ``bias_hh`` (G*H). The input product ``W_ih x + b_ih`` is the cell's :meth:`project`.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows))
        self.bias_hh = nn.Parameter(torch.empty(rows))
        bound = 1.0 / math.sqrt(hidden_size)  # torch's own default for its RNN modules
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def project(self, x: Tensor) -> Tensor:
        """W_ih x + b_ih: (..., D) -> (..., G*H)."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def recurrent(self, h: Tensor) -> Tensor:
        """W_hh h + b_hh: (B, H) -> (B, G*H)."""
        return F.linear(h, self.weight_hh, self.bias_hh)
