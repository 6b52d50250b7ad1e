"""The tagging task's parts: CoNLL reading, tag schemes, pieces, chars, data, the task."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from pipeline.components import Components
from pipeline.config import build_config
from pipeline.data import DataError
from pipeline.plugins import default_registries
from plugins.tasks.tagging import TaggingTask
from plugins.tasks.tagging.conll import read_conll
from plugins.tasks.tagging.data import (
    IGNORE_INDEX,
    CharVocab,
    SentenceData,
    collate,
    encode_sentences,
)
from plugins.tasks.tagging.network import CharCNN, CharLSTM, build_char_features
from plugins.tasks.tagging.schemes import (
    Span,
    TagError,
    check_tags,
    convert,
    scheme_tags,
    spans,
    tags_from_spans,
)
from plugins.tokenizers import SentencePieceTokenizer

# ----------------------------------------------------------------------------- schemes

IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-PER"]
IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-PER"]
IOBES = ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-PER"]
SPANS = [Span(0, 2, "PER"), Span(3, 4, "LOC"), Span(4, 6, "LOC"), Span(7, 8, "PER")]


@pytest.mark.parametrize(
    ("tags", "scheme"), [(IOB2, "iob2"), (IOB1, "iob1"), (IOBES, "iobes")], ids=str
)
def test_each_scheme_reads_to_the_same_spans_and_writes_back(tags, scheme) -> None:
    assert spans(tags) == SPANS
    assert tags_from_spans(SPANS, len(tags), scheme) == tags


@pytest.mark.parametrize("source", [IOB1, IOB2, IOBES])
@pytest.mark.parametrize("target", ["iob1", "iob2", "iobes"])
def test_conversions_round_trip(source: list[str], target: str) -> None:
    assert convert(convert(source, target), "iob2") == IOB2
    assert spans(convert(source, target)) == SPANS


def test_random_span_sets_round_trip_through_every_scheme() -> None:
    generator = random.Random(0)
    for _ in range(200):
        length, position, entities = generator.randint(1, 12), 0, []
        while position < length:
            size = generator.randint(1, 3)
            if generator.random() < 0.5 and position + size <= length:
                entities.append(Span(position, position + size, generator.choice("AB")))
                position += size
            else:
                position += 1
        for scheme in ("iob1", "iob2", "iobes"):
            assert spans(tags_from_spans(entities, length, scheme)) == entities


def test_lenient_reading_as_the_conll_script() -> None:
    # I- after O or after another type starts an entity; B- always starts one.
    assert spans(["O", "I-PER", "I-PER", "I-LOC", "B-LOC"]) == [
        Span(1, 3, "PER"),
        Span(3, 4, "LOC"),
        Span(4, 5, "LOC"),
    ]
    assert spans(["B-PER", "I-PER", "E-PER", "I-PER"]) == [Span(0, 3, "PER"), Span(3, 4, "PER")]
    assert spans(["B-MISC"]) == [Span(0, 1, "MISC")] and spans(["O", "O"]) == []


def test_check_tags_rejects_bad_tags_and_foreign_prefixes() -> None:
    check_tags(IOBES, "iobes")
    with pytest.raises(TagError, match="set task.scheme=iobes"):
        check_tags(["S-PER"], "iob2")
    with pytest.raises(TagError, match="neither O nor PREFIX-TYPE"):
        check_tags(["PER"], "iob2")


def test_scheme_tags_lists_outside_first_then_sorted_types() -> None:
    assert scheme_tags(["PER", "LOC"], "iob2") == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert len(scheme_tags(["PER", "LOC", "ORG", "MISC"], "iobes")) == 17


# ----------------------------------------------------------------------------- reading


def conll_text(sentences: list[list[tuple[str, str]]], docstart: bool = True) -> str:
    lines = ["-DOCSTART- -X- O", ""] if docstart else []
    for sentence in sentences:
        lines += [f"{word} X {tag}" for word, tag in sentence] + [""]
    return "\n".join(lines) + "\n"


def test_reader_skips_docstart_and_splits_on_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.conll"
    path.write_text(
        "-DOCSTART- -X- O\n\nEl DA O\nseñor NC O\nGarcía NP B-PER\n\n\n\t\nen SP O\n"
        "-DOCSTART- -X- O\nLima NP B-LOC\n",
        encoding="utf-8",
    )
    sentences = read_conll(path, "utf-8", 0, -1, "data.train")
    assert [s.words for s in sentences] == [["El", "señor", "García"], ["en"], ["Lima"]]
    assert sentences[0].tags == ["O", "O", "B-PER"]
    assert read_conll(path, "utf-8", 1, 2, "data.train")[0] == (
        ["DA", "NC", "NP"],
        sentences[0].tags,
    )


def test_reader_decodes_latin1_and_names_encoding_problems(tmp_path: Path) -> None:
    path = tmp_path / "latin.conll"
    path.write_bytes("Peña B-PER\nvino O\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"data\.validation: .* not valid utf-8.*data\.encoding"):
        read_conll(path, "utf-8", 0, -1, "data.validation")
    assert read_conll(path, "latin-1", 0, -1, "data.validation")[0].words == ["Peña", "vino"]


def test_reader_names_missing_files_and_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data\.train: file .* does not exist"):
        read_conll(tmp_path / "nope", "utf-8", 0, -1, "data.train")
    path = tmp_path / "two.conll"
    path.write_text("Lima B-LOC\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"task\.tag_column: column 3 does not exist on line 1"):
        read_conll(path, "utf-8", 0, 3, "data.train")


# ----------------------------------------------------------------------------- pieces


SPM_LINES = [
    "el señor García vive en Madrid",
    "la señora López trabaja en Sevilla",
    "el presidente Martínez viajó a Valencia",
] * 30


@pytest.fixture(scope="module")
def sentencepiece() -> SentencePieceTokenizer:
    tokenizer = SentencePieceTokenizer(40, "bpe")
    tokenizer.fit(SPM_LINES)
    return tokenizer


def test_first_piece_labelling_keeps_one_label_per_word(sentencepiece) -> None:
    words = [["el", "señor", "García", "vive"], ["Zaragozaxyz"]]
    tags = [[0, 0, 1, 0], [2]]
    encoded = encode_sentences(words, tags, sentencepiece, CharVocab.fit("abc"), 20)
    per_word = [len(sentencepiece.encode(w)) for s in words for w in s]
    assert any(n > 1 for n in per_word)  # the test needs words of several pieces
    assert int(encoded["first"].sum()) == 5 and encoded["pieces"].numel() == sum(per_word)
    batch = collate([SentenceData(encoded)[0], SentenceData(encoded)[1]])
    assert batch.labels[batch.first].tolist() == [0, 0, 1, 0, 2]
    assert (batch.labels[~batch.first] == IGNORE_INDEX).all()
    assert batch.word_mask.sum(1).tolist() == [4, 1] and batch.tags.shape == (2, 4)
    assert batch.chars.shape[0] == 5 and batch.char_lengths.tolist() == [2, 5, 6, 4, 11]


# ----------------------------------------------------------------------------- char features


def test_char_vocab_encodes_unknown_characters_and_round_trips(tmp_path: Path) -> None:
    vocab = CharVocab.fit(["aab", "b"])
    assert vocab.chars[2:] == ["a", "b"] and vocab.encode("abz", 2) == [2, 3]
    assert vocab.encode("z", 5) == [1] and vocab.encode("", 5) == [1]
    vocab.save(tmp_path / "chars.json")
    assert CharVocab.load(tmp_path / "chars.json").chars == vocab.chars


@pytest.mark.parametrize("kind", ["lstm", "cnn"])
def test_char_features_shapes_and_padding_independence(kind: str) -> None:
    torch.manual_seed(0)
    module = build_char_features(kind, 10, 8, 6, 3)
    assert isinstance(module, CharLSTM if kind == "lstm" else CharCNN)
    chars = torch.tensor([[2, 3, 4, 0, 0], [5, 0, 0, 0, 0], [2, 2, 2, 2, 2]])
    lengths = torch.tensor([3, 1, 5])
    features = module(chars, lengths)
    assert features.shape == (3, module.output_size)
    assert module.output_size == (12 if kind == "lstm" else 6)
    alone = module(chars[:1, :3], lengths[:1])  # the same word with less padding
    torch.testing.assert_close(alone[0], features[0])
    assert build_char_features("none", 10, 8, 6, 3) is None


# ----------------------------------------------------------------------------- the task


def write_conll(path: Path, sentences: list[list[tuple[str, str]]], encoding="utf-8") -> str:
    path.write_text(conll_text(sentences), encoding=encoding)
    return str(path)


def ner_sentences(count: int, seed: int) -> list[list[tuple[str, str]]]:
    generator = random.Random(seed)
    names, places = ["García", "López", "Peña", "Ruiz"], ["Madrid", "Lima", "Toledo"]
    sentences = []
    for _ in range(count):
        name, place = generator.choice(names), generator.choice(places)
        sentences.append(
            [("el", "O"), ("señor", "O"), (name, "B-PER"), ("vive", "O"), ("en", "O")]
            + [(place, "B-LOC"), (".", "O")]
        )
    return sentences


def tagging_config(tmp_path: Path, **task: object) -> object:
    raw = {
        "task": {"name": "tagging", **task},
        "data": {
            "train": write_conll(tmp_path / "train.conll", ner_sentences(40, 0)),
            "cache_dir": str(tmp_path / "cache"),
            "batch_size": 8,
            "eval_batch_size": 8,
        },
        "tokenizer": {"vocab_size": 100},
        "model": {"embedding_size": 8, "hidden_size": 8, "num_layers": 1, "dropout": 0.0},
    }
    return build_config(raw, default_registries())


def prepared(tmp_path: Path, **task: object) -> TaggingTask:
    task_object = TaggingTask(tagging_config(tmp_path, **task))
    task_object.prepare_data(tmp_path / "cache")
    return task_object


def test_prepare_data_carves_splits_by_sentence_and_reuses_the_cache(tmp_path: Path) -> None:
    task = prepared(tmp_path)
    sizes = {split: len(SentenceData(task.encoded[split])) for split in ("train", "val", "test")}
    assert sizes == {"train": 32, "val": 4, "test": 4}
    assert task.tags == scheme_tags(["LOC", "PER"], "iobes") and task.types == ["LOC", "PER"]
    again = TaggingTask(task.cfg)
    facts = again.prepare_data(tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*/.complete"))) == 1
    assert facts.sizes["train_sentences"] == 32 and facts.extra["data.carved"] == "validation,test"
    assert again.tags == task.tags and again.tokenizer.vocab == task.tokenizer.vocab


def test_tags_outside_the_scheme_name_the_file_and_sentence(tmp_path: Path) -> None:
    cfg = tagging_config(tmp_path, scheme="iob2")
    sentences = ner_sentences(3, 0) + [[("Lima", "S-LOC")]]
    write_conll(tmp_path / "valid.conll", sentences)
    cfg.data.validation = str(tmp_path / "valid.conll")
    pattern = r"data\.validation: file .*valid\.conll': sentence 4: .*task\.scheme=iob2"
    with pytest.raises(DataError, match=pattern):
        TaggingTask(cfg).prepare_data(tmp_path / "cache")


def test_loaders_shard_for_ddp_without_repeating_evaluation_sentences(tmp_path: Path) -> None:
    task = prepared(tmp_path)
    train = task.dataloader("train", rank=1, world_size=2)
    assert isinstance(train.sampler, torch.utils.data.DistributedSampler)
    shards = [list(task.dataloader("val", rank, 2).sampler) for rank in (0, 1)]
    assert all(shards) and sorted(shards[0] + shards[1]) == [0, 1, 2, 3]
    test = [task.dataloader("test", rank, 2) for rank in (0, 1)]
    words = sum(int(batch.word_mask.sum()) for loader in test for batch in loader)
    assert words == task.encoded["test"]["tags"].numel()  # each test word once across ranks
    first = [b.pieces.tolist() for b in task.dataloader("train")]
    assert first == [b.pieces.tolist() for b in task.dataloader("train")]  # seeded shuffle


@pytest.mark.parametrize(("crf", "chars"), [(False, "none"), (True, "cnn"), (True, "lstm")])
def test_network_step_predict_and_report(tmp_path: Path, crf: bool, chars: str) -> None:
    task = prepared(tmp_path, crf=crf, char_features=chars, scheme="iob2")
    registries = default_registries()
    network = task.build_network(Components(task.cfg.model, registries.cells))
    assert network.encoder.directions == 2  # the task's default, though model.bidirectional=false
    metrics = task.metrics()
    batch = next(iter(task.dataloader("train")))
    result = task.step(network, batch, None, metrics)
    result.loss.backward()
    assert torch.isfinite(result.loss) and set(metrics) == set(task.metric_names)
    assert 0.0 <= float(metrics["f1"].compute()) <= 1.0
    [prediction] = task.predict(network, ["el señor Desconocido vive en Lima ."], top_k=3)
    assert prediction["words"][2] == "Desconocido" and len(prediction["tags"]) == 7
    assert all(tag == "O" or tag[:2] in ("B-", "I-") for tag in prediction["tags"])
    assert "tags: el/" in task.describe(prediction)
    assert task.predict(network, ["   "])[0]["entities"] == []
    task.write_reports(network.eval(), tmp_path)
    table = (tmp_path / "entities_test.md").read_text(encoding="utf-8")
    assert "| LOC |" in table and "| micro avg |" in table


def test_sentencepiece_predictions_are_per_original_word(tmp_path: Path) -> None:
    cfg = tagging_config(tmp_path)
    cfg.tokenizer.kind, cfg.tokenizer.vocab_size = "sentencepiece", 30
    task = TaggingTask(cfg)
    task.prepare_data(tmp_path / "cache")
    assert task.tokenizer.kind == "sentencepiece"
    network = task.build_network(Components(task.cfg.model, default_registries().cells))
    words = ["el", "señor", "Zaragozaxyz", "vive", "en", "Torremolinos", "."]
    assert sum(len(task.tokenizer.encode(w)) for w in words) > len(words)
    [prediction] = task.predict(network, [" ".join(words)])
    assert prediction["words"] == words and len(prediction["tags"]) == len(words)


def test_artifacts_round_trip(tmp_path: Path) -> None:
    task = prepared(tmp_path, char_features="lstm")
    task.save_artifacts(tmp_path / "artifacts")
    assert json.loads((tmp_path / "artifacts" / "tags.json").read_text())["scheme"] == "iobes"
    loaded = TaggingTask(task.cfg)
    loaded.load_artifacts(tmp_path / "artifacts")
    assert loaded.tags == task.tags and loaded.char_vocab.chars == task.char_vocab.chars
    assert loaded.tokenizer.vocab == task.tokenizer.vocab


def test_datasets_with_classlabel_tags(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "words": datasets.Sequence(datasets.Value("string")),
            "labels": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
        }
    )
    rows = {"words": [["el", "señor", "Juan", "Ruiz"]] * 20, "labels": [[0, 0, 1, 2]] * 20}
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(rows, features=features)}
    ).save_to_disk(str(tmp_path / "ds"))
    raw = {
        "task": {"name": "tagging", "tokens_field": "words", "tags_field": "labels"},
        "data": {"name": str(tmp_path / "ds"), "cache_dir": str(tmp_path / "cache")},
        "tokenizer": {"vocab_size": 50},
    }
    task = TaggingTask(build_config(raw, default_registries()))
    task.prepare_data(tmp_path / "cache")
    assert task.tags == ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    assert task.encoded["train"]["tags"][:4].tolist() == [0, 0, 1, 3]  # IOBES inside
    raw["task"]["tags_field"] = "nope"
    with pytest.raises(DataError, match=r"task\.tags_field: column 'nope'.*words, labels"):
        TaggingTask(build_config(raw, default_registries())).prepare_data(tmp_path / "c2")


def test_config_problem_when_directions_contradict(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="task.bidirectional=false contradicts"):
        build_config(
            {"task": {"name": "tagging", "bidirectional": False}, "model": {"bidirectional": True}},
            default_registries(),
        )
