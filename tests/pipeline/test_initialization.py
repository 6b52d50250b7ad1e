"""Behaviour tests for seeded, grouped initialisation of a network."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from torch import nn

from pipeline.config import INIT_GROUPS, ConfigError, InitConfig, build_config
from pipeline.initialization import (
    declared_parameters,
    explicit_groups,
    initialize,
    parameter_groups,
)
from pipeline.interfaces import Cell
from pipeline.plugins import PluginError, default_registries
from pipeline.recurrent import RecurrentEncoder
from plugins.cells.lstm import LSTMCell

V, E, H = 11, 6, 5


class TinyLM(nn.Module):
    """Embedding -> 2-layer bidirectional LSTM encoder -> linear head (optionally tied)."""

    def __init__(self, tied: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.encoder = RecurrentEncoder(
            LSTMCell, E, H, num_layers=2, bidirectional=True, runner="eager"
        )
        self.project = nn.Linear(2 * H, E)  # down to E so the output can share the embedding
        self.output = nn.Linear(E, V)
        if tied:
            self.output.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(self.embedding(tokens))
        return self.output(self.project(out))


def token_lengths(
    tensor: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    vocab: Sequence[str],
    scale: float = 1.0,
) -> dict[str, float]:
    """A test-only vectors-style initializer (not called ``pretrained``): row i = len(vocab[i])."""
    with torch.no_grad():
        for row, token in enumerate(vocab):
            tensor[row] = scale * len(token)
    return {"rows": len(vocab)}


def broken(tensor: torch.Tensor, *, generator: torch.Generator | None = None) -> None:
    """A test-only initializer with a bug: a TypeError that has nothing to do with options."""
    tensor.add_("oops")


@pytest.fixture(scope="module")
def initializers():
    registry = default_registries().initializers
    registry.register("token_lengths", token_lengths)
    registry.register("broken", broken)
    return registry


def ids(parameters: list[nn.Parameter]) -> list[int]:
    """Parameter identities, so that group comparisons never call tensor ``==``."""
    return [id(p) for p in parameters]


def names_by_group(network: nn.Module) -> dict[str, set[str]]:
    names = {id(p): name for name, p in network.named_parameters()}
    return {group: {names[id(p)] for p in ps} for group, ps in parameter_groups(network).items()}


def test_every_parameter_lands_in_exactly_one_group() -> None:
    network = TinyLM()
    groups = parameter_groups(network)
    assert list(groups) == list(INIT_GROUPS)
    grouped = [id(p) for ps in groups.values() for p in ps]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == {id(p) for p in network.parameters()}

    by_name = names_by_group(network)
    cells = [f"encoder.cells.{i}" for i in range(4)]
    assert by_name["embedding"] == {"embedding.weight"}
    assert by_name["input"] == {f"{c}.weight_ih" for c in cells}
    assert by_name["recurrent"] == {f"{c}.weight_hh" for c in cells}
    assert by_name["bias"] == {f"{c}.{b}" for c in cells for b in ("bias_ih", "bias_hh")} | {
        "project.bias",
        "output.bias",
    }
    assert by_name["output"] == {"project.weight", "output.weight"}


def test_tied_weights_are_grouped_once_as_embedding() -> None:
    network = TinyLM(tied=True)
    assert network.output.weight is network.embedding.weight
    groups = parameter_groups(network)
    grouped = [id(p) for ps in groups.values() for p in ps]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == {id(p) for p in network.parameters()}
    assert ids(groups["embedding"]) == ids([network.embedding.weight])
    assert all(p is not network.embedding.weight for p in groups["output"])
    assert names_by_group(network)["output"] == {"project.weight"}


def test_initialize_fills_each_group_with_its_initializer(initializers) -> None:
    network = TinyLM(tied=True)
    init = InitConfig(
        embedding="zeros",
        input="xavier_uniform",
        recurrent="orthogonal",
        bias="zeros",
        output="normal",
        options={"output": {"std": 0.5}},
    )
    facts = initialize(network, init, initializers, seed=3)
    assert facts == {}
    groups = parameter_groups(network)
    assert not network.embedding.weight.any()
    assert not network.output.weight.any()  # tied: initialised once, as the embedding
    assert all(not p.any() for p in groups["bias"])
    for weight in groups["recurrent"]:  # (4H, H): tall, so orthonormal columns
        assert weight.shape == (4 * H, H)
        torch.testing.assert_close(weight.T @ weight, torch.eye(H), atol=1e-5, rtol=0)
    for weight in groups["input"]:
        fan_out, fan_in = weight.shape
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        assert weight.abs().max() <= bound and weight.abs().max() > 0
    assert network.project.weight.std() > 0.2  # N(0, 0.5^2), not torch's default init
    out = network(torch.randint(0, V, (2, 4)))
    assert torch.isfinite(out).all()


def test_same_seed_same_weights_other_seed_other_weights(initializers) -> None:
    def weights(seed: int, build_seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(build_seed)  # torch's own init differs: initialize must overwrite it
        network = TinyLM()
        initialize(network, InitConfig(), initializers, seed=seed)
        return {name: p.detach().clone() for name, p in network.named_parameters()}

    first, again, other = weights(1, 100), weights(1, 200), weights(2, 100)
    assert first.keys() == again.keys() == other.keys()
    for name in first:
        torch.testing.assert_close(first[name], again[name], rtol=0, atol=0)
    random_groups = ["embedding.weight", "encoder.cells.0.weight_ih", "encoder.cells.0.weight_hh"]
    random_groups.append("output.weight")
    for name in random_groups:
        assert not torch.equal(first[name], other[name]), name


def test_initialize_leaves_ungrouped_parameters_alone(initializers) -> None:
    network = TinyLM()
    network.scale = nn.Parameter(torch.full((3,), 7.0))
    initialize(network, InitConfig(), initializers, seed=0)
    torch.testing.assert_close(network.scale.detach(), torch.full((3,), 7.0))


def test_bad_initializer_options_name_the_group(initializers) -> None:
    network = TinyLM()
    before = {name: p.detach().clone() for name, p in network.named_parameters()}
    init = InitConfig(options={"embedding": {"bogus": 1}})
    with pytest.raises(ConfigError, match=r"init\.embedding") as error:
        initialize(network, init, initializers, seed=0)
    assert "bogus" in str(error.value)
    torch.testing.assert_close(network.embedding.weight.detach(), before["embedding.weight"])

    bad_value = InitConfig(recurrent="orthogonal", options={"recurrent": {"gain": -1.0}})
    with pytest.raises(ConfigError, match=r"init\.recurrent"):
        initialize(network, bad_value, initializers, seed=0)

    last_group = InitConfig(embedding="zeros", options={"output": {"gian": 2.0}})
    with pytest.raises(ConfigError, match=r"init\.options\.output\.gian.*gain"):
        initialize(network, last_group, initializers, seed=0)
    torch.testing.assert_close(network.embedding.weight.detach(), before["embedding.weight"])


def test_an_initializer_that_names_vocab_gets_the_vocabulary(initializers) -> None:
    network = TinyLM()
    vocabulary = [f"w{'x' * i}" for i in range(V)]
    init = InitConfig(embedding="token_lengths", options={"embedding": {"scale": 0.5}})
    facts = initialize(network, init, initializers, seed=0, vocabulary=vocabulary)
    assert facts == {"init.embedding.rows": V}
    expected = torch.tensor([0.5 * (i + 1) for i in range(V)]).unsqueeze(1).expand(V, E)
    torch.testing.assert_close(network.embedding.weight.detach(), expected)


class TwoSided(nn.Module):
    """A translation-like network: a source and a target embedding with different vocabularies."""

    def __init__(self) -> None:
        super().__init__()
        self.source = nn.Embedding(V, E)
        self.decoder = nn.ModuleDict({"embedding": nn.Embedding(V - 3, E)})


def test_each_embedding_gets_the_vocabulary_of_its_side(initializers) -> None:
    network = TwoSided()
    source = [f"s{'x' * i}" for i in range(V)]  # row i: i + 1 characters
    target = [f"tt{'x' * i}" for i in range(V - 3)]  # row i: i + 2 characters
    init = InitConfig(embedding="token_lengths")
    facts = initialize(network, init, initializers, 0, source, {"decoder.embedding": target})
    assert facts == {"init.embedding.rows": V, "init.embedding.decoder.embedding.rows": V - 3}
    rows = network.source.weight.detach()[:, 0]
    torch.testing.assert_close(rows, torch.arange(1.0, V + 1))
    rows = network.decoder["embedding"].weight.detach()[:, 0]
    torch.testing.assert_close(rows, torch.arange(2.0, V - 1))


def test_vocabularies_must_name_an_embedding(initializers) -> None:
    with pytest.raises(ValueError, match="names 'decoder', which is no nn.Embedding"):
        initialize(TwoSided(), InitConfig(), initializers, 0, None, {"decoder": ["a"]})


def test_the_config_checks_such_an_initializer_without_its_vocab(initializers) -> None:
    registries = default_registries()
    registries.initializers = initializers
    cfg = build_config({"init": {"embedding": "token_lengths"}}, registries)
    assert cfg.init.embedding == "token_lengths"
    with pytest.raises(ConfigError, match=r"init\.options\.embedding\.vocab.*supplies"):
        build_config(
            {"init": {"embedding": "token_lengths", "options": {"embedding": {"vocab": ["a"]}}}},
            registries,
        )


def test_a_bug_in_an_initializer_is_not_reported_as_a_config_error(initializers) -> None:
    with pytest.raises(TypeError) as error:
        initialize(TinyLM(), InitConfig(bias="broken"), initializers, seed=0)
    assert not isinstance(error.value, ConfigError)


class LinearCell(Cell):
    """A plugin-style cell built from nn.Linear blocks; it groups only its input weight."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.ih = nn.Linear(input_size, hidden_size)
        self.hh = nn.Linear(hidden_size, hidden_size, bias=False)

    def step(self, p_t: torch.Tensor, state: list[torch.Tensor]):
        h = torch.tanh(self.ih(p_t) + self.hh(state[0]))
        return h, [h]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"input": [self.ih.weight]}


