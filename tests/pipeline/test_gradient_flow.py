"""The diagnostic pass: per-step dL/dh_t through the step runner, untouched training gradients."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from pipeline.gradient_flow import gradient_flow
from pipeline.recurrent import RecurrentEncoder
from plugins.cells.lstm import LSTMCell
from plugins.cells.rnn import SigmoidRNNCell, TanhRNNCell

B, T, D, H = 3, 6, 4, 5
LENGTHS = torch.tensor([6, 4, 2])


class Net(nn.Module):
    """Encoder over (B, T, D) -> a loss that reads every output and the final state."""

    def __init__(self, encoder: RecurrentEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.output_size, 1)

    def loss(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        out, state = self.encoder(x, lengths)  # (B, T, dirs*H)
        return self.head(out).pow(2).mean() + state[0][-1].sum()


def lstm_net(runner: str, dropout: float = 0.0) -> Net:
    torch.manual_seed(0)
    encoder = RecurrentEncoder(LSTMCell, D, H, 2, True, dropout, runner=runner)
    return Net(encoder)


def step_runner_grads(net: Net, x: Tensor, lengths: Tensor) -> dict[str, Tensor]:
    """Reference: (T,) mean over valid examples of ||dL/dh_t||, from the eager runner's own
    cells run one step at a time by hand, each h_t kept with retain_grad."""
    encoder, kept = net.encoder, {}
    original_step = LSTMCell.step

    def keeping(cell: LSTMCell, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h, new_state = original_step(cell, p_t, state)
        h.retain_grad()
        kept.setdefault(id(cell), []).append(h)
        return h, new_state

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LSTMCell, "step", keeping)
        net.loss(x, lengths).backward()
    mask = (torch.arange(T) < lengths.unsqueeze(1)).float()  # (B, T)
    result = {}
    for index in range(len(encoder.cells)):
        layer, direction = divmod(index, 2)
        states = kept[id(encoder.cell(index))]
        norms = torch.stack([h.grad.norm(dim=1) for h in states], 1)  # (B, T) processing order
        valid = mask.flip(1) if direction else mask
        result[f"l{layer}{'_rev' if direction else ''}"] = (norms * valid).sum(0) / valid.sum(0)
    return result


def test_per_step_grads_of_a_fused_lstm_equal_those_of_a_step_runner_pass() -> None:
    x = torch.randn(B, T, D)
    fused = lstm_net("fused")
    sample = gradient_flow(fused, lambda: fused.loss(x, LENGTHS))
    expected = step_runner_grads(lstm_net("eager"), x, LENGTHS)
    assert set(sample.norms) == {"l0", "l0_rev", "l1", "l1_rev"}
    for name, norms in expected.items():
        torch.testing.assert_close(sample.norms[name], norms, rtol=1e-4, atol=1e-6)
    assert fused.encoder.runner == "fused"  # put back


def test_the_diagnostic_pass_leaves_the_training_steps_gradients_and_randomness_alone() -> None:
    x = torch.randn(B, T, D)

    def training_grads(with_diagnostic: bool) -> list[Tensor]:
        net = lstm_net("fused", dropout=0.5).train()
        torch.manual_seed(7)
        if with_diagnostic:
            gradient_flow(net, lambda: net.loss(x, None))
            assert all(p.grad is None for p in net.parameters())
        net.loss(x, None).backward()  # dropout draws the same masks either way
        return [p.grad.clone() for p in net.parameters() if p.grad is not None]

    plain, diagnosed = training_grads(False), training_grads(True)
    assert len(plain) == len(diagnosed) > 0
    for a, b in zip(plain, diagnosed, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(("scale", "saturated"), [(20.0, True), (0.01, False)])
def test_saturation_counts_the_cells_tanh_units(scale: float, saturated: bool) -> None:
    torch.manual_seed(1)
    encoder = RecurrentEncoder(TanhRNNCell, D, H, runner="fused")
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.mul_(scale)
    net = Net(encoder)
    x = torch.randn(B, T, D)
    sample = gradient_flow(net, lambda: net.loss(x, None))
    out, _ = encoder(x)  # a tanh RNN's outputs are its tanh units
    expected = float((out.abs() > 0.99).float().mean())
    assert sample.saturation == {"tanh": pytest.approx(expected)}
    assert (sample.saturation["tanh"] > 0.5) == saturated


def test_a_sigmoid_rnn_vanishes_faster_than_a_tanh_rnn_on_the_same_weights() -> None:
    x = torch.randn(8, 30, D)
    ratios = {}
    for cell in (TanhRNNCell, SigmoidRNNCell):
        torch.manual_seed(3)
        net = Net(RecurrentEncoder(cell, D, H, runner="eager"))

        def last_step_loss(net: Net = net) -> Tensor:
            out, _ = net.encoder(x)
            return net.head(out[:, -1]).pow(2).sum()  # only h_T is read: gradient flows back

        norms = gradient_flow(net, last_step_loss).norms["l0"]
        ratios[cell] = float(norms[0] / norms[-1])
    assert ratios[SigmoidRNNCell] < ratios[TanhRNNCell] < 1
