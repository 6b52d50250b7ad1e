"""Behaviour tests for reading text splits from files and local datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import DataConfig
from pipeline.data import DataError, TextSplits, fingerprint, load_text_splits, read_lines


def write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def numbered(n: int) -> list[str]:
    return [f"line {i}" for i in range(n)]


# --- read_lines ---------------------------------------------------------------------------------


def test_read_lines_strips_and_drops_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbf first \r\n\n   \n\tsecond line\nlast")
    assert read_lines(path, "utf-8", "data.train") == ["first", "second line", "last"]


def test_read_lines_missing_file_and_directory_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.validation: file .*nope\.txt.* does not exist"):
        read_lines(tmp_path / "nope.txt", "utf-8", "data.validation")
    with pytest.raises(DataError, match=r"data\.train: .* is not a file"):
        read_lines(tmp_path, "utf-8", "data.train")


def test_read_lines_undecodable_bytes_suggest_data_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("uno\nniño pequeño\n".encode("latin-1"))
    with pytest.raises(DataError) as caught:
        read_lines(path, "utf-8", "data.train")
    message = str(caught.value)
    assert "data.encoding" in message and "latin.txt" in message
    assert "offset 6" in message and "line 2" in message
    assert read_lines(path, "latin-1", "data.train") == ["uno", "niño pequeño"]


def test_unknown_encoding_names_data_encoding(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"data\.encoding: unknown encoding"):
        read_lines(path, "no-such-codec", "data.train")


# --- local files and carving --------------------------------------------------------------------


def test_all_three_files_are_read_and_nothing_is_carved(tmp_path: Path) -> None:
    cfg = DataConfig(
        train=write(tmp_path / "train.txt", ["a", "b"]),
        validation=write(tmp_path / "valid.txt", ["c"]),
        test=write(tmp_path / "test.txt", ["d"]),
    )
    splits = load_text_splits(cfg, seed=0)
    assert splits == TextSplits({"train": ["a", "b"], "validation": ["c"], "test": ["d"]}, [])


def test_carving_is_seeded_sized_and_loses_nothing(tmp_path: Path) -> None:
    lines = numbered(200)
    cfg = DataConfig(train=write(tmp_path / "train.txt", lines), validation_fraction=0.1)
    first = load_text_splits(cfg, seed=1)
    assert first.carved == ["validation", "test"]
    assert {k: len(v) for k, v in first.lines.items()} == {
        "train": 160,
        "validation": 20,
        "test": 20,
    }
    everything = [line for split in first.lines.values() for line in split]
    assert sorted(everything) == sorted(lines)
    for split in first.lines.values():  # original order kept within each split
        assert split == sorted(split, key=lines.index)
    assert load_text_splits(cfg, seed=1) == first
    assert load_text_splits(cfg, seed=2).lines["validation"] != first.lines["validation"]


def test_only_missing_splits_are_carved_with_at_least_one_line(tmp_path: Path) -> None:
    cfg = DataConfig(
        train=write(tmp_path / "train.txt", numbered(5)),
        validation=write(tmp_path / "valid.txt", ["v"]),
        test_fraction=0.01,
    )
    splits = load_text_splits(cfg, seed=0)
    assert splits.carved == ["test"]
    assert splits.lines["validation"] == ["v"]
    assert len(splits.lines["test"]) == 1 and len(splits.lines["train"]) == 4


def test_too_few_lines_to_carve(tmp_path: Path) -> None:
    cfg = DataConfig(train=write(tmp_path / "train.txt", ["only", "two"]))
    with pytest.raises(DataError, match=r"data\.train: only 2 text lines"):
        load_text_splits(cfg, seed=0)


def test_empty_or_missing_train(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match=r"data\.train: file .*empty\.txt.* has no text lines"):
        load_text_splits(DataConfig(train=str(empty)), seed=0)
    with pytest.raises(DataError, match=r"data\.train: no training data"):
        load_text_splits(DataConfig(), seed=0)


def test_fingerprint_changes_when_a_file_changes(tmp_path: Path) -> None:
    cfg = DataConfig(train=write(tmp_path / "train.txt", ["a"]))
    before = fingerprint(cfg)
    assert before["files"]["train"]["path"] == str((tmp_path / "train.txt").resolve())
    assert fingerprint(cfg) == before
    write(tmp_path / "train.txt", ["a", "longer now"])
    assert fingerprint(cfg) != before


# --- datasets -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import datasets

    directory = tmp_path_factory.mktemp("dataset")
    dataset = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"text": ["first", " ", "second ", "third"], "label": [0, 1, 0, 1]}
            ),
            "valid": datasets.Dataset.from_dict({"text": ["dev line"], "label": [1]}),
        }
    )
    dataset.save_to_disk(str(directory))
    return directory


def test_saved_dataset_directory_loads_and_carves_test(saved_dataset: Path) -> None:
    cfg = DataConfig(name=str(saved_dataset), test_fraction=0.3)
    splits = load_text_splits(cfg, seed=0)
    assert splits.carved == ["test"]
    assert splits.lines["validation"] == ["dev line"]
    assert sorted(splits.lines["train"] + splits.lines["test"]) == ["first", "second", "third"]
    assert len(splits.lines["test"]) == 1
    assert fingerprint(cfg)["dataset"]["directory"]["path"] == str(saved_dataset.resolve())


def test_missing_text_column_lists_the_columns(saved_dataset: Path) -> None:
    cfg = DataConfig(name=str(saved_dataset), text_column="sentence")
    with pytest.raises(DataError, match=r"data\.text_column: .*'sentence'.*text, label"):
        load_text_splits(cfg, seed=0)


def test_folder_of_text_files_loads_through_load_dataset(tmp_path: Path) -> None:
    write(tmp_path / "train.txt", numbered(10))
    write(tmp_path / "test.txt", ["t1", "t2"])
    splits = load_text_splits(DataConfig(name=str(tmp_path)), seed=0)
    assert splits.carved == ["validation"]
    assert splits.lines["test"] == ["t1", "t2"]
    assert len(splits.lines["train"]) + len(splits.lines["validation"]) == 10


def test_unloadable_dataset_suggests_local_files(tmp_path: Path) -> None:
    cfg = DataConfig(name=str(tmp_path / "missing-dataset"))
    with pytest.raises(DataError, match=r"data\.name: could not load .*data\.train"):
        load_text_splits(cfg, seed=0)


def test_name_and_files_together_are_refused(tmp_path: Path) -> None:
    cfg = DataConfig(name="wikitext", train=write(tmp_path / "t.txt", ["a"]))
    with pytest.raises(DataError, match=r"data\.name and data\.train"):
        load_text_splits(cfg, seed=0)
