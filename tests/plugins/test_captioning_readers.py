"""Tests for the captioning readers: Flickr, COCO, CSV/TSV/JSONL and datasets layouts."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import DataConfig
from pipeline.data import Splits
from pipeline.errors import DataError
from plugins.tasks.captioning.images import load_split
from plugins.tasks.captioning.readers import (
    CaptionedImage,
    CaptionReadOptions,
    cache_key,
    file_captions,
    option_problems,
    read_caption_splits,
)
from plugins.tasks.captioning.shapes import write_flickr8k_fake, write_shapes

ROOT = Path(__file__).resolve().parents[2]
SHARED_FLICKR = "../shared/data/flickr8k"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny shapes data set in the JSON-lines layout (8/3/4 images of 24 pixels)."""
    folder = tmp_path_factory.mktemp("shapes")
    return write_shapes(folder, n_train=8, n_validation=3, n_test=4, seed=5, size=24)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_name(examples: list[CaptionedImage]) -> dict[str, tuple[str, ...]]:
    return {example.name: example.captions for example in examples}


def test_jsonl_keeps_every_reference_and_resolves_paths(shapes: dict[str, Path]) -> None:
    examples = file_captions(shapes["test"], "data.test", CaptionReadOptions())
    expected = rows(shapes["test"])
    assert [e.name for e in examples] == [row["image"] for row in expected]
    assert [list(e.captions) for e in examples] == [row["caption"] for row in expected]
    assert all(isinstance(e.image, Path) and e.image.is_file() for e in examples)
    assert examples[0].where == f"data.test: file {str(shapes['test'])!r}, line 1"


def test_csv_rows_of_one_image_are_grouped(tmp_path: Path, shapes: dict[str, Path]) -> None:
    path = tmp_path / "captions.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])  # Kaggle's Flickr8k captions.txt: a row a caption
        for row in rows(shapes["train"]):
            writer.writerows([[row["image"], caption] for caption in row["caption"]])
    options = CaptionReadOptions(image_root=str(shapes["train"].parent))
    examples = file_captions(path, "data.train", options)
    assert by_name(examples) == {r["image"]: tuple(r["caption"]) for r in rows(shapes["train"])}
    assert all(e.image == shapes["train"].parent / e.name for e in examples)


def test_tsv_with_several_caption_columns(tmp_path: Path) -> None:
    path = tmp_path / "captions.tsv"
    path.write_text("file\tc1\tc2\na.png\tuno  dos\t\nb.png\ttres\tcuatro\n", encoding="utf-8")
    options = CaptionReadOptions(image_column="file", caption_columns=["c1", "c2"])
    examples = file_captions(path, "data.train", options)
    assert by_name(examples) == {"a.png": ("uno dos",), "b.png": ("tres", "cuatro")}
    assert examples[0].image == tmp_path / "a.png"


def test_coco_groups_annotations_by_image(tmp_path: Path) -> None:
    coco = {
        "images": [
            {"id": 7, "file_name": "COCO_7.jpg"},
            {"id": 3, "file_name": "COCO_3.jpg"},
            {"id": 9, "file_name": "no_captions.jpg"},
        ],
        "annotations": [
            {"id": 1, "image_id": 3, "caption": "A cat on a mat. "},
            {"id": 2, "image_id": 7, "caption": "A dog."},
            {"id": 3, "image_id": 3, "caption": "A cat\nsleeping."},
        ],
    }
    path = tmp_path / "captions_train2014.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    (tmp_path / "train2014").mkdir()
    options = CaptionReadOptions(image_root=str(tmp_path / "train2014"))
    examples = file_captions(path, "data.train", options)
    assert by_name(examples) == {
        "COCO_7.jpg": ("A dog.",),
        "COCO_3.jpg": ("A cat on a mat.", "A cat sleeping."),
    }
    assert examples[1].image == tmp_path / "train2014" / "COCO_3.jpg"