def test_cell_parameters_it_does_not_list_keep_their_own_init(initializers) -> None:
    """Cell.parameter_groups: "unlisted parameters keep their own init" (pipeline.interfaces)."""
    network = nn.Sequential(RecurrentEncoder(LinearCell, 3, 4, runner="eager"), nn.Linear(4, 2))
    cell = network[0].cells[0]
    groups = parameter_groups(network)
    assert ids(groups["input"]) == ids([cell.ih.weight])
    assert ids(groups["output"]) == ids([network[1].weight])
    assert ids(groups["bias"]) == ids([network[1].bias])
    before = {name: p.detach().clone() for name, p in cell.named_parameters()}
    initialize(network, InitConfig(input="zeros", output="zeros"), initializers, seed=0)
    assert not cell.ih.weight.any()
    torch.testing.assert_close(cell.hh.weight.detach(), before["hh.weight"], rtol=0, atol=0)
    torch.testing.assert_close(cell.ih.bias.detach(), before["ih.bias"], rtol=0, atol=0)


# --- initial values that components declare for themselves (own_init) ---------------------------


class ForgetBiasLM(nn.Module):
    """Embedding -> one LSTM layer whose cells declare a forget-gate bias -> linear head."""

    def __init__(self, forget_bias: float | None = 0.5) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.encoder = RecurrentEncoder(
            lambda d, h: LSTMCell(d, h, forget_bias=forget_bias), E, H, runner="eager"
        )
        self.output = nn.Linear(H, V)

    @property
    def cell(self) -> LSTMCell:
        return self.encoder.cells[0]


