"""Test-split reports of a trained captioner: a grid of images with generated and reference
captions (``captions.png``, and ``captions.csv``/``.md``), and attention maps
(``attention_<i>.png``: one panel per generated word, the weights over the encoder's grid laid
over the image)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from pipeline.reports import write_table

GRID_IMAGES = 12
"""Test images in captions.png."""
ATTENTION_IMAGES = 3
"""Test images that get an attention map."""


@dataclass
class Captioned:
    """One test image as the reports show it."""

    name: str
    image: Tensor
    """(3, S, S) uint8."""
    words: list[str]
    """The generated caption's tokens."""
    caption: str
    """The generated caption, detokenised."""
    references: list[str]
    attention: Tensor
    """(len(words), N) weights over the grid cells when each word was chosen."""


def write_reports(
    examples: Sequence[Captioned], directory: Path, grid: tuple[int, int] | None
) -> None:
    """captions.png/.csv/.md of the first :data:`GRID_IMAGES`, attention maps of the first
    :data:`ATTENTION_IMAGES` over the encoder's (h, w) ``grid`` (None: no attention)."""
    directory.mkdir(parents=True, exist_ok=True)
    shown = list(examples[:GRID_IMAGES])
    plot_captions(shown, directory / "captions.png")
    rows = [
        {"image": e.name, "generated": e.caption, "references": " | ".join(e.references)}
        for e in shown
    ]
    write_table(rows, directory / "captions", title="Generated captions of test images.")
    if grid is not None:
        for i, example in enumerate(examples[:ATTENTION_IMAGES]):
            plot_attention(example, grid, directory / f"attention_{i}.png")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _pixels(image: Tensor) -> Any:
    """(3, S, S) uint8 -> (S, S, 3) numpy array for imshow."""
    return image.permute(1, 2, 0).cpu().numpy()


def plot_captions(examples: Sequence[Captioned], path: Path) -> None:
    """A grid of images, each titled with its generated caption and its first references."""
    plt = _pyplot()
    columns = min(4, len(examples))
    rows = math.ceil(len(examples) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 5.6 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, example in zip(axes.flat, examples, strict=False):
        axis.imshow(_pixels(example.image))
        lines = [f"> {example.caption}"] + [f"- {ref}" for ref in example.references[:2]]
        wrapped = "\n".join(textwrap.fill(line, 42) for line in lines)
        axis.set_title(wrapped, fontsize=8, loc="left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_attention(example: Captioned, grid: tuple[int, int], path: Path) -> None:
    """The image, then one panel per generated word with its attention weights over the
    (h, w) grid (stretched over the image, dark where the decoder did not look)."""
    plt = _pyplot()
    words = example.words
    rows, columns = grid
    side = example.image.size(-1)
    panels = len(words) + 1
    per_row = min(6, panels)
    figure, axes = plt.subplots(
        math.ceil(panels / per_row),
        per_row,
        figsize=(2.2 * per_row, 2.4 * math.ceil(panels / per_row)),
        squeeze=False,
    )
    for axis in axes.flat:
        axis.axis("off")
    flat = list(axes.flat)
    flat[0].imshow(_pixels(example.image))
    flat[0].set_title(example.name[-24:], fontsize=8)
    for axis, word, weights in zip(flat[1:], words, example.attention, strict=False):
        axis.imshow(_pixels(example.image))
        heat = weights.reshape(rows, columns).float().cpu().numpy()
        corners = (-0.5, side - 0.5, side - 0.5, -0.5)  # imshow's pixel-centre coordinates
        axis.imshow(heat, cmap="gray", alpha=0.6, extent=corners)
        axis.set_title(word, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
