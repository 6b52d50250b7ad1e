"""Corpus BLEU and chrF from summed sacrebleu statistics: equal to sacrebleu on the whole corpus,
whatever the batches or DDP ranks."""

from __future__ import annotations

import datetime
import json
import socket
from pathlib import Path

import pytest
import sacrebleu
import torch

from pipeline.text_metrics import CorpusBleu, CorpusChrF

HYPOTHESES = [
    "A man rides a bike down the street.",
    "Two dogs are playing in the snow.",
    "A woman is reading a book in the park.",
    "Children laugh at a clown.",
    "A group of people stand near a building.",
    "The boy jumps into the pool.",
    "A man in an orange hat looks at something.",
]
REFERENCES = [
    ["A man is riding a bicycle down the street.", "A man rides his bike along a road."],
    ["Two dogs play in the snow."],
    ["A woman reads a book in a park.", "A lady is reading in the park.", "Someone reads."],
    ["The children are laughing at a clown."],
    ["Several people are standing next to a building.", "People stand near a tall building."],
    ["A boy jumps into a swimming pool."],
    ["A man in an orange hat starring at something."],
]


def first_references(references: list[list[str]]) -> list[list[str]]:
    return [refs[:1] for refs in references]


def streams(references: list[list[str]]) -> list[list[str | None]]:
    """sacrebleu's layout: stream k holds every sentence's k-th reference (None: none)."""
    most = max(map(len, references))
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]


def fed(metric: CorpusBleu | CorpusChrF, batches: list[int], refs: list[list[str]]) -> float:
    """The metric's value after updates with consecutive batches of the given sizes."""
    start = 0
    for size in batches:
        metric.update(HYPOTHESES[start : start + size], refs[start : start + size])
        start += size
    assert start == len(HYPOTHESES)
    return float(metric.compute())


@pytest.mark.parametrize("batches", [[7], [1, 1, 1, 1, 1, 1, 1], [3, 4], [2, 0, 5]])
def test_bleu_equals_sacrebleu_with_one_reference(batches: list[int]) -> None:
    refs = first_references(REFERENCES)
    expected = sacrebleu.corpus_bleu(HYPOTHESES, streams(refs)).score
    assert 10 < expected < 90
    assert fed(CorpusBleu(), batches, refs) == pytest.approx(expected, abs=1e-6)


def test_bleu_with_unequal_numbers_of_references() -> None:
    expected = sacrebleu.corpus_bleu(HYPOTHESES, streams(REFERENCES)).score
    one = sacrebleu.corpus_bleu(HYPOTHESES, streams(first_references(REFERENCES))).score
    assert expected != pytest.approx(one)
    assert fed(CorpusBleu(), [4, 3], REFERENCES) == pytest.approx(expected, abs=1e-6)


def test_bleu_with_several_references_each() -> None:
    refs = [[*refs, refs[0].lower()][:2] for refs in REFERENCES]
    expected = sacrebleu.corpus_bleu(HYPOTHESES, streams(refs)).score
    assert fed(CorpusBleu(), [5, 2], refs) == pytest.approx(expected, abs=1e-6)


def test_bleu_1_to_4_for_captioning() -> None:
    values = []
    for order in (1, 2, 3, 4):
        scorer = sacrebleu.BLEU(max_ngram_order=order)
        expected = scorer.corpus_score(HYPOTHESES, streams(REFERENCES)).score
        values.append(fed(CorpusBleu(max_order=order), [2, 5], REFERENCES))
        assert values[-1] == pytest.approx(expected, abs=1e-6)
    assert values == sorted(values, reverse=True) and len(set(values)) == 4
    with pytest.raises(ValueError, match="max_order is 5; BLEU takes 1 to 4"):
        CorpusBleu(max_order=5)