def forget_slice(cell: LSTMCell) -> torch.Tensor:
    """Effective forget-gate bias b_ih + b_hh (gate order i, f, g, o): (H,)."""
    return (cell.bias_ih + cell.bias_hh).detach()[H : 2 * H]


def test_declared_forget_bias_survives_the_default_bias_group(initializers) -> None:
    network = ForgetBiasLM(forget_bias=0.5)
    facts = initialize(network, InitConfig(bias="zeros"), initializers, seed=0)
    torch.testing.assert_close(forget_slice(network.cell), torch.full((H,), 0.5))
    other_gates = torch.cat([network.cell.bias_ih[:H], network.cell.bias_ih[2 * H :]])
    assert not other_gates.any() and not network.cell.bias_hh.any()
    assert not network.output.bias.any()  # undeclared biases still get init.bias
    assert facts["init.bias.kept_own_init"] == 2
    assert network.cell.weight_ih.abs().sum() > 0  # other groups are filled as before


def test_without_the_option_the_bias_group_fills_the_cell_as_before(initializers) -> None:
    network = ForgetBiasLM(forget_bias=None)
    assert network.cell.bias_ih.any()  # torch's uniform init from __init__
    facts = initialize(network, InitConfig(), initializers, seed=0)
    assert not network.cell.bias_ih.any() and not network.cell.bias_hh.any()
    assert "init.bias.kept_own_init" not in facts


