"""Tests for the generated shapes captioning data: scenes, Spanish captions, pictures, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.tasks.captioning.shapes import (
    COLOURS,
    HELD_OUT,
    SHAPES,
    Placed,
    Scene,
    captions,
    generate_scenes,
    main,
    render,
    write_flickr8k_fake,
    write_shapes,
)

FEMININE_NOUNS = {"estrella", "cruz"}
FEMININE_ONLY = {"roja", "amarilla", "morada", "blanca", "pequeña"}
MASCULINE_ONLY = {"rojo", "amarillo", "morado", "blanco", "pequeño"}


def pairs(scene: Scene) -> set[tuple[str, str]]:
    return {(shape.shape, shape.colour) for shape in scene.shapes}


def test_same_seed_gives_same_scenes_and_pictures() -> None:
    first, again = generate_scenes(20, seed=3), generate_scenes(20, seed=3)
    assert first == again
    assert [captions(s) for s in first] == [captions(s) for s in again]
    assert render(first[0]).tobytes() == render(again[0]).tobytes()
    assert generate_scenes(20, seed=4) != first


def test_adjectives_agree_with_the_noun() -> None:
    star = Placed("estrella", "rojo", "pequeño", 0.5, 0.5)
    circle = Placed("círculo", "amarillo", "grande", 0.5, 0.5)
    assert star.phrase() == "una estrella roja pequeña"
    assert circle.phrase() == "un círculo amarillo grande"
    checked = 0
    for scene in generate_scenes(300, seed=0):
        for caption in captions(scene):
            words = caption.split()
            for i, word in enumerate(words):
                if word in ("un", "una"):
                    feminine = words[i + 1] in FEMININE_NOUNS
                    assert word == ("una" if feminine else "un"), caption
                    wrong = MASCULINE_ONLY if feminine else FEMININE_ONLY
                    assert not set(words[i + 2 : i + 4]) & wrong, caption
                    checked += feminine
    assert checked > 100  # feminine nouns were among them


def test_two_shapes_are_described_in_both_orders() -> None:
    top = Placed("círculo", "rojo", "grande", 0.5, 0.25)
    bottom = Placed("cuadrado", "azul", "pequeño", 0.5, 0.75)
    refs = captions(Scene((top, bottom), "encima"))
    assert refs[0] == "un círculo rojo grande encima de un cuadrado azul pequeño"
    assert "un cuadrado azul pequeño debajo de un círculo rojo grande" in refs
    left = captions(Scene((bottom, top), "izquierda"))
    assert left[0] == "un cuadrado azul pequeño a la izquierda de un círculo rojo grande"
    assert "un círculo rojo grande a la derecha de un cuadrado azul pequeño" in left


def test_every_scene_has_several_distinct_references() -> None:
    for scene in generate_scenes(200, seed=1):
        refs = captions(scene)
        assert len(refs) >= 3 and len(set(refs)) == len(refs)
        assert all(ref == " ".join(ref.split()) and ref.islower() for ref in refs)


def test_held_out_pairs_only_in_test() -> None:
    train = generate_scenes(2000, seed=0)
    test = generate_scenes(300, seed=2, test=True)
    assert not any(pairs(scene) & HELD_OUT for scene in train)
    assert all(pairs(scene) & HELD_OUT for scene in test)
    seen = set().union(*(pairs(scene) for scene in train))
    # every shape and every colour is seen in train, only the held-out pairings are not
    assert {shape for shape, _ in seen} == set(SHAPES)
    assert {colour for _, colour in seen} == set(COLOURS)
    assert set().union(*(pairs(s) for s in test)) >= HELD_OUT


def test_picture_shows_the_shape_where_the_caption_says() -> None:
    red = Placed("círculo", "rojo", "grande", 0.25, 0.5)
    picture = np.asarray(render(Scene((red,), "a la izquierda"), 64)).astype(int)
    reddish = (picture[..., 0] > 150) & (picture[..., 1] < 100) & (picture[..., 2] < 100)
    columns = np.nonzero(reddish.any(axis=0))[0]
    assert picture.shape == (64, 64, 3)
    assert columns.min() >= 0 and columns.max() < 32  # left half only
    above = Scene((red, Placed("cuadrado", "azul", "grande", 0.5, 0.75)), "encima")
    blue = np.asarray(render(above, 64)).astype(int)
    bluish = (blue[..., 2] > 180) & (blue[..., 0] < 100)
    assert np.nonzero(bluish.any(axis=1))[0].min() >= 32  # the square is in the lower half


def test_write_shapes_writes_jsonl_rows_and_pictures(tmp_path: Path) -> None:
    paths = write_shapes(tmp_path / "shapes", n_train=6, n_validation=2, n_test=3, seed=1, size=32)
    assert set(paths) == {"train", "validation", "test"}
    rows = [json.loads(line) for line in paths["test"].read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert isinstance(row["caption"], list) and len(row["caption"]) >= 3
        with Image.open(tmp_path / "shapes" / row["image"]) as picture:
            assert picture.size == (32, 32) and picture.mode == "RGB"
    again = write_shapes(tmp_path / "again", n_train=6, n_validation=2, n_test=3, seed=1, size=32)
    assert again["test"].read_text(encoding="utf-8") == paths["test"].read_text(encoding="utf-8")


def test_flickr8k_fake_has_the_flickr_layout(tmp_path: Path) -> None:
    paths = write_flickr8k_fake(tmp_path, n_images=20)
    lines = paths["captions"].read_text(encoding="utf-8").splitlines()
    name, tab, caption = lines[0].partition("\t")
    assert tab and name.endswith(".jpg#0") and caption.endswith(" .")
    listed = [paths[s].read_text().split() for s in ("train", "validation", "test")]
    assert [len(names) for names in listed] == [12, 4, 4]
    assert len(set().union(*listed)) == 20
    assert all((paths["images"] / n).is_file() for names in listed for n in names)


def test_command_line_writes_the_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path), "--train", "4", "--validation", "2", "--test", "2"]) == 0
    assert "train:" in capsys.readouterr().out
    first = json.loads((tmp_path / "test.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["caption"][0].split()[0] in ("un", "una")
    english = tmp_path / "en"
    assert (
        main([str(english), "--train", "1", "--validation", "1", "--test", "1", "--language", "en"])
        == 0
    )
    row = json.loads((english / "test.jsonl").read_text(encoding="utf-8"))
    assert row["caption"][0].startswith("a ")
    assert len((tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()) == 4
    assert len(list((tmp_path / "images" / "test").glob("*.png"))) == 2


def test_shipped_data_set_is_the_generators_output() -> None:
    """data/shapes is `python -m plugins.tasks.captioning.shapes data/shapes` (the defaults)."""
    shipped = Path(__file__).parents[2] / "data" / "shapes"
    for split, count, seed in (("train", 3000, 0), ("validation", 300, 1), ("test", 300, 2)):
        lines = (shipped / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        scenes = generate_scenes(count, seed, test=split == "test")
        assert [json.loads(line)["caption"] for line in lines] == [captions(s) for s in scenes]
        row = json.loads(lines[-1])
        with Image.open(shipped / row["image"]) as picture:
            assert np.array_equal(np.asarray(picture), np.asarray(render(scenes[-1], 64)))


def test_english_captions() -> None:
    top = Placed("estrella", "amarillo", "pequeño", 0.5, 0.25)
    bottom = Placed("rombo", "naranja", "grande", 0.5, 0.75)
    refs = captions(Scene((top, bottom), "encima"), "en")
    assert refs[0] == "a small yellow star above a big orange diamond"
    assert "a big orange diamond below a small yellow star" in refs
    alone = captions(Scene((bottom,), "en el centro"), "en")
    assert alone == [
        "a big orange diamond in the middle",
        "there is a big orange diamond in the middle",
        "in the middle there is a big orange diamond",
    ]
    for scene in generate_scenes(100, seed=9):
        assert not any(ord(char) > 127 for ref in captions(scene, "en") for char in ref)
