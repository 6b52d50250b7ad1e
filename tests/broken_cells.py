"""Source of plugin cells that break the Cell contract, written into tests' own modules."""

TWO_STATE_CELL = '''
import torch
from torch import Tensor, nn

from pipeline.interfaces import Cell


class TwoStateCell(Cell):
    """Declares two state tensors but returns one: breaks the state contract."""

    state_size = 2

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.u = nn.Parameter(torch.randn(hidden_size, input_size) * 0.1)

    def project(self, x: Tensor) -> Tensor:
        return x @ self.u.T

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h = torch.tanh(p_t + state[0])
        return h, [h]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"input": [self.u]}
'''
"""Declares two state tensors but returns one (module source, for a tmp_path plugin)."""
