"""Behaviour tests for reading splits (any examples, and plain text) from files and datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import DataConfig
from pipeline.data import DataError, Splits, carve, fingerprint, load_text_splits, read_splits
from pipeline.textfiles import location, numbered_lines, read_text


def write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def numbered(n: int) -> list[str]:
    return [f"line {i}" for i in range(n)]


# --- local files and carving --------------------------------------------------------------------


def test_all_three_files_are_read_and_nothing_is_carved(tmp_path: Path) -> None:
    cfg = DataConfig(
        train=write(tmp_path / "train.txt", ["a", "b"]),
        validation=write(tmp_path / "valid.txt", ["c"]),
        test=write(tmp_path / "test.txt", ["d"]),
    )
    splits = load_text_splits(cfg, seed=0)
    assert splits == Splits({"train": ["a", "b"], "validation": ["c"], "test": ["d"]}, [])


def test_carving_is_seeded_sized_and_loses_nothing(tmp_path: Path) -> None:
    lines = numbered(200)
    cfg = DataConfig(train=write(tmp_path / "train.txt", lines), validation_fraction=0.1)
    first = load_text_splits(cfg, seed=1)
    assert first.carved == ["validation", "test"]
    assert {k: len(v) for k, v in first.examples.items()} == {
        "train": 160,
        "validation": 20,
        "test": 20,
    }
    everything = [line for split in first.examples.values() for line in split]
    assert sorted(everything) == sorted(lines)
    for split in first.examples.values():  # original order kept within each split
        assert split == sorted(split, key=lines.index)
    assert load_text_splits(cfg, seed=1) == first
    assert load_text_splits(cfg, seed=2).examples["validation"] != first.examples["validation"]


def test_only_missing_splits_are_carved_with_at_least_one_line(tmp_path: Path) -> None:
    cfg = DataConfig(
        train=write(tmp_path / "train.txt", numbered(5)),
        validation=write(tmp_path / "valid.txt", ["v"]),
        test_fraction=0.01,
    )
    splits = load_text_splits(cfg, seed=0)
    assert splits.carved == ["test"]
    assert splits.examples["validation"] == ["v"]
    assert len(splits.examples["test"]) == 1 and len(splits.examples["train"]) == 4


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
    assert splits.examples["validation"] == ["dev line"]
    kept = splits.examples["train"] + splits.examples["test"]
    assert sorted(kept) == ["first", "second", "third"]
    assert len(splits.examples["test"]) == 1
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
    assert splits.examples["test"] == ["t1", "t2"]
    assert len(splits.examples["train"]) + len(splits.examples["validation"]) == 10


def test_unloadable_dataset_suggests_local_files(tmp_path: Path) -> None:
    cfg = DataConfig(name=str(tmp_path / "missing-dataset"))
    with pytest.raises(DataError, match=r"data\.name: could not load .*data\.train"):
        load_text_splits(cfg, seed=0)


def test_name_and_files_together_are_refused(tmp_path: Path) -> None:
    cfg = DataConfig(name="wikitext", train=write(tmp_path / "t.txt", ["a"]))
    with pytest.raises(DataError, match=r"data\.name and data\.train"):
        load_text_splits(cfg, seed=0)


# --- read_splits with a task's own readers ----------------------------------------------------


def read_labelled(path: Path, key: str) -> list[tuple[str, str, int]]:
    """A task's reader: ``label<TAB>text`` rows -> (label, text, line number)."""
    rows = []
    for number, line in numbered_lines(read_text(path, "utf-8", key, kind="a TSV file")):
        label, tab, text = line.partition("\t")
        if not tab:
            raise DataError(f"{location(key, path, number)}: no tab; write LABEL<TAB>TEXT")
        rows.append((label, text, number))
    return rows


def read_labelled_dataset(split: str, dataset: object) -> list[tuple[str, str, int]]:
    return [(str(row["label"]), row["text"], i) for i, row in enumerate(dataset) if row["text"]]


