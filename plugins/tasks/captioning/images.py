"""Images as tensors: read with Pillow, converted to RGB, resized to the encoder's size.

Pixels stay uint8, (N, 3, S, S): the task decodes a split once with :func:`load_split` and
caches the tensor (an ``Encoded`` of ``pipeline.preparation.prepare_cached``, a quarter of
float32's size); :func:`normalise` turns each batch into the encoder's input on its device, and
:func:`load_files` reads the images a user gives to ``pipeline predict``. A missing or corrupt
image raises :class:`ImageError` naming the file and where the data named it, or, with
``task.skip_bad_images``, is skipped, counted and logged.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from pipeline.errors import DataError
from plugins.tasks.captioning.readers import CaptionedImage, CaptionReadOptions, ImageSource

__all__ = [
    "ImageError",
    "LoadedSplit",
    "load_files",
    "load_split",
    "normalise",
    "read_image",
]

log = logging.getLogger(__name__)
SKIP_HINT = "or set task.skip_bad_images=true to skip such images"


class ImageError(DataError):
    """An image is missing or does not decode; ``problem`` says which and why, without the
    fix (the line a skipped image gets)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem = problem


@dataclass
class LoadedSplit:
    """The images of one split that decoded, and how many did not."""

    images: Tensor
    """(N, 3, S, S) uint8, in the examples' order."""
    examples: list[CaptionedImage]
    """The N examples whose image decoded (all of them unless some were skipped)."""
    skipped: int = 0
    """How many images were skipped (``task.skip_bad_images``)."""


def read_image(
    source: ImageSource, size: int, where: str = "image", from_data: bool = True
) -> Tensor:
    """One image as (3, size, size) uint8 RGB; ``where`` starts the :class:`ImageError`.

    ``from_data``: the data named the image (the fix names ``task.image_root`` and
    ``task.skip_bad_images``); else a user gave it directly (``pipeline predict``).
    """
    described = "image bytes" if isinstance(source, bytes) else f"image {str(source)!r}"
    if isinstance(source, Path) and not source.is_file():
        missing = "is not a file" if source.exists() else "does not exist"
        fix = "check task.image_root (image paths are read relative to it) and the file name, "
        raise ImageError(
            f"{where}: {described} {missing}",
            fix + SKIP_HINT if from_data else "give the path of an image file",
        )
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
            upright = ImageOps.exif_transpose(image)  # a camera's EXIF orientation
            rgb = upright.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ImageError(
            f"{where}: {described} does not decode ({type(error).__name__}: {error})",
            f"replace or remove it, {SKIP_HINT}"
            if from_data
            else "give an image file Pillow reads (PNG, JPEG, ...)",
        ) from error
    return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)


def load_split(
    examples: Sequence[CaptionedImage],
    size: int,
    options: CaptionReadOptions,
    key: str,
    workers: int | None = None,
) -> LoadedSplit:
    """Every example's image as (N, 3, size, size) uint8, decoded by ``workers`` threads
    (default: up to 4; Pillow decodes without holding the GIL). With
    ``options.skip_bad_images`` a missing or corrupt image is left out and a warning names
    ``key`` (``data.train``), the count and the first one; else it raises :class:`ImageError`."""
    workers = workers or min(4, os.cpu_count() or 1)
    pixels = torch.empty((len(examples), 3, size, size), dtype=torch.uint8)
    kept: list[CaptionedImage] = []
    skipped: list[str] = []
    pool = ThreadPoolExecutor(workers)
    try:
        results = pool.map(partial(_attempt, size=size), examples)
        for example, result in zip(examples, results, strict=True):
            if isinstance(result, ImageError):
                if not options.skip_bad_images:
                    raise result
                skipped.append(result.problem)
            else:
                pixels[len(kept)] = result
                kept.append(example)
    finally:
        pool.shutdown(cancel_futures=True)  # an error stops the decoding of the rest
    _report_skipped(skipped, len(examples), key)
    return LoadedSplit(pixels[: len(kept)].clone() if skipped else pixels, kept, len(skipped))


def _attempt(example: CaptionedImage, size: int) -> Tensor | ImageError:
    try:
        return read_image(example.image, size, example.where)
    except ImageError as error:
        return error


def _report_skipped(skipped: list[str], total: int, key: str) -> None:
    """Log how many images were skipped; none decoded at all is an error."""
    if not skipped:
        return
    if len(skipped) == total:
        raise ImageError(
            f"{key}: none of the {total} images decoded (first: {skipped[0]})",
            "check task.image_root and the data's image paths",
        )
    log.warning(
        "%s: skipped %d of %d images (task.skip_bad_images=true); the first: %s",
        key,
        len(skipped),
        total,
        skipped[0],
    )


def load_files(paths: Sequence[str | Path], size: int) -> Tensor:
    """Images a user names (``pipeline predict``) as (N, 3, size, size) uint8; a missing or
    unreadable file raises :class:`ImageError` naming it."""
    if not paths:
        return torch.empty((0, 3, size, size), dtype=torch.uint8)
    pictures = [
        read_image(Path(path).expanduser(), size, "pipeline predict", from_data=False)
        for path in paths
    ]
    return torch.stack(pictures)


def normalise(pixels: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """uint8 (B, 3, S, S) -> float (B, 3, S, S): ``(pixels / 255 - mean) / std`` per channel."""
    shape = (1, 3, 1, 1)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=pixels.device).view(shape)
    std_t = torch.tensor(std, dtype=torch.float32, device=pixels.device).view(shape)
    return (pixels.float() / 255.0 - mean_t) / std_t
