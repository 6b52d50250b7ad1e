"""Behaviour tests for the classification task: readers, labels, pooling, batches, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pipeline.components import Components
from pipeline.config import ConfigError, ModelConfig, build_config
from pipeline.data import DataError
from pipeline.plugins import Registries, default_registries
from plugins.tasks.classification import (
    ClassificationTask,
    ClassifierNetwork,
    Example,
    ReadSettings,
    class_scores,
    dataset_examples,
    drop_words,
    encode_texts,
    label_ids,
    label_order,
    per_class_rows,
    pool,
    read_examples,
)
from plugins.tokenizers import WordTokenizer


@pytest.fixture(scope="module")
def regs() -> Registries:
    return default_registries()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def pairs(examples: list[Example]) -> list[tuple[str, str]]:
    return [(example.text, example.label) for example in examples]


def task_for(regs: Registries, tmp_path: Path, **sections: dict) -> ClassificationTask:
    raw = {
        "task": {"name": "classification", **sections.pop("task", {})},
        "data": {"cache_dir": str(tmp_path / "cache"), **sections.pop("data", {})},
        "model": {"embedding_size": 4, "hidden_size": 3, "num_layers": 1, "dropout": 0.0},
        **sections,
    }
    return ClassificationTask(build_config(raw, regs))


# ----------------------------------------------------------------------------- readers


def test_csv_reads_the_configured_columns_with_quotes_and_commas(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'id,sentence,y\n1,"good, really good",pos\n\n2,bad,neg\n')
    settings = ReadSettings("auto", text_column="sentence", label_column="y")
    examples = read_examples(path, settings, "data.train")
    assert pairs(examples) == [("good, really good", "pos"), ("bad", "neg")]
    assert examples[1].where.endswith("line 4")


def test_csv_missing_column_names_the_column_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text,category\nfine,a\n")
    with pytest.raises(DataError, match=r"data\.train: file .*a\.csv.*no column 'label'.*"):
        read_examples(path, ReadSettings("csv"), "data.train")


def test_tsv_reads_without_quoting(tmp_path: Path) -> None:
    path = write(tmp_path / "dev.tsv", 'sentence\tlabel\nit \'s "great"\t1\nawful\t0\n')
    assert pairs(read_examples(path, ReadSettings("auto", "sentence"), "data.validation")) == [
        ('it \'s "great"', "1"),
        ("awful", "0"),
    ]


def test_jsonl_reads_objects_and_turns_labels_into_text(tmp_path: Path) -> None:
    rows = [{"text": "fine", "label": 1}, {"text": "poor", "label": 0, "extra": True}]
    path = write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    assert pairs(read_examples(path, ReadSettings(), "data.test")) == [("fine", "1"), ("poor", "0")]
    write(path, '{"text": "fine", "label": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"a\.jsonl.*line 2: expected a JSON object"):
        read_examples(path, ReadSettings(), "data.test")


def test_label_first_splits_off_the_first_word(tmp_path: Path) -> None:
    path = write(tmp_path / "stsa.binary.train", "1 a stirring , funny film\n0  dull .\n")
    examples = read_examples(path, ReadSettings("label_first"), "data.train")
    assert pairs(examples) == [("a stirring , funny film", "1"), ("dull .", "0")]
    write(path, "1 fine\n0\n")
    with pytest.raises(DataError, match=r"data\.train: file .*stsa.*line 2: '0' is not 'LABEL"):
        read_examples(path, ReadSettings("label_first"), "data.train")


@pytest.mark.parametrize(
    ("labels", "expected"), [("coarse", ["DESC", "HUM"]), ("fine", ["DESC:manner", "HUM:ind"])]
)
def test_trec_reads_coarse_or_fine_labels(tmp_path: Path, labels: str, expected: list) -> None:
    path = write(
        tmp_path / "TREC.train", "DESC:manner How did it start ?\nHUM:ind Who wrote it ?\n"
    )
    examples = read_examples(path, ReadSettings("trec", trec_labels=labels), "data.train")
    assert [e.label for e in examples] == expected
    assert examples[0].text == "How did it start ?"


def test_latin1_file_reads_with_data_encoding_and_fails_as_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "TREC.train", "LOC:city Where is Peñíscola ?\n", encoding="latin-1")
    examples = read_examples(path, ReadSettings("trec", encoding="latin-1"), "data.train")
    assert examples[0].text == "Where is Peñíscola ?"
    with pytest.raises(DataError, match=r"data\.train: .*not valid utf-8.*data\.encoding=latin-1"):
        read_examples(path, ReadSettings("trec"), "data.train")


def test_regex_format_uses_named_groups(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "nice film\t__pos\nbad one\t__neg\n")
    settings = ReadSettings("regex", line_pattern=r"(?P<text>.+)\t__(?P<label>\w+)")
    assert pairs(read_examples(path, settings, "data.train")) == [
        ("nice film", "pos"),
        ("bad one", "neg"),
    ]


def test_auto_format_needs_a_known_suffix_and_missing_files_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "data.txt", "1 fine\n")
    with pytest.raises(DataError, match=r"data\.train: cannot tell the format.*set task\.format"):
        read_examples(path, ReadSettings(), "data.train")
    with pytest.raises(DataError, match=r"data\.test: file .*nope\.csv.* does not exist"):
        read_examples(tmp_path / "nope.csv", ReadSettings(), "data.test")


def test_local_dataset_folder_uses_class_label_names(regs: Registries, tmp_path: Path) -> None:
    import datasets

    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    rows = {"sentence": [f"good {i}" if i % 2 else f"bad {i}" for i in range(20)]}
    split = datasets.Dataset.from_dict({**rows, "label": [i % 2 for i in range(20)]}, features)
    datasets.DatasetDict({"train": split, "dev": split}).save_to_disk(str(tmp_path / "ds"))
    examples = dataset_examples(split, ReadSettings(text_column="sentence"), "data.name")
    assert pairs(examples)[:2] == [("bad 0", "neg"), ("good 1", "pos")]
    data = {"name": str(tmp_path / "ds"), "text_column": "sentence"}
    task = task_for(regs, tmp_path, data=data)
    facts = task.prepare_data(tmp_path / "cache")
    assert task.labels == ["neg", "pos"] and facts.extra["data.carved"] == "test"
    assert facts.sizes["train"] + facts.sizes["test"] == 20


# ----------------------------------------------------------------------------- labels and splits


def test_labels_are_sorted_numbers_first_then_text() -> None:
    assert label_order(["pos", "neg", "pos"]) == ["neg", "pos"]
    assert label_order(["10", "2", "1", "x"]) == ["1", "2", "10", "x"]
    examples = [Example("a", "pos", "f:1"), Example("b", "neg", "f:2")]
    assert label_ids(examples, ["neg", "pos"], "data.train") == [1, 0]


def test_unseen_label_in_test_names_label_and_file(regs: Registries, tmp_path: Path) -> None:
    train = write(tmp_path / "train.txt", "pos good\nneg bad\npos nice\n")
    test = write(tmp_path / "test.txt", "pos fine\nmeh so so\n")
    task = task_for(
        regs,
        tmp_path,
        task={"format": "label_first"},
        data={"train": str(train), "validation": str(train), "test": str(test)},
    )
    with pytest.raises(DataError, match=r"data\.test: label 'meh' \(.*test\.txt.*line 2\)"):
        task.prepare_data(tmp_path / "cache")


def test_missing_splits_are_carved_from_train_with_the_seed(regs: Registries, tmp_path: Path):
    train = write(tmp_path / "t.txt", "".join(f"{i % 2} text {i}\n" for i in range(40)))
    sections = {"task": {"format": "label_first"}, "data": {"train": str(train)}}
    read = task_for(regs, tmp_path, **sections).read_splits()
    splits, again = read.examples, task_for(regs, tmp_path, **sections).read_splits().examples
    assert read.carved == ["validation", "test"] and splits == again
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [32, 4, 4]
    texts = [e.text for split in splits.values() for e in split]
    assert sorted(texts) == sorted(f"text {i}" for i in range(40))


def test_config_problems_name_the_reader_keys(regs: Registries) -> None:
    cases = [
        ({"format": "regex"}, {}, "task.line_pattern: task.format=regex needs a pattern"),
        ({"format": "regex", "line_pattern": "(?P<text>.+)"}, {}, "missing named group(s) label"),
        ({"line_pattern": "(?P<label>.)(?P<text>.+)"}, {}, "only read with task.format=regex"),
        ({"format": "trec"}, {"name": "sst2"}, "task.format=trec reads local files"),
    ]
    for task, data, message in cases:
        with pytest.raises(ConfigError) as error:
            build_config({"task": {"name": "classification", **task}, "data": data}, regs)
        assert message in str(error.value)


def test_label_column_is_a_task_option_and_the_old_data_key_names_it(regs, tmp_path) -> None:
    rows = "".join(f"w{i},{i % 2}\n" for i in range(20))
    train = write(tmp_path / "t.csv", "text,topic\n" + rows)
    task = task_for(regs, tmp_path, task={"label_column": "topic"}, data={"train": str(train)})
    splits = task.read_splits().examples
    assert sorted({e.label for e in splits["train"]}) == ["0", "1"]
    with pytest.raises(DataError, match=r"no column 'label' .*set task\.label_column"):
        task_for(regs, tmp_path, data={"train": str(train)}).read_splits()
    raw = {"task": {"name": "classification"}, "data": {"label_column": "topic"}}
    with pytest.raises(ConfigError) as error:
        build_config(raw, regs)
    assert error.value.problems == [
        "data.label_column: moved to task.label_column (an option of the classification task); "
        "set that key instead"
    ]


# ----------------------------------------------------------------------------- pooling


def encoder(regs: Registries, cell: str, bidirectional: bool, layers: int = 1) -> nn.Module:
    model = ModelConfig(cell=cell, hidden_size=3, num_layers=layers, dropout=0.0)
    torch.manual_seed(0)
    return Components(model, regs.cells).encoder(2, bidirectional).eval()


def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(1))  # (B, T, D)
    lengths = torch.tensor([5, 2, 3])
    x[1, 2:] = 99.0  # padding holds garbage that must not matter
    x[2, 3:] = -99.0
    return x, lengths


def test_mean_and_max_ignore_padding() -> None:
    outputs = torch.tensor([[[1.0], [3.0], [50.0]], [[-2.0], [-4.0], [-8.0]]])  # (2, 3, 1)
    lengths = torch.tensor([2, 3])
    assert pool(outputs, torch.zeros(1, 2, 1), lengths, "mean", 1).flatten().tolist() == [
        2.0,
        pytest.approx(-14 / 3),
    ]
    assert pool(outputs, torch.zeros(1, 2, 1), lengths, "max", 1).flatten().tolist() == [3.0, -2.0]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_last_is_forward_state_at_length_and_backward_state_at_start(regs, cell) -> None:
    net = encoder(regs, cell, bidirectional=True, layers=2)
    x, lengths = padded_batch()
    with torch.no_grad():
        outputs, state = net(x, lengths)  # (B, T, 2H)
        last = pool(outputs, state[0], lengths, "last", 2)  # (B, 2H)
    assert last.shape == (3, 6)
    for b, length in enumerate(lengths.tolist()):
        assert torch.allclose(last[b, :3], outputs[b, length - 1, :3], atol=1e-6)
        assert torch.allclose(last[b, 3:], outputs[b, 0, 3:], atol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_logits_do_not_depend_on_padding(regs, pooling: str, bidirectional: bool) -> None:
    """Each text alone gives the same logits as inside a padded batch (any pooling)."""
    torch.manual_seed(0)
    model = ModelConfig(cell="lstm", embedding_size=4, hidden_size=3, num_layers=1, dropout=0.0)
    components = Components(model, regs.cells)
    network = ClassifierNetwork(
        components.embedding(10, padding_idx=0), components.encoder(4, bidirectional), 3, pooling, 0
    ).eval()
    tokens = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0], [3, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 1])
    with torch.no_grad():
        batch = network(tokens, lengths)  # (B, C)
        alone = [
            network(tokens[b : b + 1, :n], lengths[b : b + 1]) for b, n in enumerate([4, 2, 1])
        ]
    assert torch.allclose(batch, torch.cat(alone), atol=1e-6)


def test_word_dropout_replaces_valid_tokens_only_and_only_in_training(regs) -> None:
    tokens, lengths = torch.tensor([[4, 5, 6], [7, 0, 0]]), torch.tensor([3, 1])
    assert drop_words(tokens, lengths, 1.0, 1).tolist() == [[1, 1, 1], [1, 0, 0]]
    assert torch.equal(drop_words(tokens, lengths, 0.0, 1), tokens)
    components = Components(ModelConfig(embedding_size=4, hidden_size=3, dropout=0.0), regs.cells)
    network = ClassifierNetwork(
        components.embedding(10, 0), components.encoder(4), 2, "last", 0.0, (0.9, 1)
    ).eval()
    assert torch.equal(network(tokens, lengths), network(tokens, lengths))


# ----------------------------------------------------------------------------- batches


def test_batches_pad_with_pad_id_and_shard_under_ddp(regs: Registries, tmp_path: Path) -> None:
    lines = "".join(f"{i % 3} {'word ' * (1 + i % 4)}\n" for i in range(30))
    train = write(tmp_path / "t.txt", lines)
    sections = {"task": {"format": "label_first"}, "data": {"train": str(train), "batch_size": 4}}
    task = task_for(regs, tmp_path, **sections)
    task.prepare_data(tmp_path / "cache")
    tokens, lengths, labels = next(iter(task.dataloader("train")))
    assert tokens.shape[0] == 4 and (tokens[torch.arange(4), lengths - 1] != 0).all()
    assert all((tokens[b, n:] == task.tokenizer.pad_id).all() for b, n in enumerate(lengths))
    orders = [[b[2].tolist() for b in task.dataloader("train")] for _ in range(2)]
    assert orders[0] == orders[1]  # a fresh loader with the same seed: the same order
    size = len(task.data["train"])
    shards = [list(task.dataloader("train", rank, 2).sampler) for rank in (0, 1)]
    assert not set(shards[0]) & set(shards[1]) and len(shards[0] + shards[1]) >= size
    val = [list(task.dataloader("val", rank, 2).sampler) for rank in (0, 1)]
    assert sorted(val[0] + val[1]) == list(range(len(task.data["val"])))


def test_empty_text_keeps_one_unknown_token() -> None:
    tokenizer = WordTokenizer(10)
    tokenizer.fit(["a b"])
    assert encode_texts(tokenizer, ["a", "   ", "zzz"]) == [[3], [1], [1]]


# ----------------------------------------------------------------------------- metrics


class Replay(nn.Module):
    """A stand-in network: the logits of text i are row i of a fixed (N, C) matrix."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.logits[tokens[:, 0]]  # tokens (B, 1) hold the text index


