"""Readers of parallel data for the seq2seq task: aligned files, TSV/CSV, JSON lines, datasets."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import DataConfig
from pipeline.data import carve
from pipeline.errors import DataError
from plugins.tasks.seq2seq.readers import (
    FORMATS,
    Pair,
    ParallelOptions,
    dataset_pairs,
    parallel_fingerprint,
    parallel_problems,
    read_file_pairs,
    read_pairs,
)

DE = ["Ein Mann fährt Rad.", "Zwei Hunde spielen.", "Eine Frau liest.", "Kinder lachen."]
EN = ["A man rides a bike.", "Two dogs play.", "A woman reads.", "Children laugh."]
DE_EN = ParallelOptions(source_lang="de", target_lang="en")


def write(path: Path, lines: list[str] | str) -> Path:
    text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def aligned(folder: Path, name: str, de: list[str], en: list[str]) -> Path:
    """NAME.de and NAME.en in folder; returns the source (German) file."""
    write(folder / f"{name}.en", en)
    return write(folder / f"{name}.de", de)


# ----------------------------------------------------------------------------- aligned files


def test_aligned_files_per_split_like_multi30k(tmp_path: Path) -> None:
    data = DataConfig(
        train=str(aligned(tmp_path, "train", DE, EN)),
        validation=str(aligned(tmp_path, "val", DE[:2], EN[:2])),
        test=str(aligned(tmp_path, "test_2016_flickr", DE[2:], EN[2:])),
    )
    splits = read_pairs(data, 0, DE_EN)
    assert splits.examples["train"] == [Pair(de, en) for de, en in zip(DE, EN, strict=True)]
    assert splits.examples["validation"] == [Pair(DE[0], EN[0]), Pair(DE[1], EN[1])]
    assert splits.examples["test"] == [Pair(DE[2], EN[2]), Pair(DE[3], EN[3])]
    assert splits.carved == []


def test_either_direction_from_the_same_files(tmp_path: Path) -> None:
    aligned(tmp_path, "train", DE, EN)
    options = ParallelOptions(source_lang="en", target_lang="de")
    pairs = read_file_pairs(tmp_path / "train.en", "data.train", options)
    assert pairs[0] == Pair("A man rides a bike.", "Ein Mann fährt Rad.")


def test_missing_splits_are_carved_with_the_seed(tmp_path: Path) -> None:
    de = [f"satz {i}" for i in range(20)]
    en = [f"sentence {i}" for i in range(20)]
    data = DataConfig(train=str(aligned(tmp_path, "train", de, en)))
    splits = read_pairs(data, 7, DE_EN)
    every = [Pair(s, t) for s, t in zip(de, en, strict=True)]
    assert splits.carved == ["validation", "test"]
    assert splits.examples == carve(every, ["validation", "test"], data, 7)
    assert read_pairs(data, 8, DE_EN).examples["test"] != splits.examples["test"]


def test_aligned_files_of_different_lengths_name_both_files_and_lines(tmp_path: Path) -> None:
    source = aligned(tmp_path, "train", DE, EN[:3])
    with pytest.raises(DataError) as error:
        read_file_pairs(source, "data.train", DE_EN)
    message = str(error.value)
    assert message.startswith("data.train: aligned files of different lengths")
    assert "train.en' ends at line 3" in message and "train.de' goes on to line 4" in message


def test_a_blank_line_on_one_side_names_its_file_and_line(tmp_path: Path) -> None:
    source = aligned(tmp_path, "train", DE, [EN[0], EN[1], "  ", EN[3]])
    with pytest.raises(DataError, match=r"data\.train: file '.*train\.en', line 3: empty target"):
        read_file_pairs(source, "data.train", DE_EN)
    source = aligned(tmp_path, "train", [DE[0], "", DE[2]], EN[:3])
    with pytest.raises(DataError, match=r"file '.*train\.de', line 2: empty source"):
        read_file_pairs(source, "data.train", DE_EN)


def test_lines_blank_on_both_sides_and_trailing_blank_lines_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "train.en", "A.\r\n\r\nB.\r\n\r\n\r\n")
    source = write(tmp_path / "train.de", "\ufeffX.\n\nY.\n")
    pairs = read_file_pairs(source, "data.train", DE_EN)
    assert pairs == [Pair("X.", "A."), Pair("Y.", "B.")]


def test_aligned_names_that_do_not_fit(tmp_path: Path) -> None:
    source = write(tmp_path / "train.de", DE)
    with pytest.raises(DataError, match=r"data\.train: no target file '.*train\.en' beside"):
        read_file_pairs(source, "data.train", DE_EN)
    other = write(tmp_path / "train.txt", DE)
    aligned_format = ParallelOptions(format="aligned", source_lang="de", target_lang="en")
    with pytest.raises(DataError, match=r"does not end in '\.de' \(task\.source_lang\)"):
        read_file_pairs(other, "data.train", aligned_format)
    with pytest.raises(DataError, match=r"data\.train: cannot tell the layout .*task\.format"):
        read_file_pairs(other, "data.train", DE_EN)
    with pytest.raises(DataError, match=r"need task\.source_lang and task\.target_lang"):
        read_file_pairs(source, "data.train", ParallelOptions(format="aligned"))


def test_aligned_files_are_decoded_with_data_encoding(tmp_path: Path) -> None:
    (tmp_path / "train.en").write_bytes("Over there.\n".encode("latin-1"))
    source = tmp_path / "train.de"
    source.write_bytes("Dort drüben.\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not valid utf-8.*data\.encoding"):
        read_file_pairs(source, "data.train", DE_EN)
    pairs = read_file_pairs(source, "data.train", DE_EN, encoding="latin-1")
    assert pairs == [Pair("Dort drüben.", "Over there.")]


# ----------------------------------------------------------------------------- TSV and CSV


TATOEBA = 'Go.\tVe.\nI said "hi".\tDije "hola".\tCC-BY 2.0 (France) Attribution\n\nRun!\t¡Corre!\n'


def test_tatoeba_tsv_either_direction_by_column_number(tmp_path: Path) -> None:
    path = write(tmp_path / "spa.txt", TATOEBA)
    es_en = ParallelOptions(format="tsv", source_column=1, target_column=0)
    pairs = read_file_pairs(path, "data.train", es_en)
    assert pairs == [
        Pair("Ve.", "Go."),
        Pair('Dije "hola".', 'I said "hi".'),
        Pair("¡Corre!", "Run!"),
    ]
    en_es = ParallelOptions(format="tsv", source_column=0, target_column=1)
    assert read_file_pairs(path, "data.train", en_es)[0] == Pair("Go.", "Ve.")


def test_tsv_and_csv_with_a_header_pick_columns_by_name(tmp_path: Path) -> None:
    tsv = write(tmp_path / "train.tsv", "id\ten\tes\n1\tHi.\tHola.\n2\tYes.\tSí.\n")
    options = ParallelOptions(source_column="es", target_column="en")
    assert read_file_pairs(tsv, "data.train", options) == [
        Pair("Hola.", "Hi."),
        Pair("Sí.", "Yes."),
    ]
    csv_file = write(tmp_path / "train.csv", 'en,es\n"Hi, you.","Hola, tú."\n')
    assert read_file_pairs(csv_file, "data.train", options) == [Pair("Hola, tú.", "Hi, you.")]
    numbers_after_header = ParallelOptions(source_column=1, target_column=0, header=True)
    assert read_file_pairs(csv_file, "data.train", numbers_after_header)[0].target == "Hi, you."


def test_tsv_row_problems_name_file_line_and_key(tmp_path: Path) -> None:
    options = ParallelOptions(format="tsv", source_column=1, target_column=0)
    short = write(tmp_path / "short.txt", "Go.\tVe.\nRun!\n")
    with pytest.raises(DataError) as error:
        read_file_pairs(short, "data.validation", options)
    message = str(error.value)
    assert message.startswith(f"data.validation: file {str(short)!r}, line 2: no column 1")
    assert "task.source_column" in message
    empty = write(tmp_path / "empty.txt", "Go.\tVe.\nRun!\t \n")
    with pytest.raises(DataError, match=r"line 2: empty source \(task\.source_column\)"):
        read_file_pairs(empty, "data.train", options)


def test_a_column_name_missing_from_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "train.csv", "en,es\nHi.,Hola.\n")
    options = ParallelOptions(source_column="de", target_column="en")
    with pytest.raises(DataError, match=r"line 1: no column 'de' in the header \(en, es\)"):
        read_file_pairs(path, "data.train", options)


def test_column_names_without_a_header_row_are_refused(tmp_path: Path) -> None:
    options = ParallelOptions(source_column="es", target_column=0, header=False)
    problems = parallel_problems(options, DataConfig())
    assert problems == [
        "task.source_column: a column name needs a header row, but task.header=false; give "
        "0-based column numbers (task.source_column=0 task.target_column=1) or set "
        "task.header=true"
    ]
    path = write(tmp_path / "train.tsv", "Hi.\tHola.\n")
    with pytest.raises(DataError, match=r"task\.source_column: a column name needs a header"):
        read_file_pairs(path, "data.train", options)


# ----------------------------------------------------------------------------- JSON lines


def test_json_lines_with_two_keys_or_translation_objects(tmp_path: Path) -> None:
    rows = [{"document": " Long text. ", "summary": "Short."}, {"document": "B", "summary": "b"}]
    path = write(tmp_path / "train.jsonl", [json.dumps(row) for row in rows])
    options = ParallelOptions(source_column="document", target_column="summary")
    assert read_file_pairs(path, "data.train", options) == [
        Pair("Long text.", "Short."),
        Pair("B", "b"),
    ]
    rows = [{"translation": {"de": "Hallo.", "en": "Hello."}}]
    path = write(tmp_path / "wmt.json", [json.dumps(row) for row in rows])
    assert read_file_pairs(path, "data.train", DE_EN) == [Pair("Hallo.", "Hello.")]


def test_json_lines_problems(tmp_path: Path) -> None:
    options = ParallelOptions(source_column="document", target_column="summary")
    path = write(tmp_path / "a.jsonl", ['{"document": "x", "summary": "y"}', '{"document": "x"}'])
    with pytest.raises(DataError, match=r"line 2: no key 'summary' \(keys: document\)"):
        read_file_pairs(path, "data.train", options)
    path = write(tmp_path / "b.jsonl", ['{"document": "x", "summary": null}'])
    with pytest.raises(DataError, match=r"line 1: empty target \(task\.target_column\)"):
        read_file_pairs(path, "data.train", options)
    path = write(tmp_path / "c.jsonl", ['{"document": "x", "summary": ["y"]}'])
    with pytest.raises(DataError, match=r"line 1: task\.target_column holds list .*not text"):
        read_file_pairs(path, "data.train", options)
    path = write(tmp_path / "d.jsonl", ['{"translation": {"de": "Hallo.", "en": "Hello."}}'])
    fr = ParallelOptions(source_lang="de", target_lang="fr")
    with pytest.raises(DataError, match=r"languages de, en, but task\.target_lang 'fr' is not"):
        read_file_pairs(path, "data.train", fr)
    with pytest.raises(DataError, match=r"line 1: not a JSON object"):
        read_file_pairs(write(tmp_path / "e.jsonl", ["{oops"]), "data.train", options)


# ----------------------------------------------------------------------------- datasets


def test_a_translation_dataset_saved_to_disk(tmp_path: Path) -> None:
    import datasets

    translation = [{"de": f"Satz {i}.", "en": f"Sentence {i}."} for i in range(12)]
    train = datasets.Dataset.from_dict({"translation": translation})
    valid = datasets.Dataset.from_dict({"translation": translation[:2]})
    datasets.DatasetDict({"train": train, "validation": valid}).save_to_disk(str(tmp_path / "ds"))
    data = DataConfig(name=str(tmp_path / "ds"))
    splits = read_pairs(data, 3, ParallelOptions(source_lang="en", target_lang="de"))
    assert splits.carved == ["test"]
    assert splits.examples["validation"] == [
        Pair("Sentence 0.", "Satz 0."),
        Pair("Sentence 1.", "Satz 1."),
    ]
    every = splits.examples["train"] + splits.examples["test"]
    assert sorted(every) == sorted(Pair(row["en"], row["de"]) for row in translation)


def test_a_summarisation_dataset_with_two_text_columns(tmp_path: Path) -> None:
    import datasets

    rows = {"document": ["A long story.", "Another one."], "summary": ["Story.", " "], "id": [1, 2]}
    dataset = datasets.Dataset.from_dict(rows)
    options = ParallelOptions(source_column="document", target_column="summary")
    with pytest.raises(DataError, match=r"^data\.name: split 'train' of 'x', row 1: empty target"):
        dataset_pairs(dataset, options, "data.name: split 'train' of 'x'")
    assert dataset_pairs(dataset.select([0]), options, "x") == [Pair("A long story.", "Story.")]
    with pytest.raises(DataError, match=r"no column 'source' \(columns: document, summary, id\)"):
        dataset_pairs(dataset, ParallelOptions(), "data.name: split 'train' of 'x'")
    numbers = ParallelOptions(source_column="document", target_column="id")
    with pytest.raises(DataError, match=r"row 0: task\.target_column holds int '1', not text"):
        dataset_pairs(dataset, numbers, "data.name: split 'train' of 'x'")


# ----------------------------------------------------------------------------- config and cache


def test_config_problems_between_options_and_data() -> None:
    assert parallel_problems(DE_EN, DataConfig(train="train.de")) == []
    aligned_dataset = ParallelOptions(format="aligned", source_lang="de", target_lang="de")
    problems = parallel_problems(aligned_dataset, DataConfig(name="wmt16"))
    assert [problem.split(" ")[0] for problem in problems] == [
        "task.format=aligned",
        "task.source_lang",
    ]
    assert "data.name is set" in problems[0] and "both 'de'" in problems[1]
    same = ParallelOptions(format="aligned", source_column=0, target_column=0)
    problems = parallel_problems(same, DataConfig())
    assert "needs task.source_lang and task.target_lang" in problems[0]
    assert problems[1].startswith("task.source_column and task.target_column are both 0")


def test_fingerprint_covers_the_target_files_and_the_options(tmp_path: Path) -> None:
    data = DataConfig(train=str(aligned(tmp_path, "train", DE, EN)))
    before = parallel_fingerprint(data, DE_EN)
    assert before["options"]["source_lang"] == "de"
    assert before["targets"]["train"]["path"] == str((tmp_path / "train.en").resolve())
    write(tmp_path / "train.en", [*EN[:3], "Kids laugh out loud."])
    assert parallel_fingerprint(data, DE_EN) != before
    tsv = DataConfig(train=str(write(tmp_path / "spa.tsv", TATOEBA)))
    assert parallel_fingerprint(tsv, DE_EN)["targets"] == {}


# ----------------------------------------------------------------------------- any bytes

_CHARS = st.sampled_from(list('\t\n\r ,"{}[]:') + ['"translation"', '"de"', "\ufeff", "\x00"])
_BYTES = st.one_of(
    st.binary(max_size=120),
    st.lists(st.one_of(_CHARS, st.text(max_size=5)), max_size=30).map(
        lambda parts: "".join(parts).encode()
    ),
)
_COLUMN = st.sampled_from([0, 1, -1, 5, "source", "target", "de"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _BYTES,
    _BYTES,
    st.sampled_from([*FORMATS]),
    _COLUMN,
    _COLUMN,
    st.sampled_from([None, True, False]),
)
def test_any_file_gives_pairs_or_a_data_error(
    source: bytes,
    target: bytes,
    kind: str,
    first: str | int,
    second: str | int,
    header: bool | None,
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    (folder / "train.en").write_bytes(target)
    (folder / "train.de").write_bytes(source)
    options = ParallelOptions(kind, "de", "en", first, second, header)  # type: ignore[arg-type]
    try:
        pairs = read_file_pairs(folder / "train.de", "data.train", options)
    except DataError as error:
        assert str(error).startswith(("data.train", "task."))
    else:
        assert all(pair.source and pair.target for pair in pairs)
