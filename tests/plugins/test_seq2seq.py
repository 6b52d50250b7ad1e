"""Behaviour tests for the seq2seq task: config checks, vocabularies, batches, the network,
metrics and per-side pretrained vectors (the CLI path is in test_seq2seq_cli.py; check_task
with DDP runs in test_builtin_conformance.py on pipeline.testing.fixtures' reversal data)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from pipeline.cli import main
from pipeline.components import Components
from pipeline.config import Config, ConfigError, build_config
from pipeline.initialization import initialize
from pipeline.plugins import Registries, default_registries
from pipeline.sharding import split_sampler
from plugins.tasks.seq2seq import Seq2SeqNetwork, Seq2SeqTask
from plugins.tasks.seq2seq.batching import LengthGrouped
from plugins.tasks.seq2seq.data import Collate, EncodedPairs, Sides
from plugins.tasks.seq2seq.metrics import logged_metrics
from plugins.tasks.seq2seq.toy_data import write_reversal_pairs

MODEL = {"embedding_size": 8, "hidden_size": 8, "num_layers": 1, "dropout": 0.0}


@pytest.fixture(scope="module")
def regs() -> Registries:
    return default_registries()


def config(regs: Registries, tmp_path: Path, **sections: dict[str, Any]) -> Config:
    """A seq2seq config on reversal TSV files in tmp_path (written when they are missing)."""
    if not (tmp_path / "train.tsv").exists():
        write_reversal_pairs(tmp_path, {"train": 40, "validation": 8, "test": 8})
    raw = {
        "task": {"name": "seq2seq", **sections.pop("task", {})},
        "data": {
            "train": str(tmp_path / "train.tsv"),
            "validation": str(tmp_path / "validation.tsv"),
            "test": str(tmp_path / "test.tsv"),
            "cache_dir": str(tmp_path / "cache"),
            "batch_size": 8,
            "eval_batch_size": 4,
        },
        "model": {**MODEL, "runner": "eager", **sections.pop("model", {})},
        **sections,
    }
    return build_config(raw, regs)


def prepared(regs: Registries, tmp_path: Path, **sections: dict[str, Any]) -> Seq2SeqTask:
    task = Seq2SeqTask(config(regs, tmp_path, **sections))
    task.prepare_data(tmp_path / "cache")
    return task


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"task": {"attention": "cosine"}}, r"task\.attention: expected one of none, bahdanau"),
        (
            {
                "task": {"attention": "luong", "attention_score": "dot"},
                "model": {"bidirectional": True},
            },
            r"task\.attention_score=dot needs encoder outputs as wide as the decoder state.*16 "
            r"against model\.hidden_size=8.*attention_score=general or model\.bidirectional=false",
        ),
        (
            {"task": {"tie_embeddings": True}, "model": {"embedding_size": 6}},
            r"task\.tie_embeddings=true .* model\.embedding_size \(6\) must equal "
            r"model\.hidden_size \(8\)",
        ),
    ],
    ids=["attention-name", "dot-sizes", "tie-sizes"],
)
def test_bad_settings_are_one_config_error_before_data_is_read(
    regs: Registries, tmp_path: Path, sections: dict[str, Any], message: str
) -> None:
    missing = {"train": str(tmp_path / "nowhere.tsv")}  # never read: the config fails first
    raw = {
        "task": {"name": "seq2seq", **sections.get("task", {})},
        "data": missing,
        "model": {**MODEL, **sections.get("model", {})},
    }
    with pytest.raises(ConfigError, match=message) as error:
        build_config(raw, regs)
    assert len(error.value.problems) == 1


def test_luong_dot_with_a_one_direction_encoder_is_fine(regs: Registries, tmp_path: Path) -> None:
    cfg = config(regs, tmp_path, task={"attention": "luong", "attention_score": "dot"})
    assert cfg.task.options.attention_score == "dot"


# ----------------------------------------------------------------------------- data


def test_shared_vocabulary_is_one_tokenizer_fitted_on_both_sides(
    regs: Registries, tmp_path: Path
) -> None:
    shared = prepared(regs, tmp_path, task={"shared_vocabulary": True}).fitted
    assert shared.shared and {"a", "A"} <= set(shared.source.vocab)
    separate = prepared(regs, tmp_path / "separate").fitted
    assert not separate.shared
    assert "a" in separate.source.vocab and "a" not in separate.target.vocab
    assert "A" in separate.target.vocab and "A" not in separate.source.vocab
    for sides in (shared, separate):
        sides.save(tmp_path / "saved" / str(sides.shared))
        loaded = Sides.load(tmp_path / "saved" / str(sides.shared))
        assert loaded.shared == sides.shared
        assert loaded.target.vocab == sides.target.vocab


def test_targets_are_framed_by_eos_and_both_sides_cut_to_their_limits(
    regs: Registries, tmp_path: Path
) -> None:
    sides = prepared(regs, tmp_path).fitted
    pairs = EncodedPairs.encode(sides, ["a b c d", "e"], ["D C B A", "E"], (2, 3))
    eos = sides.target.eos_id
    first, second = pairs[0], pairs[1]
    assert first.source.tolist() == sides.source.encode("a b")
    assert first.target.tolist() == [eos, *sides.target.encode("D C B"), eos]
    assert second.target.tolist() == [eos, *sides.target.encode("E"), eos]
    assert first.reference == "D C B A"  # BLEU compares with the whole raw text


def test_val_batches_mark_val_bleu_sentences_across_the_split_for_decoding(
    regs: Registries, tmp_path: Path
) -> None:
    task = prepared(regs, tmp_path, task={"val_bleu_sentences": 5})
    marked = [int(batch.decode.sum()) for batch in task.dataloader("val")]
    assert marked == [2, 3]  # 8 sentences in batches of 4: positions 0, 2, 4, 5, 7
    assert {batch.search for batch in task.dataloader("val")} == {1}
    test = list(task.dataloader("test"))
    assert all(bool(batch.decode.all()) and batch.search == 5 for batch in test)
    assert {batch.search for batch in task.dataloader("train")} == {0}


def test_training_batches_group_similar_lengths_from_the_seeded_shuffle(
    regs: Registries, tmp_path: Path
) -> None:
    task = prepared(regs, tmp_path)
    lengths = task.data["train"].target_lengths()
    shuffled = list(split_sampler(task.data["train"], "train", task.cfg.seed))

    def grouped(rank: int = 0, world_size: int = 1, seed: int = task.cfg.seed) -> LengthGrouped:
        base = split_sampler(task.data["train"], "train", seed, rank, world_size)
        return LengthGrouped(base, lengths, 4, 4)  # batches of 4, windows of 4 batches

    order = list(grouped())
    for start in (0, 16, 32):  # each window: the shuffle's examples, in batches by length
        window = order[start : start + 16]
        assert sorted(window) == sorted(shuffled[start : start + 16])
        batches = [[int(lengths[i]) for i in window[b : b + 4]] for b in range(0, len(window), 4)]
        assert [length for batch in sorted(batches) for length in batch] == sorted(
            int(lengths[i]) for i in window
        )
    assert order != sorted(order, key=lambda i: int(lengths[i]))  # not one global sort
    shares = [list(grouped(rank, 2, 0)) for rank in (0, 1)]
    assert sorted(shares[0] + shares[1]) == list(range(len(lengths)))  # 40 pairs: no padding
    sampler = grouped(0, 2, 0)
    sampler.set_epoch(1)
    assert list(sampler) != shares[0]  # a new epoch reshuffles (DistributedSampler)
    batches = list(task.dataloader("train"))
    assert sum(len(batch.references) for batch in batches) == len(lengths)


# ----------------------------------------------------------------------------- network


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
def test_padding_does_not_change_a_sentence_s_logits(
    regs: Registries, tmp_path: Path, attention: str
) -> None:
    task = prepared(regs, tmp_path, task={"attention": attention}, model={"bidirectional": True})
    torch.manual_seed(0)
    network = task.build_network(Components(task.cfg.model, regs.cells)).eval()
    assert isinstance(network, Seq2SeqNetwork)
    items = sorted((task.data["train"][i] for i in range(8)), key=lambda i: i.source.numel())
    short, long = items[0], items[-1]
    assert short.source.numel() < long.source.numel()
    batch = Collate(0)([long, short])
    alone = Collate(0)([short])
    with torch.no_grad():
        padded, weights = network(batch.source, batch.source_lengths, batch.target[:, :-1])
        single, _ = network(alone.source, alone.source_lengths, alone.target[:, :-1])
    steps = single.size(1)
    torch.testing.assert_close(padded[1, :steps], single[0], atol=1e-5, rtol=1e-5)
    if attention != "none":  # padded source positions get no attention
        assert float(weights[1, :, short.source.numel() :].abs().sum()) == 0.0


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_bleu_is_not_a_number_until_a_translation_is_scored() -> None:
    metrics = logged_metrics()
    assert math.isnan(float(metrics["bleu"].compute()))
    sentence = "A man rides a red bike ."
    metrics["bleu"].update([sentence], [[sentence]])
    metrics["chrf"].update([sentence], [[sentence]])
    assert float(metrics["bleu"].compute()) == pytest.approx(100.0)
    assert float(metrics["chrf"].compute()) == pytest.approx(100.0)


def test_pretrained_vectors_reach_the_embedding_of_their_side(
    regs: Registries, tmp_path: Path
) -> None:
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("a " + " ".join(["0.5"] * 8) + "\nA " + " ".join(["-2"] * 8) + "\n", "utf-8")
    options = {"path": str(vectors), "lowercase_fallback": False}
    task = prepared(
        regs, tmp_path, init={"embedding": "pretrained", "options": {"embedding": options}}
    )
    network = task.build_network(Components(task.cfg.model, regs.cells))
    cfg = task.cfg
    facts = initialize(
        network,
        cfg.init,
        regs.initializers,
        cfg.seed,
        task.vocabulary(),
        task.embedding_vocabularies(),
    )
    source_row = network.source_embedding.weight[task.fitted.source.token_to_id("a")]
    target_row = network.decoder.embedding.weight[task.fitted.target.token_to_id("A")]
    assert source_row.tolist() == [0.5] * 8
    assert target_row.tolist() == [-2.0] * 8
    assert facts["init.embedding.pretrained_covered"] == 1
    assert facts["init.embedding.decoder.embedding.pretrained_covered"] == 1


@pytest.mark.parametrize(("attention", "heatmaps"), [("bahdanau", 4), ("none", 0)])
def test_reports_hold_every_test_hypothesis_and_heatmaps_only_with_attention(
    regs: Registries, tmp_path: Path, attention: str, heatmaps: int
) -> None:
    task = prepared(regs, tmp_path, task={"attention": attention})
    network = task.build_network(Components(task.cfg.model, regs.cells))
    task.write_reports(network, tmp_path / "reports")
    lines = (tmp_path / "reports" / "test_hypotheses.txt").read_text("utf-8").splitlines()
    assert len(lines) == len(task.data["test"])
    samples = (tmp_path / "reports" / "samples.csv").read_text("utf-8").splitlines()
    assert samples[0] == "source,reference,hypothesis" and len(samples) == 1 + len(lines)
    assert len(list((tmp_path / "reports").glob("attention_*.png"))) == heatmaps


def test_pipeline_train_stops_on_a_bad_setting_before_reading_data_or_opening_a_run(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = workdir / "bad.yaml"
    model = {**MODEL, "embedding_size": 6}
    settings = {"task": {"name": "seq2seq", "tie_embeddings": True}, "model": model}
    config.write_text(yaml.safe_dump({**settings, "data": {"train": "missing.tsv"}}), "utf-8")
    assert main(["train", str(config)]) == 2
    error = capsys.readouterr().err
    assert "task.tie_embeddings=true" in error and "missing.tsv" not in error
    assert not (workdir / "mlruns").exists()


@pytest.mark.parametrize(("decode", "size"), [(3, 10), (4, 10), (10, 10), (25, 10), (1, 7)])
def test_validation_bleu_decodes_that_many_sentences_spread_over_the_split(
    decode: int, size: int
) -> None:
    collate = Collate(0, 1, decode, size)
    chosen = [p for p in range(size) if collate.decoded(p)]
    assert len(chosen) == min(decode, size)
    if decode < size:  # not the first ones: a length-sorted file would score its shortest
        assert chosen[-1] >= size - size // decode
