"""Behaviour tests for the built-in cells, alone and run by the recurrent encoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pipeline.interfaces import FUSED_MODES, Cell
from pipeline.recurrent import RecurrentEncoder
from plugins.cells.gru import GRUCell
from plugins.cells.lstm import LSTMCell
from plugins.cells.rnn import ReluRNNCell, SigmoidRNNCell, TanhRNNCell

ALL_CELLS = [TanhRNNCell, SigmoidRNNCell, ReluRNNCell, LSTMCell, GRUCell]
FUSED_CELLS = [cell for cell in ALL_CELLS if cell.fused_mode is not None]
GATES = {TanhRNNCell: 1, SigmoidRNNCell: 1, ReluRNNCell: 1, LSTMCell: 4, GRUCell: 3}
D, H, T = 3, 4, 5


def cell_id(cell: type) -> str:
    return cell.__name__


def encoder(cell: type[Cell], runner: str, seed: int = 0, **options: object) -> RecurrentEncoder:
    torch.manual_seed(seed)
    return RecurrentEncoder(cell, D, H, runner=runner, **options).eval()


def twin(source: RecurrentEncoder, cell: type[Cell], runner: str, **options: object):
    """An encoder of the same shape and weights as source, with another runner."""
    other = RecurrentEncoder(cell, D, H, runner=runner, **options).eval()
    other.load_state_dict(source.state_dict())
    return other


def random_state(cell: type[Cell], layers: int, dirs: int, batch: int) -> list[torch.Tensor]:
    return [0.5 * torch.randn(layers * dirs, batch, H) for _ in range(cell.state_size)]


# --- the cell contract --------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ALL_CELLS, ids=cell_id)
def test_cell_parameters_follow_torch_layout(cell: type[Cell]) -> None:
    module = cell(D, H)
    gates = GATES[cell]
    shapes = {name: tuple(p.shape) for name, p in module.named_parameters()}
    assert shapes == {
        "weight_ih": (gates * H, D),
        "weight_hh": (gates * H, H),
        "bias_ih": (gates * H,),
        "bias_hh": (gates * H,),
    }
    assert cell.fused_mode is None or cell.fused_mode in FUSED_MODES
    assert cell.state_size == (2 if cell is LSTMCell else 1)
    groups = {name: [id(p) for p in ps] for name, ps in module.parameter_groups().items()}
    assert groups == {
        "input": [id(module.weight_ih)],
        "recurrent": [id(module.weight_hh)],
        "bias": [id(module.bias_ih), id(module.bias_hh)],
    }


@pytest.mark.parametrize("cell", ALL_CELLS, ids=cell_id)
def test_cell_forward_is_step_of_projection_and_keeps_shapes(cell: type[Cell]) -> None:
    torch.manual_seed(0)
    module = cell(D, H)
    x = torch.randn(2, D)
    state = [torch.randn(2, H) for _ in range(cell.state_size)]
    h, new_state = module(x, state)
    h_step, state_step = module.step(module.project(x), state)
    assert h.shape == (2, H)
    assert len(new_state) == cell.state_size
    assert all(s.shape == (2, H) for s in new_state)
    torch.testing.assert_close(h, h_step)
    torch.testing.assert_close(new_state[0], h)  # state[0] is the hidden state
    zero = module.init_state(3)
    assert len(zero) == cell.state_size
    assert all(z.shape == (3, H) and not z.any() for z in zero)


def torch_reference(cell: type[Cell]) -> nn.Module:
    if cell is LSTMCell:
        return nn.LSTMCell(D, H)
    if cell is GRUCell:
        return nn.GRUCell(D, H)
    return nn.RNNCell(D, H, nonlinearity="relu" if cell is ReluRNNCell else "tanh")


@pytest.mark.parametrize("cell", FUSED_CELLS, ids=cell_id)
def test_fusable_cells_match_torch_cells(cell: type[Cell]) -> None:
    torch.manual_seed(1)
    module, reference = cell(D, H), torch_reference(cell)
    reference.load_state_dict(module.state_dict())
    x = torch.randn(3, D)
    state = [torch.randn(3, H) for _ in range(cell.state_size)]
    h, new_state = module(x, state)
    expected = reference(x, tuple(state) if cell is LSTMCell else state[0])
    expected = list(expected) if cell is LSTMCell else [expected]
    torch.testing.assert_close(h, expected[0])
    for got, want in zip(new_state, expected, strict=True):
        torch.testing.assert_close(got, want)


# --- the lecture's sigmoid RNN ------------------------------------------------------------------


def sigmoid_rnn_by_hand(
    cell: SigmoidRNNCell, e: torch.Tensor, h: torch.Tensor, reverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """h_t = sigmoid(W_h h_{t-1} + W_e e_t + b) over e (B, T, D); returns outputs and h_T."""
    w_e, w_h = cell.weight_ih, cell.weight_hh
    b = cell.bias_ih + cell.bias_hh
    outputs = [None] * e.size(1)
    order = range(e.size(1) - 1, -1, -1) if reverse else range(e.size(1))
    for t in order:
        h = torch.sigmoid(h @ w_h.T + e[:, t] @ w_e.T + b)
        outputs[t] = h
    return torch.stack(outputs, 1), h


def test_rnn_sigmoid_is_the_lectures_equation() -> None:
    torch.manual_seed(2)
    enc = RecurrentEncoder(SigmoidRNNCell, D, H, runner="eager")
    e = torch.randn(2, T, D)
    h0 = torch.randn(1, 2, H)
    out, state = enc(e, state=[h0])
    expected, h_last = sigmoid_rnn_by_hand(enc.cells[0], e, h0[0])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(state[0][0], h_last)
    assert ((out > 0) & (out < 1)).all()


def test_rnn_sigmoid_stacked_bidirectional_by_hand() -> None:
    torch.manual_seed(3)
    enc = RecurrentEncoder(SigmoidRNNCell, D, H, num_layers=2, bidirectional=True, runner="eager")
    e = torch.randn(2, T, D)
    zero = torch.zeros(2, H)
    forward, h_f = sigmoid_rnn_by_hand(enc.cells[0], e, zero)
    backward, h_b = sigmoid_rnn_by_hand(enc.cells[1], e, zero, reverse=True)
    layer_1 = torch.cat([forward, backward], 2)
    forward2, h_f2 = sigmoid_rnn_by_hand(enc.cells[2], layer_1, zero)
    backward2, h_b2 = sigmoid_rnn_by_hand(enc.cells[3], layer_1, zero, reverse=True)
    out, state = enc(e)
    torch.testing.assert_close(out, torch.cat([forward2, backward2], 2))
    torch.testing.assert_close(state[0], torch.stack([h_f, h_b, h_f2, h_b2]))


# --- shapes through the encoder -----------------------------------------------------------------

RUNS = [(cell, "eager") for cell in ALL_CELLS] + [(cell, "fused") for cell in FUSED_CELLS]


@pytest.mark.parametrize(("cell", "runner"), RUNS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("batch", [1, 6])
def test_encoder_shapes(
    cell: type[Cell], runner: str, num_layers: int, bidirectional: bool, batch: int
) -> None:
    enc = encoder(cell, runner, num_layers=num_layers, bidirectional=bidirectional)
    dirs = 2 if bidirectional else 1
    assert enc.runner == runner
    assert enc.output_size == dirs * H
    x = torch.randn(batch, T, D)
    for lengths in (None, torch.randint(1, T + 1, (batch,))):
        out, state = enc(x, lengths)
        assert out.shape == (batch, T, dirs * H)
        assert isinstance(state, list) and len(state) == cell.state_size
        assert all(s.shape == (num_layers * dirs, batch, H) for s in state)
        assert torch.isfinite(out).all()


# --- fused kernels and the step loop compute the same function ----------------------------------


@pytest.mark.parametrize("cell", FUSED_CELLS, ids=cell_id)
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("padded", [False, True], ids=["full", "padded"])
def test_fused_equals_step_loop_values_and_gradients(
    cell: type[Cell], num_layers: int, bidirectional: bool, padded: bool
) -> None:
    options = {"num_layers": num_layers, "bidirectional": bidirectional}
    fused = encoder(cell, "fused", seed=num_layers, **options)
    eager = twin(fused, cell, "eager", **options)
    dirs = 2 if bidirectional else 1
    x = torch.randn(3, T, D)
    lengths = torch.tensor([T, 2, 1]) if padded else None
    state = random_state(cell, num_layers, dirs, 3)

    results = []
    for enc in (fused, eager):
        xi = x.clone().requires_grad_()
        si = [s.clone().requires_grad_() for s in state]
        out, final = enc(xi, lengths, si)
        loss = (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum()
        loss = loss + sum((f * (k + 2)).sum() for k, f in enumerate(final))
        weights = list(enc.parameters())
        grads = torch.autograd.grad(loss, [xi, *si, *weights])
        results.append((out, final, grads))

    (out_f, final_f, grads_f), (out_e, final_e, grads_e) = results
    torch.testing.assert_close(out_f, out_e, atol=1e-5, rtol=1e-5)
    for got, want in zip(final_f, final_e, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert len(grads_f) == len(grads_e)
    for got, want in zip(grads_f, grads_e, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    if padded:
        assert not out_f[1, 2:].any() and not out_f[2, 1:].any()


# --- gradients reach every parameter ------------------------------------------------------------


@pytest.mark.parametrize(("cell", "runner"), RUNS, ids=lambda v: getattr(v, "__name__", v))
def test_gradients_reach_every_parameter(cell: type[Cell], runner: str) -> None:
    enc = encoder(cell, runner, num_layers=2, bidirectional=True)
    x = torch.randn(3, T, D, requires_grad=True)
    state = [torch.rand(4, 3, H) for _ in range(cell.state_size)]  # positive: no dead ReLUs
    out, state = enc(x, torch.tensor([T, 3, 1]), state)
    (out.sum() + sum(s.sum() for s in state)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, parameter in enc.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name
