"""Generated captioning data: pictures of one or two coloured shapes, captioned in Spanish.

A scene holds one shape at a named place ("un círculo rojo grande a la izquierda") or two shapes
in a relation ("un círculo rojo pequeño encima de un cuadrado azul grande"). Every image has
several reference captions: paraphrases, and both orders of a relation ("un cuadrado azul grande
debajo de un círculo rojo pequeño"); adjectives agree with the noun ("una estrella roja").

Test scenes compose what training never shows together: each shape has one colour
(``HELD_OUT``) that appears with it only in test, while train and validation never pair them.
A model that captions the test images correctly composed the colour and the shape itself.

The data set is written in the JSON-lines layout users have (``{split}.jsonl`` rows
``{"image": "images/train/00000.png", "caption": [...]}``), so the captioning task reads it
like user data; ``data/shapes`` holds the default one.

English captions (``--language en``: "a big red circle above a small blue square") are there
for comparison with English data sets.

Usage: ``python -m plugins.tasks.captioning.shapes OUTDIR [--seed S] [--train N]
[--validation N] [--test N] [--size PIXELS] [--language es|en]``
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageDraw

__all__ = [
    "COLOURS",
    "HELD_OUT",
    "LANGUAGES",
    "SHAPES",
    "Placed",
    "Scene",
    "captions",
    "generate_scenes",
    "render",
    "write_flickr8k_fake",
    "write_shapes",
]


class Colour(NamedTuple):
    masculine: str
    feminine: str
    rgb: tuple[int, int, int]


SHAPES: dict[str, bool] = {
    "círculo": False,
    "cuadrado": False,
    "triángulo": False,
    "rombo": False,
    "estrella": True,
    "cruz": True,
}
"""Shape nouns -> whether the noun is feminine (``una estrella roja``)."""
COLOURS: dict[str, Colour] = {
    "rojo": Colour("rojo", "roja", (220, 40, 40)),
    "verde": Colour("verde", "verde", (40, 170, 60)),
    "azul": Colour("azul", "azul", (50, 90, 235)),
    "amarillo": Colour("amarillo", "amarilla", (240, 210, 40)),
    "morado": Colour("morado", "morada", (150, 60, 190)),
    "naranja": Colour("naranja", "naranja", (245, 135, 20)),
    "blanco": Colour("blanco", "blanca", (240, 240, 240)),
}
"""Colour names (masculine form) -> both forms and the RGB drawn."""
SIZES: dict[str, tuple[str, str, float]] = {
    "pequeño": ("pequeño", "pequeña", 0.22),
    "grande": ("grande", "grande", 0.40),
}
"""Size names -> masculine form, feminine form, diameter as a fraction of the picture."""
PLACES: dict[str, tuple[float, float]] = {
    "a la izquierda": (0.25, 0.5),
    "a la derecha": (0.75, 0.5),
    "arriba": (0.5, 0.25),
    "abajo": (0.5, 0.75),
    "en el centro": (0.5, 0.5),
}
"""Where a lone shape is -> its centre (x, y) as fractions of the picture (y grows down)."""
HELD_OUT: frozenset[tuple[str, str]] = frozenset(
    {
        ("círculo", "verde"),
        ("cuadrado", "rojo"),
        ("triángulo", "azul"),
        ("rombo", "morado"),
        ("estrella", "amarillo"),
        ("cruz", "naranja"),
    }
)
"""(shape, colour) pairs seen only in test: every test image has at least one of them."""
LANGUAGES = ("es", "en")
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "place": ("{a} {where}", "hay {a} {where}", "{where} hay {a}"),
        "encima": ("{a} encima de {b}", "{b} debajo de {a}", "{a} sobre {b}", "{b} bajo {a}"),
        "izquierda": (
            "{a} a la izquierda de {b}",
            "{b} a la derecha de {a}",
            "hay {a} a la izquierda de {b}",
            "hay {b} a la derecha de {a}",
        ),
    },
    "en": {
        "place": ("{a} {where}", "there is {a} {where}", "{where} there is {a}"),
        "encima": ("{a} above {b}", "{b} below {a}", "{a} on top of {b}", "{b} under {a}"),
        "izquierda": (
            "{a} to the left of {b}",
            "{b} to the right of {a}",
            "there is {a} to the left of {b}",
            "there is {b} to the right of {a}",
        ),
    },
}
"""Caption templates per language: one shape ``{a}`` at ``{where}``, or ``{a}`` above /
left of ``{b}``; the first template is the canonical caption."""
ENGLISH = {
    "círculo": "circle",
    "cuadrado": "square",
    "triángulo": "triangle",
    "rombo": "diamond",
    "estrella": "star",
    "cruz": "cross",
    "rojo": "red",
    "verde": "green",
    "azul": "blue",
    "amarillo": "yellow",
    "morado": "purple",
    "naranja": "orange",
    "blanco": "white",
    "pequeño": "small",
    "grande": "big",
    "a la izquierda": "on the left",
    "a la derecha": "on the right",
    "arriba": "at the top",
    "abajo": "at the bottom",
    "en el centro": "in the middle",
}
"""The English of every Spanish word and place the captions use."""
BACKGROUND = (25, 25, 30)
JITTER = 0.04
"""Random shift of a shape's centre, as a fraction of the picture."""
SUPERSAMPLE = 4
"""Shapes are drawn this many times larger, then downsampled: smooth edges."""


