"""Behaviour tests for the captioning task's parts: batches, metrics, network, reports."""

from __future__ import annotations

from pathlib import Path

import torch

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
