"""A task's predict options: declared as ``Task.PredictOptions``, checked with "did you mean"."""

from __future__ import annotations

import pytest

from pipeline.errors import OptionError, UserError
from pipeline.predict_options import options_help, parse_option_items, predict_options
from plugins.tasks.language_model import LanguageModelTask
from plugins.tasks.tagging import TaggingTask


def test_defaults_fill_every_option_the_task_declares() -> None:
    options = predict_options(LanguageModelTask, {"top_k": 2})
    assert options == {"top_k": 2, "sample": 0, "temperature": 1.0, "seed": 0}


def test_an_unknown_option_suggests_the_close_one() -> None:
    with pytest.raises(OptionError, match=r"no predict option 'tempratur'; did you mean "):
        predict_options(LanguageModelTask, {"tempratur": 0.5})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"top_k": "three"}, "'top_k' of LanguageModelTask must be of type int, got 'three'"),
        ({"top_k": True}, "must be of type int, got True"),
        ({"top_k": 0}, "top_k must be at least 1, got 0"),
        ({"temperature": 0}, "temperature must be > 0, got 0"),
    ],
)
def test_values_are_checked_by_type_and_by_the_task(given: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        predict_options(LanguageModelTask, given)


def test_a_task_without_predict_options_takes_none() -> None:
    assert predict_options(TaggingTask, {}) == {}
    with pytest.raises(OptionError, match=r"no predict option 'top_k' \(options: none\)"):
        predict_options(TaggingTask, {"top_k": 3})
    assert options_help(TaggingTask) == "TaggingTask has no predict options."


def test_items_are_read_as_yaml_values() -> None:
    assert parse_option_items(["top_k=3", "temperature=0.5", "name=x"]) == {
        "top_k": 3,
        "temperature": 0.5,
        "name": "x",
    }
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        parse_option_items(["top_k"])


def test_help_lists_each_option_with_type_default_and_help() -> None:
    assert options_help(LanguageModelTask).splitlines() == [
        "predict options of LanguageModelTask (--option KEY=VALUE):",
        "  top_k (int, default 5): how many ranked next tokens",
        "  sample (int, default 0): also sample a continuation of N tokens",
        "  temperature (float, default 1.0): sampling temperature (> 0)",
        "  seed (int, default 0): seed of the sampling",
    ]