@dataclass(frozen=True)
class Placed:
    """One shape in a scene: noun, colour and size names, centre (x, y) in [0, 1]."""

    shape: str
    colour: str
    size: str
    x: float
    y: float

    def phrase(self, language: str = "es") -> str:
        """``un círculo rojo grande`` / ``una estrella roja pequeña`` / (en) ``a big red
        circle``."""
        if language == "en":
            return f"a {ENGLISH[self.size]} {ENGLISH[self.colour]} {ENGLISH[self.shape]}"
        feminine = SHAPES[self.shape]
        colour, size = COLOURS[self.colour], SIZES[self.size]
        article = "una" if feminine else "un"
        adjectives = (colour.feminine, size[1]) if feminine else (colour.masculine, size[0])
        return f"{article} {self.shape} {adjectives[0]} {adjectives[1]}"


@dataclass(frozen=True)
class Scene:
    """One shape at ``relation`` (a key of ``PLACES``), or two: ``encima`` (first above the
    second) or ``izquierda`` (first left of the second)."""

    shapes: tuple[Placed, ...]
    relation: str


# ----------------------------------------------------------------------------- captions


def captions(scene: Scene, language: str = "es") -> list[str]:
    """Reference captions of a scene in ``language`` (es, en), the canonical one first."""
    first, *rest = (shape.phrase(language) for shape in scene.shapes)
    if rest:
        return [t.format(a=first, b=rest[0]) for t in TEMPLATES[language][scene.relation]]
    where = scene.relation if language == "es" else ENGLISH[scene.relation]
    return [t.format(a=first, where=where) for t in TEMPLATES[language]["place"]]


# ----------------------------------------------------------------------------- scenes


def _attributes(rng: random.Random, held_out: bool) -> tuple[str, str]:
    """A (shape, colour) pair: from HELD_OUT when held_out, else never from it."""
    if held_out:
        return rng.choice(sorted(HELD_OUT))
    while True:
        pair = rng.choice(list(SHAPES)), rng.choice(list(COLOURS))
        if pair not in HELD_OUT:
            return pair


def _jitter(rng: random.Random, value: float, spread: float = JITTER) -> float:
    return value + rng.uniform(-spread, spread)


def _scene(rng: random.Random, test: bool) -> Scene:
    """A random scene; a test scene has at least one held-out pair, others none."""
    count = rng.choice((1, 2))
    held = [True] + [rng.random() < 0.3 for _ in range(count - 1)] if test else [False] * count
    rng.shuffle(held)
    pairs = [_attributes(rng, h) for h in held]
    while count == 2 and pairs[0] == pairs[1]:
        pairs[1] = _attributes(rng, held[1])
    sizes = [rng.choice(list(SIZES)) for _ in pairs]
    if count == 1:
        relation = rng.choice(list(PLACES))
        x, y = PLACES[relation]
        placed = [Placed(*pairs[0], sizes[0], _jitter(rng, x), _jitter(rng, y))]
        return Scene(tuple(placed), relation)
    relation = rng.choice(("encima", "izquierda"))
    across = [_jitter(rng, 0.5, 0.1) for _ in pairs]  # on the axis the relation leaves free
    along = [_jitter(rng, 0.25), _jitter(rng, 0.75)]
    xs, ys = (across, along) if relation == "encima" else (along, across)
    placed = [
        Placed(shape, colour, size, x, y)
        for (shape, colour), size, x, y in zip(pairs, sizes, xs, ys, strict=True)
    ]
    return Scene(tuple(placed), relation)


def generate_scenes(n: int, seed: int = 0, test: bool = False) -> list[Scene]:
    """``n`` random scenes, identical for identical ``seed``; ``test``: held-out pairs only
    in test scenes (each has at least one), never in the others."""
    rng = random.Random(seed)
    return [_scene(rng, test) for _ in range(n)]


# ----------------------------------------------------------------------------- drawing


