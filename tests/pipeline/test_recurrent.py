"""Behaviour tests for the recurrent encoder: runners, padding, compilation, copies, config."""

from __future__ import annotations

import copy
import io
import pickle
import warnings

import pytest
import torch

from pipeline.components import Components
from pipeline.config import ConfigError, ModelConfig, build_config
from pipeline.interfaces import Cell
from pipeline.plugins import default_registries
from pipeline.recurrent import RecurrentEncoder
from plugins.cells.gru import GRUCell
from plugins.cells.lstm import LSTMCell
from plugins.cells.rnn import ReluRNNCell, SigmoidRNNCell, TanhRNNCell

D, H, T = 3, 4, 5


def encoder(cell: type[Cell], runner: str, seed: int = 0, **options: object) -> RecurrentEncoder:
    torch.manual_seed(seed)
    return RecurrentEncoder(cell, D, H, runner=runner, **options).eval()


# --- padding ------------------------------------------------------------------------------------

PADDING_RUNS = [
    (LSTMCell, "fused"),
    (GRUCell, "fused"),
    (LSTMCell, "eager"),
    (SigmoidRNNCell, "eager"),
]


@pytest.mark.parametrize(("cell", "runner"), PADDING_RUNS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_padded_batch_matches_each_sequence_run_alone(
    cell: type[Cell], runner: str, with_state: bool
) -> None:
    enc = encoder(cell, runner, num_layers=2, bidirectional=True)
    lengths = [T, 2, 1, 4]
    x = torch.randn(len(lengths), T, D)
    # garbage in the padding must not leak into outputs or states
    for row, length in enumerate(lengths):
        x[row, length:] = 100.0
    state = None
    if with_state:
        state = [torch.randn(4, len(lengths), H) for _ in range(cell.state_size)]
    out, final = enc(x, torch.tensor(lengths), state)

    for row, length in enumerate(lengths):
        assert not out[row, length:].any(), "padded positions must be zero"
        alone_state = None if state is None else [s[:, row : row + 1] for s in state]
        alone_out, alone_final = enc(x[row : row + 1, :length], None, alone_state)
        torch.testing.assert_close(out[row : row + 1, :length], alone_out, atol=1e-5, rtol=1e-5)
        for got, want in zip(final, alone_final, strict=True):
            # both directions of both layers: rows layer * 2 + direction
            torch.testing.assert_close(got[:, row : row + 1], want, atol=1e-5, rtol=1e-5)


def test_lengths_may_live_on_any_device_and_be_shorter_than_t() -> None:
    enc = encoder(GRUCell, "fused")
    x = torch.randn(2, T, D)
    out, _ = enc(x, torch.tensor([3, 2]))
    assert out.shape == (2, T, H)
    assert not out[:, 3:].any()


# --- runner choice ------------------------------------------------------------------------------


def test_fused_runner_without_fused_cell_names_the_config_key() -> None:
    with pytest.raises(ConfigError, match=r"model\.runner") as error:
        RecurrentEncoder(SigmoidRNNCell, D, H, runner="fused")
    assert "SigmoidRNNCell" in str(error.value)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (LSTMCell, "fused"),
        (GRUCell, "fused"),
        (TanhRNNCell, "fused"),
        (ReluRNNCell, "fused"),
        (SigmoidRNNCell, "compiled"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_auto_runner_prefers_fused_kernels_then_compilation(cell: type[Cell], expected: str):
    assert RecurrentEncoder(cell, D, H, runner="auto").runner == expected
    assert RecurrentEncoder(cell, D, H).runner == expected  # auto is the default


@pytest.mark.parametrize("runner", ["eager", "compiled"])
def test_explicit_step_runners_are_kept(runner: str) -> None:
    assert RecurrentEncoder(LSTMCell, D, H, runner=runner).runner == runner


# --- torch.compile ------------------------------------------------------------------------------


def test_compiled_runner_equals_eager_and_still_pickles() -> None:
    compiled = encoder(SigmoidRNNCell, "compiled", seed=4)
    eager = RecurrentEncoder(SigmoidRNNCell, D, H, runner="eager").eval()
    eager.load_state_dict(compiled.state_dict())
    x, lengths = torch.randn(2, 3, D), torch.tensor([3, 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out_c, state_c = compiled(x, lengths)
        again, _ = compiled(x, lengths)  # second call reuses the compiled loop
    assert not [w for w in caught if "torch.compile failed" in str(w.message)]
    assert compiled.runner == "compiled"
    out_e, state_e = eager(x, lengths)
    torch.testing.assert_close(out_c, out_e, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(state_c[0], state_e[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(again, out_c)
    # the compiled loops are dropped when pickling and rebuilt on first use
    restored = pickle.loads(pickle.dumps(compiled))
    assert restored.runner == "compiled" and restored._compiled is None
    torch.testing.assert_close(restored(x, lengths)[0], out_e, atol=1e-6, rtol=1e-5)


@torch.library.custom_op("rnn_pipeline_tests::tanh_without_fake", mutates_args=())
def tanh_without_fake(x: torch.Tensor) -> torch.Tensor:
    """A custom op with no fake (meta) implementation: eager runs it, dynamo cannot trace it."""
    return torch.tanh(x)


class UncompilableCell(TanhRNNCell):
    """The tanh RNN computed through an op that torch.compile cannot trace."""

    fused_mode = None

    def step(self, p_t: torch.Tensor, state: list[torch.Tensor]):
        h = tanh_without_fake(p_t + self.recurrent(state[0]))
        return h, [h]


def test_cell_that_cannot_compile_falls_back_to_eager_with_a_warning() -> None:
    enc = encoder(UncompilableCell, "auto", seed=5)
    assert enc.runner == "compiled"
    reference = RecurrentEncoder(TanhRNNCell, D, H, runner="eager").eval()
    reference.load_state_dict(enc.state_dict())
    x = torch.randn(2, 3, D)
    with pytest.warns(UserWarning, match=r"torch\.compile failed for UncompilableCell.*eager"):
        out, state = enc(x)
    assert enc.runner == "eager"
    expected, expected_state = reference(x)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(state[0], expected_state[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.testing.assert_close(enc(x)[0], expected)
    assert not [w for w in caught if "torch.compile failed" in str(w.message)]  # warned once


# --- copies, pickling, state dicts, dtype -------------------------------------------------------

COPY_RUNS = [(LSTMCell, "fused"), (LSTMCell, "eager"), (SigmoidRNNCell, "eager")]


def perturb(enc: RecurrentEncoder) -> None:
    with torch.no_grad():
        for parameter in enc.parameters():
            parameter.add_(0.25)


@pytest.mark.parametrize(("cell", "runner"), COPY_RUNS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_compute_the_same_and_own_their_weights(
    cell: type[Cell], runner: str, how: str
) -> None:
    enc = encoder(cell, runner, num_layers=2, bidirectional=True)
    x, lengths = torch.randn(3, T, D), torch.tensor([T, 2, 1])
    out, state = enc(x, lengths)
    clone = copy.deepcopy(enc) if how == "deepcopy" else pickle.loads(pickle.dumps(enc))
    assert clone.runner == enc.runner
    out_clone, state_clone = clone(x, lengths)
    torch.testing.assert_close(out_clone, out, rtol=0, atol=0)
    for got, want in zip(state_clone, state, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    # the clone's step loops run the clone's cells, not the original's
    perturb(clone)
    changed, _ = clone(x, lengths)
    assert not torch.allclose(changed, out)
    torch.testing.assert_close(enc(x, lengths)[0], out, rtol=0, atol=0)
    fresh = RecurrentEncoder(cell, D, H, num_layers=2, bidirectional=True, runner=runner).eval()
    fresh.load_state_dict(clone.state_dict())
    torch.testing.assert_close(fresh(x, lengths)[0], changed, rtol=0, atol=0)


@pytest.mark.parametrize(("cell", "runner"), COPY_RUNS, ids=lambda v: getattr(v, "__name__", v))
def test_state_dict_round_trip_gives_identical_outputs(cell: type[Cell], runner: str) -> None:
    enc = encoder(cell, runner, seed=6, num_layers=2, bidirectional=True)
    keys = {f"cells.{i}.{name}" for i in range(4) for name in ("weight_ih", "weight_hh")}
    keys |= {f"cells.{i}.{name}" for i in range(4) for name in ("bias_ih", "bias_hh")}
    assert set(enc.state_dict()) == keys  # the step loops add no duplicate entries
    buffer = io.BytesIO()
    torch.save(enc.state_dict(), buffer)
    buffer.seek(0)
    other = encoder(cell, runner, seed=7, num_layers=2, bidirectional=True)
    x = torch.randn(2, T, D)
    assert not torch.allclose(other(x)[0], enc(x)[0])
    other.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(other(x)[0], enc(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("cell", [LSTMCell, SigmoidRNNCell], ids=lambda c: c.__name__)
def test_double_precision_step_loop_uses_the_moved_weights(cell: type[Cell]) -> None:
    enc = encoder(cell, "eager", num_layers=2, bidirectional=True)
    x, lengths = torch.randn(3, T, D), torch.tensor([T, 2, 1])
    out32, _ = enc(x, lengths)
    enc.double()
    assert all(p.dtype == torch.float64 for p in enc.parameters())
    state = [torch.zeros(4, 3, H, dtype=torch.float64) for _ in range(cell.state_size)]
    out64, final64 = enc(x.double(), lengths, state)
    assert out64.dtype == torch.float64 and all(s.dtype == torch.float64 for s in final64)
    torch.testing.assert_close(out64, out32.double(), atol=1e-5, rtol=1e-5)
    if cell.fused_mode:  # torch's kernel in float64 on the same moved parameters
        fused = RecurrentEncoder(cell, D, H, num_layers=2, bidirectional=True, runner="fused")
        fused.double().load_state_dict(enc.state_dict())
        torch.testing.assert_close(fused(x.double(), lengths, state)[0], out64)
    # changing the moved parameters changes what the loop computes
    perturb(enc)
    assert not torch.allclose(enc(x.double(), lengths, state)[0], out64)


@pytest.mark.parametrize("runner", ["eager", "fused"])
def test_double_precision_default_state_follows_the_input(runner: str) -> None:
    enc = encoder(LSTMCell, runner).double()
    x = torch.randn(2, T, D, dtype=torch.float64)
    out, state = enc(x)  # no state given: the zero state must match x's dtype
    assert out.dtype == torch.float64
    assert all(s.dtype == torch.float64 for s in state)
    explicit = [torch.zeros(1, 2, H, dtype=torch.float64) for _ in range(2)]
    torch.testing.assert_close(out, enc(x, None, explicit)[0])


# --- Components ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cells():
    return default_registries().cells


def test_unknown_cell_options_name_the_config_key(cells) -> None:
    with pytest.raises(ConfigError, match=r"model\.cell_options") as error:
        Components(ModelConfig(cell="lstm", cell_options={"bogus": 1}), cells)
    assert "bogus" in str(error.value)


def test_encoder_honours_the_model_config(cells) -> None:
    model = ModelConfig(
        cell="gru", hidden_size=5, num_layers=3, bidirectional=True, dropout=0.0, runner="eager"
    )
    components = Components(model, cells)
    enc = components.encoder(D)
    assert (enc.hidden_size, enc.num_layers, enc.directions) == (5, 3, 2)
    assert enc.runner == "eager" and enc.dropout == 0.0
    assert len(enc.cells) == 6 and all(isinstance(c, GRUCell) for c in enc.cells)
    assert enc.cells[0].input_size == D and enc.cells[2].input_size == 10
    out, state = enc(torch.randn(2, T, D))
    assert out.shape == (2, T, 10) and state[0].shape == (6, 2, 5)

    one_way = components.encoder(D, bidirectional=False)
    assert one_way.directions == 1 and one_way(torch.randn(2, T, D))[0].shape == (2, T, 5)
    cell = components.cell(7)
    assert isinstance(cell, GRUCell) and (cell.input_size, cell.hidden_size) == (7, 5)
    assert components.cell(7, 2).hidden_size == 2


def test_default_model_config_builds_a_fused_lstm(cells) -> None:
    enc = Components(ModelConfig(), cells).encoder(D)
    model = ModelConfig()
    assert isinstance(enc.cells[0], LSTMCell) and enc.runner == "fused"
    assert (enc.hidden_size, enc.num_layers, enc.dropout) == (
        model.hidden_size,
        model.num_layers,
        model.dropout,
    )


class ScaledTanhCell(TanhRNNCell):
    """A cell with one option: h_t = tanh(scale * (W x + W h + b))."""

    fused_mode = None

    def __init__(self, input_size: int, hidden_size: int, scale: float = 1.0) -> None:
        super().__init__(input_size, hidden_size)
        self.scale = scale

    def step(self, p_t: torch.Tensor, state: list[torch.Tensor]):
        h = torch.tanh(self.scale * (p_t + self.recurrent(state[0])))
        return h, [h]


def test_cell_options_reach_every_cell() -> None:
    registry = default_registries().cells
    registry.register("scaled_tanh", ScaledTanhCell)
    model = ModelConfig(cell="scaled_tanh", cell_options={"scale": 0.5}, num_layers=2)
    enc = Components(model, registry).encoder(D)
    assert [c.scale for c in enc.cells] == [0.5, 0.5]
    with pytest.raises(ConfigError, match=r"model\.cell_options"):
        Components(ModelConfig(cell="scaled_tanh", cell_options={"scael": 0.5}), registry)


@pytest.mark.parametrize("runner", ["auto", "fused", "compiled", "eager"])
def test_every_encoder_runner_is_a_valid_config_value(runner: str) -> None:
    cfg = build_config({"model": {"runner": runner}})
    assert cfg.model.runner == runner