def test_flickr8k_split_lists_with_the_token_file(tmp_path: Path) -> None:
    paths = write_flickr8k_fake(tmp_path / "flickr", n_images=20)
    options = CaptionReadOptions(
        captions_file=str(paths["captions"]), image_root=str(paths["images"])
    )
    data = DataConfig(
        train=str(paths["train"]), validation=str(paths["validation"]), test=str(paths["test"])
    )
    splits = read_caption_splits(data, options, seed=0)
    assert [len(splits.examples[s]) for s in ("train", "validation", "test")] == [12, 4, 4]
    assert splits.carved == []
    first = splits.examples["test"][0]
    assert first.name == paths["test"].read_text().split()[0]
    assert len(first.captions) >= 3 and first.image.is_file()  # type: ignore[union-attr]
    token_lines = paths["captions"].read_text(encoding="utf-8").splitlines()
    first_line = next(line for line in token_lines if line.startswith(f"{first.name}#0\t"))
    assert first.captions[0] == first_line.partition("\t")[2]


def test_flickr_token_file_alone_is_carved_with_the_seed(tmp_path: Path) -> None:
    paths = write_flickr8k_fake(tmp_path / "flickr", n_images=20)
    options = CaptionReadOptions(image_root=str(paths["images"]))
    data = DataConfig(train=str(paths["captions"]), validation_fraction=0.2, test_fraction=0.1)
    splits = read_caption_splits(data, options, seed=3)
    assert [len(splits.examples[s]) for s in ("train", "validation", "test")] == [14, 4, 2]
    assert splits.carved == ["validation", "test"]
    again = read_caption_splits(data, options, seed=3)
    other = read_caption_splits(data, options, seed=4)

    def names(s: Splits[CaptionedImage]) -> list[list[str]]:
        return [[e.name for e in s.examples[split]] for split in ("validation", "test")]

    assert names(splits) == names(again) != names(other)


def test_missing_splits_of_jsonl_are_carved(shapes: dict[str, Path]) -> None:
    data = DataConfig(train=str(shapes["train"]), validation_fraction=0.25, test_fraction=0.25)
    splits = read_caption_splits(data, CaptionReadOptions(), seed=0)
    assert [len(splits.examples[s]) for s in ("train", "validation", "test")] == [4, 2, 2]
    assert splits.carved == ["validation", "test"]


def test_dataset_with_an_image_feature_and_a_list_column(
    tmp_path: Path, shapes: dict[str, Path]
) -> None:
    datasets = pytest.importorskip("datasets")
    root = shapes["train"].parent
    table = {
        "picture": [str(root / r["image"]) for r in rows(shapes["train"])],
        "refs": [r["caption"] for r in rows(shapes["train"])],
    }
    dataset = datasets.Dataset.from_dict(table).cast_column("picture", datasets.Image())
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": dataset, "test": dataset.select(range(3))}).save_to_disk(saved)
    options = CaptionReadOptions(image_column="picture", caption_columns=["refs"])
    splits = read_caption_splits(DataConfig(name=str(saved)), options, seed=0)
    assert len(splits.examples["test"]) == 3 and splits.carved == ["validation"]
    first = splits.examples["test"][0]
    assert isinstance(first.image, bytes) and first.image[:4] == b"\x89PNG"
    assert list(first.captions) == rows(shapes["train"])[0]["caption"]
    assert first.name == "00000.png" and "split 'test'" in first.where