def _star(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.45
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def _draw(draw: ImageDraw.ImageDraw, shape: Placed, canvas: int) -> None:
    """Draw one shape on a canvas of ``canvas`` pixels a side."""
    cx, cy, r = shape.x * canvas, shape.y * canvas, SIZES[shape.size][2] * canvas / 2
    fill = COLOURS[shape.colour].rgb
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape.shape == "círculo":
        draw.ellipse(box, fill=fill)
    elif shape.shape == "cuadrado":
        side = r * 0.85  # a square looks bigger than a circle of the same width
        draw.rectangle((cx - side, cy - side, cx + side, cy + side), fill=fill)
    elif shape.shape == "triángulo":
        draw.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=fill)
    elif shape.shape == "rombo":
        half = r * 0.7
        draw.polygon([(cx, cy - r), (cx + half, cy), (cx, cy + r), (cx - half, cy)], fill=fill)
    elif shape.shape == "estrella":
        draw.polygon(_star(cx, cy, r), fill=fill)
    else:  # cruz
        arm = r * 0.33
        draw.rectangle((cx - arm, cy - r, cx + arm, cy + r), fill=fill)
        draw.rectangle((cx - r, cy - arm, cx + r, cy + arm), fill=fill)


def render(scene: Scene, size: int = 64) -> Image.Image:
    """The scene as an RGB picture of ``size`` x ``size`` pixels."""
    canvas = size * SUPERSAMPLE
    picture = Image.new("RGB", (canvas, canvas), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    for shape in scene.shapes:
        _draw(draw, shape, canvas)
    return picture.resize((size, size), Image.Resampling.BOX)


# ----------------------------------------------------------------------------- writing

SPLIT_FILES = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"}


def write_shapes(
    directory: Path,
    n_train: int = 3000,
    n_validation: int = 300,
    n_test: int = 300,
    seed: int = 0,
    size: int = 64,
    language: str = "es",
) -> dict[str, Path]:
    """Write ``{split}.jsonl`` and ``images/{split}/NNNNN.png`` into directory; return the
    JSON-lines paths by split name. Split i draws from its own stream (seed ``3 * seed + i``);
    validation is in the training distribution, test holds the held-out pairs. ``language``:
    es (Spanish captions) or en (English)."""
    directory = Path(directory)
    paths: dict[str, Path] = {}
    counts = {"train": n_train, "validation": n_validation, "test": n_test}
    for index, (split, count) in enumerate(counts.items()):
        scenes = generate_scenes(count, 3 * seed + index, test=split == "test")
        folder = directory / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for number, scene in enumerate(scenes):
            name = f"images/{split}/{number:05d}.png"
            render(scene, size).save(directory / name, optimize=True)
            row = {"image": name, "caption": captions(scene, language)}
            rows.append(json.dumps(row, ensure_ascii=False))
        paths[split] = directory / SPLIT_FILES[split]
        paths[split].write_text("".join(row + "\n" for row in rows), encoding="utf-8")
    return paths


FLICKR_SPLITS = {"train": "trainImages", "validation": "devImages", "test": "testImages"}


def write_flickr8k_fake(directory: Path, n_images: int = 20, seed: int = 0) -> dict[str, Path]:
    """A small stand-in for Flickr8k in its own layout: ``Flicker8k_Dataset/*.jpg``, and in
    ``Flickr8k_text/`` the token file (``name.jpg#k<TAB>caption``) and the split lists
    ``Flickr_8k.{trainImages,devImages,testImages}.txt`` (60/20/20 %). Returns the paths of
    ``images`` (folder), ``captions`` (token file) and the split lists by split name."""
    directory = Path(directory)
    images, text = directory / "Flicker8k_Dataset", directory / "Flickr8k_text"
    images.mkdir(parents=True, exist_ok=True)
    text.mkdir(parents=True, exist_ok=True)
    names, lines = [], []
    for number, scene in enumerate(generate_scenes(n_images, seed)):
        name = f"{1000 + number}_{seed:04x}.jpg"
        render(scene, 96).save(images / name, quality=90)
        names.append(name)
        lines += [f"{name}#{k}\t{caption} ." for k, caption in enumerate(captions(scene))]
    paths = {"images": images, "captions": text / "Flickr8k.token.txt"}
    paths["captions"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    cut = [0, round(0.6 * n_images), round(0.8 * n_images), n_images]
    for index, (split, stem) in enumerate(FLICKR_SPLITS.items()):
        paths[split] = text / f"Flickr_8k.{stem}.txt"
        chosen = names[cut[index] : cut[index + 1]]
        paths[split].write_text("".join(name + "\n" for name in chosen), encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: write the shapes data set into OUTDIR."""
    parser = argparse.ArgumentParser(description="Write the generated shapes captioning data.")
    parser.add_argument("outdir", type=Path, help="folder for {split}.jsonl and images/")
    for flag, default in (("--seed", 0), ("--train", 3000), ("--validation", 300)):
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--size", type=int, default=64, help="pixels a side")
    parser.add_argument("--language", choices=LANGUAGES, default="es", help="of the captions")
    args = parser.parse_args(argv)
    counts = (args.train, args.validation, args.test)
    paths = write_shapes(args.outdir, *counts, args.seed, args.size, args.language)
    for split, path in paths.items():
        print(f"{split}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