def one_batch(target: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    size = target.numel()
    return [(torch.arange(size).unsqueeze(1), torch.ones(size, dtype=torch.long), target)]


def test_metrics_and_per_class_table_on_a_known_confusion(regs: Registries, tmp_path) -> None:
    task = task_for(regs, tmp_path)
    task.labels = ["a", "b", "c"]
    target = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    logits = nn.functional.one_hot(predicted, 3).float()
    metrics = task.metrics()
    assert set(metrics) == set(task.metric_names)
    metrics["accuracy"].update(logits, target)
    metrics["macro_f1"].update(logits, target)
    # per class F1: a 6/7 (P 1, R 3/4), b 1/2 (P 1/2, R 1/2), c 4/5 (P 2/3, R 1)
    assert float(metrics["accuracy"].compute()) == pytest.approx(6 / 8)
    assert float(metrics["macro_f1"].compute()) == pytest.approx((6 / 7 + 1 / 2 + 4 / 5) / 3)

    scores = class_scores(Replay(logits), one_batch(target), 3)
    assert scores["confusion"].tolist() == [[3, 1, 0], [0, 1, 1], [0, 0, 2]]
    rows = per_class_rows(scores, task.labels)
    assert [row["label"] for row in rows] == ["a", "b", "c"]
    assert [row["precision"] for row in rows] == [1.0, 0.5, round(2 / 3, 4)]
    assert [row["recall"] for row in rows] == [0.75, 0.5, 1.0]
    assert [row["f1"] for row in rows] == [round(6 / 7, 4), 0.5, 0.8]
    assert [row["support"] for row in rows] == [4, 2, 2]


def test_loss_metric_is_the_mean_over_texts_not_over_batches(regs, tmp_path) -> None:
    task = task_for(regs, tmp_path)
    task.labels = ["a", "b", "c"]
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [5.0, 0.0, 0.0]])
    target = torch.tensor([0, 0, 2, 1])
    metrics = task.metrics()
    batch = (torch.tensor([[0], [1], [2]]), torch.ones(3, dtype=torch.long), target[:3])
    result = task.step(Replay(logits), batch, None, metrics)
    assert float(result.loss) == pytest.approx(float(F.cross_entropy(logits[:3], target[:3])))
    batch = (torch.tensor([[3]]), torch.ones(1, dtype=torch.long), target[3:])
    task.step(Replay(logits), batch, None, metrics)
    expected = float(F.cross_entropy(logits, target))  # over the 4 texts, batches of 3 and 1
    assert float(metrics["loss"].compute()) == pytest.approx(expected)