def test_dataset_with_path_strings_reads_them_under_image_root(
    tmp_path: Path, shapes: dict[str, Path]
) -> None:
    datasets = pytest.importorskip("datasets")
    table = {
        "image": [r["image"] for r in rows(shapes["test"])],
        "caption": [r["caption"][0] for r in rows(shapes["test"])],
        "caption2": [r["caption"][1] for r in rows(shapes["test"])],
    }
    saved = tmp_path / "paths"
    datasets.Dataset.from_dict(table).save_to_disk(saved)
    options = CaptionReadOptions(
        caption_columns=["caption", "caption2"], image_root=str(shapes["test"].parent)
    )
    splits = read_caption_splits(DataConfig(name=str(saved)), options, seed=0)
    example = splits.examples["train"][0]
    assert example.image.is_file() and len(example.captions) == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "text", "options", "message"),
    [
        ("c.csv", "image,text\na.png,x\n", {}, "no column 'caption'.*task.caption_columns"),
        ("c.csv", "img,caption\na.png,x\n", {}, "no column 'image'.*task.image_column"),
        ("c.csv", "image,caption\na.png,\n", {}, "line 2: the row has no caption"),
        ("c.jsonl", '{"image": "a.png", "caption": 3}\n', {}, "holds int values"),
        ("c.jsonl", "[1, 2]\n", {}, "line 1: expected a JSON object"),
        ("c.json", '{"images": []}', {}, "not a COCO captions file.*annotations"),
        ("c.json", "{", {}, "not valid JSON"),
        ("tokens.txt", "a.jpg#0 no tab here\n", {}, "line 1: .*not 'image.jpg#0<TAB>caption'"),
        ("c.parquet", "x", {}, "cannot tell the layout.*task.layout"),
    ],
)
def test_bad_files_name_the_file_line_and_key(
    tmp_path: Path, name: str, text: str, options: dict[str, str], message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as error:
        file_captions(path, "data.train", CaptionReadOptions(**options))  # type: ignore[arg-type]
    assert str(error.value).startswith("data.") and (
        str(path) in str(error.value) or "task.layout" in str(error.value)
    )


def test_split_list_naming_an_unknown_image(tmp_path: Path) -> None:
    paths = write_flickr8k_fake(tmp_path, n_images=5)
    paths["test"].write_text("missing.jpg\n", encoding="utf-8")
    options = CaptionReadOptions(captions_file=str(paths["captions"]))
    with pytest.raises(DataError, match=r"data.test: file .*line 1: image 'missing.jpg' has no"):
        file_captions(paths["test"], "data.test", options)


def test_image_root_that_is_not_a_folder(shapes: dict[str, Path]) -> None:
    options = CaptionReadOptions(image_root=str(shapes["test"].parent / "no_such_folder"))
    with pytest.raises(DataError, match=r"^task.image_root: '.*no_such_folder' is not a folder"):
        file_captions(shapes["test"], "data.test", options)


def test_missing_token_file_names_task_captions_file(tmp_path: Path) -> None:
    listed = tmp_path / "train.txt"
    listed.write_text("a.jpg\n", encoding="utf-8")
    options = CaptionReadOptions(captions_file=str(tmp_path / "nope.token.txt"))
    with pytest.raises(DataError, match="task.captions_file: file .*nope.token.txt.* does not"):
        file_captions(listed, "data.train", options)


def test_option_problems() -> None:
    files, dataset = DataConfig(train="t.txt"), DataConfig(name="some/dataset")
    assert option_problems(CaptionReadOptions(), files) == []
    empty = option_problems(CaptionReadOptions(caption_columns=[]), files)
    assert len(empty) == 1 and empty[0].startswith("task.caption_columns: expected a non-empty")
    coco = option_problems(CaptionReadOptions(layout="coco", captions_file="x.txt"), files)
    assert len(coco) == 1 and coco[0].startswith("task.captions_file: only the flickr layout")
    both = option_problems(CaptionReadOptions(captions_file="x.txt"), dataset)
    assert len(both) == 1 and "not with a dataset (data.name)" in both[0]


def test_cache_key_changes_with_the_images(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"one")
    options = CaptionReadOptions(image_root=str(tmp_path / "img"))
    before = cache_key(options)
    assert cache_key(options) == before
    (tmp_path / "img" / "b.png").write_bytes(b"two")
    assert cache_key(options) != before
    assert cache_key(CaptionReadOptions(caption_columns=["x"])) != cache_key(CaptionReadOptions())


def test_flickr8k_config_reads_a_fake_in_the_flickr8k_layout(tmp_path: Path) -> None:
    """conf/experiment/flickr8k.yaml's data keys, pointed at a 20-image fake of Flickr8k."""
    config = yaml.safe_load((ROOT / "conf" / "experiment" / "flickr8k.yaml").read_text("utf-8"))
    write_flickr8k_fake(tmp_path / "flickr8k", n_images=20)

    def local(section: dict[str, Any], keys: set[str]) -> dict[str, Any]:
        return {
            key: value.replace(SHARED_FLICKR, str(tmp_path / "flickr8k"))
            if isinstance(value, str)
            else value
            for key, value in section.items()
            if key in keys
        }

    options = CaptionReadOptions(
        **local(config["task"], {f.name for f in fields(CaptionReadOptions)})
    )
    data = DataConfig(**local(config["data"], {"train", "validation", "test"}))
    splits = read_caption_splits(data, options, seed=0)
    assert [len(splits.examples[s]) for s in ("train", "validation", "test")] == [12, 4, 4]
    loaded = load_split(splits.examples["train"], 32, options, "data.train")
    assert loaded.images.shape == (12, 3, 32, 32) and loaded.skipped == 0