@pytest.mark.parametrize(
    "init",
    [InitConfig(bias="normal"), InitConfig(bias="uniform", options={"bias": {"a": 2.0, "b": 3.0}})],
    ids=["other-initializer", "with-options"],
)
def test_an_explicit_bias_group_overwrites_declared_values_with_a_warning(
    initializers, init: InitConfig
) -> None:
    network = ForgetBiasLM(forget_bias=0.5)
    with pytest.warns(UserWarning, match=r"init\.bias=.* encoder\.cells\.0\.bias_ih"):
        facts = initialize(network, init, initializers, seed=0)
    assert "init.bias.kept_own_init" not in facts
    assert not torch.allclose(forget_slice(network.cell), torch.full((H,), 0.5))


def test_explicit_groups_are_judged_by_value_not_by_presence() -> None:
    assert explicit_groups(InitConfig()) == set()
    assert explicit_groups(InitConfig(bias="zeros", input="xavier_uniform")) == set()
    assert explicit_groups(InitConfig(bias="normal")) == {"bias"}
    assert explicit_groups(InitConfig(options={"input": {"gain": 2.0}})) == {"input"}


class BiasedHead(nn.Linear):
    """A task-network head (not a cell) that starts its bias at log class priors."""

    def __init__(self, priors: torch.Tensor) -> None:
        super().__init__(H, len(priors))
        with torch.no_grad():
            self.bias.copy_(priors.log())

    def own_init(self) -> tuple[str, ...]:
        return ("bias",)


def test_any_module_of_a_task_network_can_declare_its_own_init(initializers) -> None:
    priors = torch.tensor([0.7, 0.2, 0.1])
    network = nn.Sequential(RecurrentEncoder(LSTMCell, E, H, runner="eager"), BiasedHead(priors))
    facts = initialize(network, InitConfig(), initializers, seed=0)
    torch.testing.assert_close(network[1].bias.detach(), priors.log())
    assert network[1].weight.abs().sum() > 0
    assert facts["init.bias.kept_own_init"] == 1


def test_own_init_naming_a_parameter_it_lacks_is_a_plugin_error(initializers) -> None:
    class Misdeclared(BiasedHead):
        def own_init(self) -> tuple[str, ...]:
            return ("bais",)

    with pytest.raises(PluginError, match=r"Misdeclared\.own_init\(\) names 'bais'.*bias"):
        declared_parameters(nn.Sequential(Misdeclared(torch.tensor([0.5, 0.5]))))


def test_forget_bias_option_is_checked_with_the_config() -> None:
    raw = {"model": {"cell": "lstm", "cell_options": {"forget_bias": float("inf")}}}
    with pytest.raises(ConfigError, match="forget_bias' must be finite"):
        build_config(raw, default_registries())
    fine = build_config({"model": {"cell_options": {"forget_bias": 1}}}, default_registries())
    assert fine.model.cell_options == {"forget_bias": 1}
