"""The language model's adaptive softmax: the exact distribution, the task contract, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_json import run_json
from torch.nn import functional as F

from pipeline.components import Components
from pipeline.config import ConfigError, load_config
from pipeline.errors import UserError
from pipeline.plugins import Registries, default_registries
from pipeline.testing import check_task
from pipeline.testing.fixtures import TaskSetup, language_model_setup
from plugins.tasks.language_model.task import LanguageModelNetwork, LanguageModelTask

ADAPTIVE = ["task.softmax=adaptive", "task.adaptive_cutoffs=[20,60]"]


@pytest.fixture(scope="module")
def registries() -> Registries:
    return default_registries()


def adaptive_setup(directory: Path, registries: Registries, cutoffs: list[int]) -> TaskSetup:
    setup = language_model_setup(directory, registries)
    setup.cfg.task.options.softmax = "adaptive"
    setup.cfg.task.options.adaptive_cutoffs = cutoffs
    return setup


def built(
    setup: TaskSetup, registries: Registries, cache: Path
) -> tuple[LanguageModelTask, LanguageModelNetwork]:
    task = LanguageModelTask(setup.cfg)
    task.prepare_data(cache)
    network = task.build_network(Components(setup.cfg.model, registries.cells))
    assert isinstance(network, LanguageModelNetwork)
    return task, network


def test_adaptive_scores_are_log_probabilities_and_the_loss_is_their_cross_entropy(
    tmp_path: Path, registries: Registries
) -> None:
    task, network = built(adaptive_setup(tmp_path, registries, [20, 60]), registries, tmp_path)
    assert isinstance(network.output, torch.nn.AdaptiveLogSoftmaxWithLoss)
    network.eval()
    inputs, targets = next(iter(task.dataloader("train")))  # (B, T) each
    scores, _ = network(inputs)  # (B, T, V)
    assert scores.shape == (*inputs.shape, len(task.vocabulary()))
    torch.testing.assert_close(scores.logsumexp(-1), torch.zeros(inputs.shape))
    features, _ = network.features(inputs)
    expected = F.cross_entropy(scores.flatten(0, 1), targets.flatten())
    torch.testing.assert_close(network.loss(features, targets), expected)


def test_the_adaptive_language_model_passes_check_task_with_ddp(
    tmp_path: Path, registries: Registries
) -> None:
    setup = adaptive_setup(tmp_path / "data", registries, [20, 60])
    notes = check_task(LanguageModelTask, setup.cfg, setup.texts, cache_dir=tmp_path / "check")
    assert not any("ddp" in note.lower() for note in notes), notes


def test_cutoffs_beyond_the_vocabulary_name_the_key_and_its_size(
    tmp_path: Path, registries: Registries
) -> None:
    setup = adaptive_setup(tmp_path, registries, [20, 5000])
    with pytest.raises(UserError, match=r"task.adaptive_cutoffs \[20, 5000\] .*vocabulary size"):
        built(setup, registries, tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task.adaptive_cutoffs=[60,20]"], "task.adaptive_cutoffs .* increasing"),
        (["task.adaptive_cutoffs=[]"], "task.adaptive_cutoffs .* increasing"),
        (["task.tie_weights=true"], "task.tie_weights=false"),
    ],
)
def test_impossible_adaptive_options_are_config_errors(
    lm_config: Path, overrides: list[str], message: str, registries: Registries
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(lm_config, ["task.softmax=adaptive", *overrides], registries)


@pytest.mark.slow
def test_cli_trains_predicts_and_evaluates_with_the_adaptive_softmax(
    lm_config: Path, capsys: pytest.CaptureFixture
) -> None:
    trained = run_json(capsys, "train", str(lm_config), "trainer.max_epochs=1", *ADAPTIVE)
    assert trained["metrics"]["test_ppl"] > 1
    predicted = run_json(capsys, "predict", "--run", trained["run_id"], "el gobierno")
    probabilities = [item["probability"] for item in predicted["predictions"][0]["next"]]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1
    evaluated = run_json(capsys, "evaluate", "--run", trained["run_id"])
    assert evaluated["metrics"]["test_ppl"] == pytest.approx(
        trained["metrics"]["test_ppl"], rel=1e-4
    )
