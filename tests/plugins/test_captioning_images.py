"""Tests for the captioning images: decoding, resizing, normalising, bad images."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.errors import UserError
from plugins.tasks.captioning.images import (
    ImageError,
    load_files,
    load_split,
    normalise,
    read_image,
)
from plugins.tasks.captioning.readers import CaptionedImage, CaptionReadOptions, file_captions
from plugins.tasks.captioning.shapes import write_flickr8k_fake, write_shapes


def example(image: Path | bytes, name: str = "x.png") -> CaptionedImage:
    return CaptionedImage(
        image, ("un círculo rojo",), name, f"data.train: file 'c.csv', image {name!r}"
    )


def test_png_is_read_as_rgb_uint8_at_the_asked_size(tmp_path: Path) -> None:
    picture = np.zeros((10, 20, 3), dtype=np.uint8)
    picture[:, :10] = (255, 0, 0)  # left half red, right half black
    Image.fromarray(picture).save(tmp_path / "a.png")
    pixels = read_image(tmp_path / "a.png", 8)
    assert pixels.shape == (3, 8, 8) and pixels.dtype == torch.uint8
    assert pixels[0, :, :3].min() > 200 and pixels[0, :, 5:].max() < 50  # red stays on the left
    assert pixels[1:].max() < 60


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    picture = np.zeros((10, 20, 3), dtype=np.uint8)
    picture[:, :10] = (255, 0, 0)  # stored: left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: shown turned 90 degrees clockwise, the left side on top
    Image.fromarray(picture).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    pixels = read_image(tmp_path / "turned.jpg", 8).float()
    assert pixels[0, :3].mean() > 200 and pixels[0, 5:].mean() < 60  # red on top


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_other_modes_become_three_channels(tmp_path: Path, mode: str) -> None:
    Image.new("RGB", (12, 12), (200, 200, 200)).convert(mode).save(tmp_path / "m.tif")
    pixels = read_image(tmp_path / "m.tif", 6)
    assert pixels.shape == (3, 6, 6) and pixels.float().mean() > 150


def test_bytes_and_jpeg_sources(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 0, 250)).save(buffer, format="JPEG")
    pixels = read_image(buffer.getvalue(), 16)
    assert pixels.shape == (3, 16, 16) and pixels[2].float().mean() > 200
    paths = write_flickr8k_fake(tmp_path, n_images=5)
    jpeg = next(paths["images"].glob("*.jpg"))
    assert read_image(jpeg, 224).shape == (3, 224, 224)  # upsampled from 96 pixels


def test_decode_a_split_of_the_shapes_set(tmp_path: Path) -> None:
    paths = write_shapes(tmp_path, n_train=5, n_validation=1, n_test=1, seed=0, size=32)
    examples = file_captions(paths["train"], "data.train", CaptionReadOptions())
    loaded = load_split(examples, 32, CaptionReadOptions(), "data.train", workers=1)
    assert loaded.images.shape == (5, 3, 32, 32) and loaded.images.dtype == torch.uint8
    assert loaded.examples == examples and loaded.skipped == 0
    for index in (0, 4):
        assert torch.equal(loaded.images[index], read_image(examples[index].image, 32))
    assert loaded.images.float().std() > 10  # pictures, not blank
    threaded = load_split(examples, 32, CaptionReadOptions(), "data.train", workers=3)
    assert torch.equal(threaded.images, loaded.images) and threaded.examples == examples


def test_missing_image_names_the_file_and_the_keys(tmp_path: Path) -> None:
    missing = tmp_path / "gone.png"
    with pytest.raises(ImageError) as error:
        load_split([example(missing, "gone.png")], 8, CaptionReadOptions(), "data.train")
    message = str(error.value)
    assert isinstance(error.value, UserError)
    assert message.startswith("data.train: file 'c.csv', image 'gone.png': image ")
    assert str(missing) in message and "does not exist" in message
    assert "task.image_root" in message and "task.skip_bad_images=true" in message


def test_files_a_user_names_for_predict(tmp_path: Path) -> None:
    for name, colour in (("a.png", (255, 0, 0)), ("b.jpg", (0, 255, 0))):
        Image.new("RGB", (30, 20), colour).save(tmp_path / name)
    pictures = load_files([str(tmp_path / "a.png"), tmp_path / "b.jpg"], 16)
    assert pictures.shape == (2, 3, 16, 16) and pictures.dtype == torch.uint8
    assert pictures[0, 0].float().mean() > 240 and pictures[1, 1].float().mean() > 240
    with pytest.raises(ImageError, match=r"^pipeline predict: image .*c.png' does not exist; give"):
        load_files([tmp_path / "a.png", tmp_path / "c.png"], 16)


def test_an_image_a_user_gives_gets_a_fix_without_config_keys(tmp_path: Path) -> None:
    with pytest.raises(
        ImageError, match=r"^image argument: image .*nope.png' does not exist; give"
    ):
        read_image(tmp_path / "nope.png", 8, "image argument", from_data=False)
    (tmp_path / "text.png").write_text("hello", encoding="utf-8")
    with pytest.raises(ImageError) as error:
        read_image(tmp_path / "text.png", 8, "image argument", from_data=False)
    assert "does not decode" in str(error.value) and "task." not in str(error.value)


def test_corrupt_image_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageError, match=r"broken.jpg' does not decode .*skip_bad_images"):
        read_image(broken, 8, "data.train: file 'c.csv', line 2")
    truncated = tmp_path / "truncated.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="PNG")
    truncated.write_bytes(buffer.getvalue()[:60])
    with pytest.raises(ImageError, match="truncated.png' does not decode"):
        read_image(truncated, 8)


def test_bad_images_are_skipped_and_counted_when_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Image.new("RGB", (8, 8), (9, 9, 9)).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"nonsense")
    examples = [
        example(tmp_path / "bad.png", "bad.png"),
        example(tmp_path / "good.png", "good.png"),
        example(tmp_path / "none.png", "none.png"),
    ]
    skip = CaptionReadOptions(skip_bad_images=True)
    with caplog.at_level(logging.WARNING):
        loaded = load_split(examples, 4, skip, "data.validation")
    assert loaded.examples == [examples[1]] and loaded.images.shape == (1, 3, 4, 4)
    assert loaded.skipped == 2
    assert "data.validation: skipped 2 of 3 images (task.skip_bad_images=true)" in caplog.text
    assert "bad.png" in caplog.text
    with pytest.raises(ImageError, match="data.test: none of the 2 images decoded"):
        load_split([examples[0], examples[2]], 4, skip, "data.test")


def test_normalise_per_channel() -> None:
    pixels = torch.tensor([0, 255, 51], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    out = normalise(pixels, mean=(0.5, 0.5, 0.2), std=(0.5, 0.25, 0.1))
    assert out.dtype == torch.float32 and out.shape == (2, 3, 2, 2)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([-1.0, 2.0, 0.0]), atol=1e-6)
