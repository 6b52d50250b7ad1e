"""The captioning task on each data layout, with encoders chosen by name, and its config errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pipeline.components import Components
from pipeline.config import ConfigError, build_config
from pipeline.plugins import Registries, default_registries
from pipeline.testing.fixtures import TINY_MODEL
from plugins.image_encoders.resnet import ResNet18
from plugins.tasks.captioning import CaptioningTask
from plugins.tasks.captioning.shapes import write_flickr8k_fake, write_shapes

SMALL_CNN = {"channels": 4, "blocks": 2, "image_size": 16}
Layout = Callable[[Path], tuple[dict[str, Any], dict[str, Any]]]
"""Writes data in one layout into a folder; returns the task and data config sections."""


@pytest.fixture(scope="module")
def registries() -> Registries:
    return default_registries()


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shapes")
    return write_shapes(folder, n_train=10, n_validation=4, n_test=4, seed=1, size=16)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def config(registries: Registries, task: dict[str, Any], data: dict[str, Any], **more: Any) -> Any:
    raw = {
        "task": {"name": "captioning", "image_encoder_options": SMALL_CNN, **task},
        "data": {"batch_size": 4, "eval_batch_size": 4, **data},
        "model": {**TINY_MODEL, "embedding_size": 8, "hidden_size": 8},
        "optim": {"name": "adam", "lr": 0.01},
        **more,
    }
    return build_config(raw, registries)


def train_one_step(cfg: Any, registries: Registries, cache: Path) -> tuple[CaptioningTask, Any]:
    """prepare_data, build the network, one optimizer step on the first training batch."""
    task = CaptioningTask(cfg)
    task.prepare_data(cache)
    network = task.build_network(Components(cfg.model, registries.cells, registries.image_encoders))
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
    batch = next(iter(task.dataloader("train")))
    loss = task.step(network, batch, None, task.metrics()).loss
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and loss > 0
    return task, network


# ----------------------------------------------------------------------------- layouts


def jsonl(shapes: dict[str, Path]) -> Layout:
    def write(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {split: str(path) for split, path in shapes.items()}

    return write


def csv_rows(shapes: dict[str, Path]) -> Layout:
    """One row a caption (Kaggle's Flickr8k captions.txt); validation/test carved."""

    def write(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        path = folder / "captions.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "text"])
            for row in rows(shapes["train"]):
                writer.writerows([[row["image"], caption] for caption in row["caption"]])
        task = {"image_column": "file", "caption_columns": ["text"]}
        task["image_root"] = str(shapes["train"].parent)
        return task, {"train": str(path), "validation_fraction": 0.2, "test_fraction": 0.2}

    return write


def coco(shapes: dict[str, Path]) -> Layout:
    def write(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        paths = {}
        for split, source in shapes.items():
            images, annotations = [], []
            for number, row in enumerate(rows(source)):
                images.append({"id": number, "file_name": row["image"]})
                annotations += [{"image_id": number, "caption": c} for c in row["caption"]]
            paths[split] = str(folder / f"captions_{split}.json")
            Path(paths[split]).write_text(
                json.dumps({"images": images, "annotations": annotations})
            )
        return {"layout": "coco", "image_root": str(shapes["train"].parent)}, paths

    return write


def flickr(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    paths = write_flickr8k_fake(folder / "flickr8k", n_images=20)
    task = {"captions_file": str(paths["captions"]), "image_root": str(paths["images"])}
    return task, {split: str(paths[split]) for split in ("train", "validation", "test")}


def dataset(shapes: dict[str, Path]) -> Layout:
    """A datasets folder (save_to_disk) with an Image column and a list-of-captions column."""

    def write(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        datasets = pytest.importorskip("datasets")
        root = shapes["train"].parent
        splits = {}
        for split, source in shapes.items():
            table = {
                "picture": [str(root / row["image"]) for row in rows(source)],
                "refs": [row["caption"] for row in rows(source)],
            }
            splits[split] = datasets.Dataset.from_dict(table).cast_column(
                "picture", datasets.Image()
            )
        datasets.DatasetDict(splits).save_to_disk(folder / "saved")
        task = {"image_column": "picture", "caption_columns": ["refs"]}
        return task, {"name": str(folder / "saved")}

    return write


LAYOUTS = ("jsonl", "csv", "coco", "flickr", "dataset")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_data_layout_reaches_training(
    layout: str, shapes: dict[str, Path], registries: Registries, tmp_path: Path
) -> None:
    writers: dict[str, Layout] = {
        "jsonl": jsonl(shapes),
        "csv": csv_rows(shapes),
        "coco": coco(shapes),
        "flickr": flickr,
        "dataset": dataset(shapes),
    }
    task_section, data_section = writers[layout](tmp_path)
    cfg = config(registries, task_section, data_section)
    task, network = train_one_step(cfg, registries, tmp_path / "cache")
    test = task.data["test"]
    assert len(test) >= 2 and test.images.shape[1:] == (3, 16, 16)
    assert all(len(references) >= 1 for references in test.references)
    batch = next(iter(task.dataloader("test")))
    assert batch.search == "beam" and len(batch.references) == batch.images.size(0)
    metrics = task.metrics()
    with torch.no_grad():
        task.step(network.eval(), batch, None, metrics)
    assert 0 <= float(metrics["bleu4"].compute()) <= 1


def test_cache_is_reused_and_follows_the_encoders_image_size(
    shapes: dict[str, Path], registries: Registries, tmp_path: Path
) -> None:
    data = {split: str(path) for split, path in shapes.items()}

    def folders() -> list[Path]:
        return [path for path in tmp_path.iterdir() if path.is_dir()]

    first = CaptioningTask(config(registries, {}, data))
    first.prepare_data(tmp_path)
    again = CaptioningTask(config(registries, {}, data))
    again.prepare_data(tmp_path)
    assert len(folders()) == 1  # one cache folder, built once
    assert torch.equal(first.data["test"].images, again.data["test"].images)
    bigger = {**SMALL_CNN, "image_size": 24}
    other = CaptioningTask(config(registries, {"image_encoder_options": bigger}, data))
    other.prepare_data(tmp_path)
    assert other.data["train"].images.shape[-1] == 24 and len(folders()) == 2


# ----------------------------------------------------------------------------- encoders


def test_an_image_encoder_plugin_is_chosen_by_name(
    shapes: dict[str, Path], registries: Registries, tmp_path: Path
) -> None:
    data = {split: str(path) for split, path in shapes.items()}
    task = {"image_encoder": "resnet18", "image_encoder_options": {"image_size": 32}}
    cfg = config(registries, task, data, init={"output": "xavier_uniform"})
    task_object, network = train_one_step(cfg, registries, tmp_path)
    assert isinstance(network.encoder, ResNet18)
    assert task_object.data["train"].images.shape[-1] == 32  # the encoder's side
    assert network.memory(task_object.data["test"].images[:2]).values.shape == (2, 1, 512)


def test_unknown_encoder_and_its_options_are_config_errors(registries: Registries) -> None:
    with pytest.raises(ConfigError, match=r"task.image_encoder: .*'resnet19'.*resnet18"):
        config(registries, {"image_encoder": "resnet19", "image_encoder_options": {}}, {})
    with pytest.raises(ConfigError, match=r"task.image_encoder_options.chanels: .*channels"):
        config(registries, {"image_encoder_options": {"chanels": 4}}, {})


def test_tied_embeddings_need_equal_sizes_before_any_data(registries: Registries) -> None:
    with pytest.raises(ConfigError, match=r"task.tie_embeddings needs model.embedding_size"):
        build_config(
            {
                "task": {"name": "captioning", "tie_embeddings": True},
                "model": {"embedding_size": 8, "hidden_size": 16},
            },
            registries,
        )


def test_dot_attention_needs_the_image_features_size(
    shapes: dict[str, Path], registries: Registries, tmp_path: Path
) -> None:
    data = {split: str(path) for split, path in shapes.items()}
    task = {"attention": "luong", "attention_score": "dot"}  # small_cnn gives F = 8
    cfg = config(registries, task, data, model={**TINY_MODEL, "hidden_size": 6})
    captioner = CaptioningTask(cfg)
    captioner.prepare_data(tmp_path)
    components = Components(cfg.model, registries.cells, registries.image_encoders)
    with pytest.raises(ConfigError, match=r"attention_score=dot needs model.hidden_size == .*8"):
        captioner.build_network(components)
    cfg = config(registries, task, data, model={**TINY_MODEL, "hidden_size": 8})
    train_one_step(cfg, registries, tmp_path)
