"""Conditional keys of a tune space (``when``): validated before any trial against the config
and the component chosen in each branch, and sampled by a real Optuna study (SQLite storage in
tmp_path) only in the trials whose branch uses them."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from tiny import TINY_CONFIG

from pipeline.config import ConfigError
from pipeline.plugins import default_registries
from pipeline.search_space import SearchSpace, load_space, trial_config

FORGET_BIAS = {"float": [0.5, 1.5], "when": {"model.cell": "lstm"}}


@pytest.fixture(scope="module")
def registries():
    return default_registries()


def space_file(tmp_path: Path, params: dict, sampler: str = "random") -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"sampler": {"name": sampler, "seed": 7}, "params": params}))
    return path


def problems(tmp_path: Path, registries, params: dict, sampler: str = "random") -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_space(space_file(tmp_path, params, sampler), TINY_CONFIG, registries)
    return error.value.problems


def run_study(space: SearchSpace, tmp_path: Path, n_trials: int) -> optuna.Study:
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        sampler=optuna.samplers.RandomSampler(seed=7),
    )
    study.optimize(lambda trial: float(len(space.sample(trial))), n_trials=n_trials)
    return study


def test_a_conditional_key_is_sampled_only_in_its_branch(tmp_path: Path, registries) -> None:
    params = {
        "model.cell_options.forget_bias": FORGET_BIAS,  # listed first: sampled after the cell
        "model.cell": {"choice": ["lstm", "gru"]},
        "optim.lr": {"float": [1e-3, 1e-1], "log": True},
    }
    space = load_space(space_file(tmp_path, params), TINY_CONFIG, registries)
    assert [p.key for p in space.params][:2] == ["model.cell", "model.cell_options.forget_bias"]
    study = run_study(space, tmp_path, n_trials=12)
    cells = [trial.params["model.cell"] for trial in study.trials]
    assert {"lstm", "gru"} == set(cells)
    for trial in study.trials:
        sampled = "model.cell_options.forget_bias" in trial.params
        assert sampled == (trial.params["model.cell"] == "lstm")
        assert 0.5 <= trial.params.get("model.cell_options.forget_bias", 1.0) <= 1.5
        cfg = trial_config(TINY_CONFIG, trial.params, registries)  # every trial builds
        assert cfg.model.cell_options == (
            {"forget_bias": trial.params["model.cell_options.forget_bias"]} if sampled else {}
        )


def test_a_condition_on_a_config_key_is_fixed_for_the_study(tmp_path: Path, registries) -> None:
    params = {"model.cell_options.forget_bias": FORGET_BIAS, "optim.lr": {"float": [0.01, 0.1]}}
    space = load_space(space_file(tmp_path, params), TINY_CONFIG, registries)  # cell: lstm
    assert space.fixed == {"model.cell": "lstm"}
    study = run_study(space, tmp_path, n_trials=3)
    assert all("model.cell_options.forget_bias" in trial.params for trial in study.trials)


def test_an_option_of_one_choice_without_when_fails_naming_the_fix(tmp_path, registries) -> None:
    params = {
        "model.cell": {"choice": ["lstm", "gru", "rnn_tanh"]},
        "model.cell_options.forget_bias": {"float": [0.5, 1.5]},
    }
    found = problems(tmp_path, registries, params)
    assert any(
        p.startswith("params.model.cell_options.forget_bias=0.5 (with model.cell='gru'): ")
        and "model.cell=gru takes no options" in p
        for p in found
    )
    assert "add when: {model.cell: ['lstm']}" in found[-1]
    assert not any("model.cell='lstm'" in p for p in found)


def test_the_option_is_checked_against_the_component_of_its_branch(tmp_path, registries) -> None:
    params = {
        "model.cell": {"choice": ["lstm", "gru"]},
        "model.cell_options.forget_bias": {"float": [0.5, 1.5], "when": {"model.cell": "gru"}},
        "init.bias": {"choice": ["zeros", "uniform"]},
        "init.options.bias.a": {"float": [-0.5, -0.1], "when": {"init.bias": "uniform"}},
        "init.options.bias.c": {"float": [0.1, 0.5], "when": {"init.bias": "uniform"}},
    }
    found = problems(tmp_path, registries, params)
    assert any("(with model.cell='gru'): model.cell_options.forget_bias" in p for p in found)
    assert any(
        "(with init.bias='uniform'): init.options.bias.c: unknown option" in p for p in found
    )
    assert not any("init.options.bias.a" in p for p in found)


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ({"model.cell": "lstn"}, "'lstn' is never sampled for model.cell (choices: lstm, gru)"),
        ({"model.cel": "lstm"}, "'model.cel' is neither a searched key nor a config key"),
        ({"model.num_layers": 3}, "model.num_layers is 1 in the config and not searched"),
        ({"optim.lr": 5.0}, "5.0 is never sampled for optim.lr (float in [0.001, 0.1])"),
        ("lstm", "params.model.cell_options.forget_bias.when: give a mapping KEY: VALUE"),
    ],
)
def test_bad_conditions_are_reported_before_any_trial(
    tmp_path: Path, registries, when, fragment: str
) -> None:
    params = {
        "model.cell": {"choice": ["lstm", "gru"]},
        "optim.lr": {"float": [1e-3, 1e-1]},
        "model.cell_options.forget_bias": {"float": [0.5, 1.5], "when": when},
    }
    assert any(fragment in p for p in problems(tmp_path, registries, params))


def test_cycles_and_the_grid_sampler_are_refused(tmp_path: Path, registries) -> None:
    cycle = {
        "model.num_layers": {"int": [1, 2], "when": {"model.hidden_size": 8}},
        "model.hidden_size": {"int": [8, 16], "when": {"model.num_layers": 2}},
    }
    assert any("the conditions form a cycle" in p for p in problems(tmp_path, registries, cycle))
    grid = {"model.cell": {"choice": ["lstm", "gru"]}, "model.cell_options.forget_bias": {
        "choice": [0.5, 1.0], "when": {"model.cell": "lstm"}}}  # fmt: skip
    found = problems(tmp_path, registries, grid, sampler="grid")
    assert any("the grid sampler samples every key in every trial" in p for p in found)