def test_per_class_scores_are_zero_where_undefined_and_add_up_over_batches() -> None:
    """Class c is never true and never predicted, class b never predicted: 0, not NaN."""
    target = torch.tensor([0, 1, 0, 1, 0])
    logits = nn.functional.one_hot(torch.zeros(5, dtype=torch.long), 3).float()  # all a
    batches = [(torch.tensor([[0], [1]]), torch.ones(2, dtype=torch.long), target[:2])]
    batches.append((torch.tensor([[2], [3], [4]]), torch.ones(3, dtype=torch.long), target[2:]))
    rows = per_class_rows(class_scores(Replay(logits), batches, 3), ["a", "b", "c"])
    assert rows == [
        {"label": "a", "precision": 0.6, "recall": 1.0, "f1": 0.75, "support": 3},
        {"label": "b", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2},
        {"label": "c", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
    ]


# --- headerless files and joined text columns (AG News, Yelp, DBpedia) -------------------------

AG_NEWS = (
    '3,"Wall St. Bears Claw Back","Short-sellers, Wall Street\'s band, are seeing green"\n'
    "\n"
    "4,Chips get faster,\n"
)


@pytest.mark.parametrize(("fmt", "sep"), [("csv", ","), ("tsv", "\t")])
def test_headerless_rows_use_column_numbers_and_join_text_columns(
    tmp_path: Path, fmt: str, sep: str
) -> None:
    text = (
        AG_NEWS if fmt == "csv" else "3\tWall St. Bears\tShort-sellers\n\n4\tChips get faster\t\n"
    )
    path = write(tmp_path / f"train.{fmt}", text)
    settings = ReadSettings(fmt, label_column="0", header=False, text_columns=("1", "2"))
    examples = read_examples(path, settings, "data.train")
    assert [(e.label, e.where.rsplit(" ", 1)[-1]) for e in examples] == [("3", "1"), ("4", "3")]
    first = "Wall St. Bears Claw Back Short-sellers, Wall Street's band, are seeing green"
    assert examples[0].text == (first if fmt == "csv" else "Wall St. Bears Short-sellers")
    assert examples[1].text == "Chips get faster"  # an empty column adds nothing


def test_a_headerless_file_read_with_names_lists_its_numbered_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "train.csv", AG_NEWS)
    with pytest.raises(DataError, match=r"line 1: no column 'text' \(columns: 0, 1, 2\)"):
        read_examples(path, ReadSettings("csv", header=False), "data.train")