def test_read_splits_reads_a_tasks_rows_and_carves_with_the_seed(tmp_path: Path) -> None:
    rows = [f"{i % 2}\ttext {i}" for i in range(20)]
    cfg = DataConfig(train=write(tmp_path / "train.tsv", rows), test_fraction=0.2)
    splits = read_splits(cfg, 3, read_labelled, read_labelled_dataset, noun="rows")
    assert list(splits.examples) == ["train", "validation", "test"]
    assert splits.carved == ["validation", "test"]
    assert [len(v) for v in splits.examples.values()] == [14, 2, 4]
    numbers = sorted(n for split in splits.examples.values() for _, _, n in split)
    assert numbers == list(range(1, 21))  # every row once, with its line number
    assert read_splits(cfg, 3, read_labelled, read_labelled_dataset) == splits


def test_read_splits_errors_use_the_tasks_words(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.train: no training data; set data\.train to a TSV"):
        read_splits(DataConfig(), 0, read_labelled, read_labelled_dataset, kind="a TSV file")
    bad = DataConfig(train=write(tmp_path / "bad.tsv", ["0\tfine", "no tab here"]))
    with pytest.raises(DataError, match=r"data\.train: file .*bad\.tsv.*, line 2: no tab"):
        read_splits(bad, 0, read_labelled, read_labelled_dataset)
    empty = DataConfig(train=write(tmp_path / "e.tsv", ["0\ta", "1\tb"]), validation=str(tmp_path))
    with pytest.raises(DataError, match=r"data\.validation: .* is not a file"):
        read_splits(empty, 0, read_labelled, read_labelled_dataset)
    few = DataConfig(train=write(tmp_path / "few.tsv", ["0\ta", "1\tb"]))
    with pytest.raises(DataError, match=r"data\.train: only 2 rows, too few to carve"):
        read_splits(few, 0, read_labelled, read_labelled_dataset, noun="rows")


def test_read_splits_refuses_a_dataset_split_without_examples(saved_dataset: Path) -> None:
    def nothing_in_valid(split: str, dataset: object) -> list[str]:
        return [] if split == "valid" else ["x", "y", "z"]

    cfg = DataConfig(name=str(saved_dataset))
    with pytest.raises(DataError, match=r"data\.name: split 'valid' of dataset .* has no rows"):
        read_splits(cfg, 0, read_labelled, nothing_in_valid, noun="rows")
    splits = read_splits(cfg, 0, read_labelled, read_labelled_dataset)
    assert splits.examples["validation"] == [("1", "dev line", 0)]


def test_carve_keeps_order_and_is_seeded() -> None:
    items = list(range(10))
    first = carve(items, ["test"], DataConfig(test_fraction=0.3), seed=5)
    assert sorted(first["train"] + first["test"]) == items and len(first["test"]) == 3
    assert all(part == sorted(part) for part in first.values())
    assert carve(items, ["test"], DataConfig(test_fraction=0.3), seed=5) == first


def test_each_split_reads_with_its_own_encoding(tmp_path: Path, caplog) -> None:
    """A latin-1 train file beside UTF-8 validation and test files (the data.encodings case)."""
    sentence = "El gobierno aprobó un decreto"
    files = {}
    for split, encoding in (("train", "latin-1"), ("validation", "utf-8"), ("test", "utf-8")):
        files[split] = tmp_path / f"{split}.txt"
        files[split].write_bytes(f"{sentence}\n".encode(encoding) * 3)
    paths = {split: str(path) for split, path in files.items()}
    wrong = DataConfig(**paths, encoding="latin-1")
    misread = load_text_splits(wrong, seed=0).examples["validation"]
    assert misread[0] == "El gobierno aprobÃ³ un decreto"
    assert "data.encodings.validation" in caplog.text  # the mojibake is reported
    right = DataConfig(**paths, encoding="utf-8", encodings={"train": "latin-1"})
    splits = load_text_splits(right, seed=0).examples
    assert {split: lines[0] for split, lines in splits.items()} == dict.fromkeys(files, sentence)
    assert fingerprint(right) != fingerprint(DataConfig(**paths, encoding="utf-8"))
