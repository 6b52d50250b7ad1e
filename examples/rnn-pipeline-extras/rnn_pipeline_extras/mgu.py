"""Minimal gated unit: a recurrent cell with a single gate (Zhou et al. 2016).

Zhou, Wu, Zhang and Zhou, "Minimal Gated Unit for Recurrent Neural Networks", International
Journal of Automation and Computing 13(3), 2016 (arXiv:1603.09420):

    f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)
    n_t = tanh(W_n x_t + U_n (f_t * h_{t-1}) + b_n)
    h_t = (1 - f_t) * h_{t-1} + f_t * n_t

One gate instead of the GRU's two, so about two thirds of its parameters.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.interfaces import Cell


class MinimalGatedUnit(Cell):
    """MGU cell; parameters ``weight_ih`` (2H, D), ``weight_hh`` (2H, H), ``bias_ih`` (2H).

    Row blocks are [forget f, candidate n]. The names follow the pipeline's default
    parameter groups (input, recurrent, bias). There is no fused kernel for it.
    """

    state_size = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(2 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(2 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(2 * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def project(self, x: Tensor) -> Tensor:
        """W x + b for both blocks at once: (..., D) -> (..., 2H)."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h_prev = state[0]  # (B, H)
        x_f, x_n = p_t.chunk(2, 1)  # (B, H) each
        u_f, u_n = self.weight_hh.chunk(2, 0)  # (H, H) each
        f = torch.sigmoid(x_f + h_prev @ u_f.T)
        n = torch.tanh(x_n + (f * h_prev) @ u_n.T)
        h = (1 - f) * h_prev + f * n
        return h, [h]
