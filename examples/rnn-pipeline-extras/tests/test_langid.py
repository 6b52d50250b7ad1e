"""The language-identification task: the task contract (DDP included), reading its files,
ranked predictions."""

from __future__ import annotations

from pathlib import Path

import pytest
from rnn_pipeline_extras.langid import LangIdTask
from rnn_pipeline_extras.langid_data import write_langid_files

from pipeline.config import Config, build_config
from pipeline.errors import DataError
from pipeline.plugins import default_registries
from pipeline.testing import check_task

TEXTS = ["la ley nueva", "the new law", "das neue gesetz"]


def langid_config(directory: Path, **task: object) -> Config:
    paths = write_langid_files(directory)
    raw = {
        "task": {"name": "language_id", **task},
        "data": {"batch_size": 16, "eval_batch_size": 8, **{k: str(v) for k, v in paths.items()}},
        "model": {"cell": "gru", "embedding_size": 8, "hidden_size": 16, "runner": "eager"},
        "optim": {"name": "adam", "lr": 0.02},
    }
    return build_config(raw, default_registries())


def test_language_id_meets_the_task_contract(tmp_path: Path) -> None:
    check_task(LangIdTask, langid_config(tmp_path / "data"), TEXTS, cache_dir=tmp_path / "check")


def test_predictions_rank_top_k_languages(tmp_path: Path) -> None:
    task = LangIdTask(langid_config(tmp_path / "data", max_chars=10))
    task.prepare_data(tmp_path / "cache")
    assert task.labels == ["de", "en", "es"] and task.splits["train"][0].shape[1] <= 10
    from pipeline.components import Components

    network = task.build_network(Components(task.cfg.model, default_registries().cells))
    [prediction] = task.predict(network, ["hola"], top_k=2)
    probabilities = [item["probability"] for item in prediction["languages"]]
    assert len(probabilities) == 2 and probabilities == sorted(probabilities, reverse=True)


def test_a_line_without_a_tab_names_file_and_line(tmp_path: Path) -> None:
    cfg = langid_config(tmp_path / "data")
    Path(cfg.data.train).write_text("es\tla ley\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"data.train: file .*train.tsv', line 2: write LABEL"):
        LangIdTask(cfg).prepare_data(tmp_path / "cache")
