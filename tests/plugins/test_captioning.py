"""Behaviour tests for the captioning task's parts: batches, metrics, network, reports."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from pipeline.decoding import AttentionDecoder
from pipeline.plugins import default_registries
from pipeline.testing import check_task
from pipeline.testing.fixtures import captioning_setup
from plugins.tasks.captioning import CaptioningTask
from plugins.tasks.captioning.data import (
    CaptionPairs,
    CaptionSet,
    Collate,
    encode_captions,
)
from plugins.tasks.captioning.metrics import CaptionBleu, Perplexity
from plugins.tasks.captioning.network import CaptioningNetwork
from plugins.tokenizers import WordTokenizer

CAPTIONS = [
    ["un círculo rojo", "un círculo rojo grande"],
    ["una estrella azul"],
    ["un cuadrado verde", "un cuadrado verde pequeño", "un cuadrado"],
]


def tiny_set() -> tuple[CaptionSet, WordTokenizer]:
    tokenizer = WordTokenizer(vocab_size=50)
    tokenizer.fit([text for per_image in CAPTIONS for text in per_image])
    images = torch.arange(3, dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 3, 4, 4).clone()
    ids = encode_captions(tokenizer, CAPTIONS, max_length=3)
    names = ["a.png", "b.png", "c.png"]
    return CaptionSet.build(images, ids, [list(c) for c in CAPTIONS], names), tokenizer


def test_captions_are_cut_to_the_maximum_length_and_never_empty() -> None:
    tokenizer = WordTokenizer(vocab_size=50)
    tokenizer.fit(["un círculo rojo grande"])
    ids = encode_captions(tokenizer, [["un círculo rojo grande", ""]], max_length=2)
    assert ids == [[tokenizer.encode("un círculo"), [tokenizer.unk_id]]]


def test_an_image_item_holds_all_its_captions_and_a_pair_item_one() -> None:
    captions, tokenizer = tiny_set()
    assert len(captions) == 3
    image, ids, references = captions[2]
    assert int(image[0, 0, 0]) == 2 and len(ids) == 3 and references == CAPTIONS[2]
    assert tokenizer.decode(ids[1].tolist()) == "un cuadrado verde"  # cut to 3 tokens
    pairs = CaptionPairs(captions)
    assert len(pairs) == 6
    image, ids, references = pairs[2]  # the third caption is the second image's
    assert int(image[0, 0, 0]) == 1 and len(ids) == 1 and references == CAPTIONS[1]


def test_state_round_trips_through_the_cache_format(tmp_path: Path) -> None:
    captions, _ = tiny_set()
    torch.save(captions.state(), tmp_path / "test.pt")
    loaded = CaptionSet(**torch.load(tmp_path / "test.pt", weights_only=True))
    assert loaded.names == captions.names and loaded.references == captions.references
    assert all(torch.equal(a, b) for a, b in zip(loaded[2][1], captions[2][1], strict=True))


def test_collate_frames_captions_with_eos_pads_and_maps_them_to_images() -> None:
    captions, tokenizer = tiny_set()
    batch = Collate(tokenizer, "greedy")([captions[1], captions[0]])
    assert batch.images.shape == (2, 3, 4, 4) and batch.search == "greedy"
    assert batch.image_index.tolist() == [0, 1, 1]
    eos, pad = tokenizer.eos_id, tokenizer.pad_id
    first = [eos, *tokenizer.encode("una estrella azul"), eos]
    assert batch.captions[0].tolist() == first + [pad] * (batch.captions.size(1) - len(first))
    assert batch.references == [CAPTIONS[1], CAPTIONS[0]]


# ----------------------------------------------------------------------------- contract


def test_captioning_passes_check_task_with_ddp(tmp_path: Path) -> None:
    registries = default_registries()
    setup = captioning_setup(tmp_path / "data", registries)
    notes = check_task(CaptioningTask, setup.cfg, setup.texts, cache_dir=tmp_path / "check")
    assert not any("ddp" in note.lower() for note in notes), notes


# ----------------------------------------------------------------------------- metrics


def test_bleu_is_sacrebleus_corpus_score_on_the_0_1_scale_against_all_references() -> None:
    import sacrebleu

    hypotheses = ["un círculo rojo grande", "una estrella azul a la derecha"]
    references = [CAPTIONS[0], ["una estrella azul", "a la derecha hay una estrella azul"]]
    for n in (1, 2, 4):
        bleu = CaptionBleu(n)
        bleu.update(hypotheses[:1], references[:1])
        bleu.update(hypotheses[1:], references[1:])
        streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(2)]
        expected = sacrebleu.BLEU(max_ngram_order=n).corpus_score(hypotheses, streams).score
        assert float(bleu.compute()) == pytest.approx(expected / 100, abs=1e-9)
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert math.isnan(float(CaptionBleu(4).compute()))  # nothing generated: not logged


def test_perplexity_is_exp_of_the_token_weighted_loss() -> None:
    ppl = Perplexity()
    ppl.update(torch.tensor(1.0), 3)
    ppl.update(torch.tensor(2.0), 1)
    assert float(ppl.compute()) == pytest.approx(math.exp(1.25))


# ----------------------------------------------------------------------------- network


def test_each_image_is_encoded_once_and_read_by_each_of_its_captions() -> None:
    registries = default_registries()
    encoder = registries.image_encoders.get("small_cnn")(channels=4, blocks=2, image_size=8)
    cell = registries.cells.get("gru")
    embedding = torch.nn.Embedding(12, 6)
    decoder = AttentionDecoder(cell, embedding, 5, 1, 8, 8, runner="eager")
    network = CaptioningNetwork(encoder, decoder).eval()
    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    memory = network.memory(images)
    assert memory.values.shape == (2, 4, 8) and bool(memory.mask.all())
    inputs = torch.randint(0, 12, (3, 4))
    logits, attention = network(images, inputs, torch.tensor([1, 0, 1]))
    assert logits.shape == (3, 4, 12) and attention.shape == (3, 4, 4)
    alone, _ = network(images[1:], inputs[2:], torch.tensor([0]))
    torch.testing.assert_close(logits[2:], alone)  # caption 2 read image 1