def test_text_columns_join_named_columns_of_a_file_with_a_header(tmp_path: Path) -> None:
    path = write(tmp_path / "train.jsonl", '{"label": "pos", "title": "Great", "body": "film"}\n')
    settings = ReadSettings("jsonl", text_columns=("title", "body"))
    assert read_examples(path, settings, "data.train")[0].text == "Great film"


def test_headerless_options_train_through_the_task(regs: Registries, tmp_path: Path) -> None:
    rows = "".join(f"{i % 2},title {i},body {i}\n" for i in range(20))
    train = write(tmp_path / "ag.csv", rows)
    options = {"header": False, "label_column": 0, "text_columns": [1, 2]}
    task = task_for(regs, tmp_path, task=options, data={"train": str(train)})
    examples = task.read_splits().examples
    assert sorted({e.label for e in examples["train"]}) == ["0", "1"]
    assert {e.text for split in examples.values() for e in split} == {
        f"title {i} body {i}" for i in range(20)
    }


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"label_column": 0}, "column numbers [0] are only for files without a header"),
        ({"header": False, "format": "trec"}, "task.header=false is for csv and tsv files"),
        ({"header": False, "text_columns": [1.5]}, "task.text_columns: 1.5 is not a column"),
    ],
)
def test_headerless_config_problems(regs: Registries, task: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        build_config({"task": {"name": "classification", **task}}, regs)
    assert message in str(error.value)
