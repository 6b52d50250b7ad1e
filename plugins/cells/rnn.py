"""Vanilla (Elman) RNN cells: h_t = act(W_h h_{t-1} + W_e e_t + b), the lecture's equation."""

from __future__ import annotations

import torch
from torch import Tensor

from plugins.cells.base import TorchLayoutCell


class TanhRNNCell(TorchLayoutCell):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh); torch's fused RNN_TANH agrees."""

    fused_mode = "RNN_TANH"

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h = torch.tanh(p_t + self.recurrent(state[0]))  # (B, H)
        return h, [h]


class SigmoidRNNCell(TorchLayoutCell):
    """h_t = sigmoid(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh); torch has no fused kernel for it."""

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h = torch.sigmoid(p_t + self.recurrent(state[0]))  # (B, H)
        return h, [h]


class ReluRNNCell(TorchLayoutCell):
    """h_t = relu(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (Le et al. 2015: identity init)."""

    fused_mode = "RNN_RELU"

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h = torch.relu(p_t + self.recurrent(state[0]))  # (B, H)
        return h, [h]