def test_bleu_options_reach_sacrebleu() -> None:
    shouting = [hypothesis.upper() for hypothesis in HYPOTHESES]
    metric = CorpusBleu(lowercase=True, tokenize="intl")
    metric.update(shouting, REFERENCES)
    expected = sacrebleu.corpus_bleu(shouting, streams(REFERENCES), lowercase=True, tokenize="intl")
    assert float(metric.compute()) == pytest.approx(expected.score, abs=1e-6)


@pytest.mark.parametrize("word_order", [0, 2])
def test_chrf_and_chrf_plus_plus_equal_sacrebleu(word_order: int) -> None:
    expected = sacrebleu.corpus_chrf(HYPOTHESES, streams(REFERENCES), word_order=word_order)
    value = fed(CorpusChrF(word_order=word_order), [3, 1, 3], REFERENCES)
    assert value == pytest.approx(expected.score, abs=1e-6)


def test_the_sum_of_two_half_corpus_states_is_the_whole_corpus_score() -> None:
    for make in (CorpusBleu, CorpusChrF):
        whole, first, second = make(), make(), make()
        whole.update(HYPOTHESES, REFERENCES)
        first.update(HYPOTHESES[:3], REFERENCES[:3])
        second.update(HYPOTHESES[3:], REFERENCES[3:])
        halves = (float(first.clone().compute()), float(second.clone().compute()))
        first.merge_state(second)  # adds the states with dist_reduce_fx, as DDP does
        assert torch.equal(first.stats, whole.stats)
        assert float(first.compute()) == pytest.approx(float(whole.compute()), abs=1e-9)
        assert abs(sum(halves) / 2 - float(whole.compute())) > 0.01  # a mean is wrong


def test_result_gives_sacrebleu_details() -> None:
    metric = CorpusBleu()
    metric.update(HYPOTHESES, REFERENCES)
    result = metric.result()
    expected = sacrebleu.corpus_bleu(HYPOTHESES, streams(REFERENCES))
    assert result.format() == expected.format()
    assert result.precisions == expected.precisions and result.bp == expected.bp


def test_reset_and_perfect_scores() -> None:
    metric = CorpusBleu()
    metric.update(["A cat."], [["A dog."]])
    metric.reset()
    metric.update(HYPOTHESES, [[hypothesis] for hypothesis in HYPOTHESES])
    assert float(metric.compute()) == pytest.approx(100.0)


def test_mistaken_arguments_are_refused() -> None:
    metric = CorpusBleu()
    with pytest.raises(ValueError, match="2 hypotheses but 1 reference lists"):
        metric.update(["a b", "c d"], [["a b"]])
    with pytest.raises(ValueError, match=r"a list of one or more reference strings, got 'a b'"):
        metric.update(["a b"], ["a b"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"one or more reference strings, got \[\]"):
        metric.update(["a b"], [[]])


# ----------------------------------------------------------------------------- real DDP


def _worker(rank: int, port: int, out: Path) -> None:
    """One gloo process: its shard of the corpus (3 or 4 sentences) into both metrics."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=2,
        timeout=datetime.timedelta(minutes=2),
    )
    try:
        shard = slice(0, 4) if rank == 0 else slice(4, None)
        values = {}
        for name, metric in (("bleu", CorpusBleu()), ("chrf", CorpusChrF())):
            metric.update(HYPOTHESES[shard], REFERENCES[shard])
            values[name] = float(metric.compute())
            values[f"{name}_result"] = metric.result().score
        (out / f"rank{rank}.json").write_text(json.dumps(values))
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_score_the_whole_corpus(tmp_path: Path) -> None:
    from torch.multiprocessing.spawn import start_processes

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start_processes(_worker, args=(port, tmp_path), nprocs=2, start_method="spawn")
    bleu = sacrebleu.corpus_bleu(HYPOTHESES, streams(REFERENCES)).score
    chrf = sacrebleu.corpus_chrf(HYPOTHESES, streams(REFERENCES)).score
    for rank in (0, 1):
        values = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert values["bleu"] == pytest.approx(bleu, abs=1e-6) == values["bleu_result"]
        assert values["chrf"] == pytest.approx(chrf, abs=1e-6) == values["chrf_result"]
