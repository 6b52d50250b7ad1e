"""``pipeline.testing.check_image_encoder`` fails an encoder that breaks a clause of the
ImageEncoder contract, naming the clause (the built-ins pass it: test_builtin_conformance)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

from pipeline.testing import check_image_encoder
from plugins.image_encoders.small_cnn import SmallCNN

SMALL = {"channels": 2, "blocks": 2, "image_size": 8}


class WrongGridShape(SmallCNN):
    def grid_shape(self) -> tuple[int, int]:
        h, w = super().grid_shape()
        return h + 1, w


class UnusedParameter(SmallCNN):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.unused = nn.Linear(2, 2)


class BatchDependent(SmallCNN):
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return super().forward(images - images.mean(0, keepdim=True))


class UngroupedConvolutions(SmallCNN):
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"input": [], "bias": []}


class UnknownGroup(SmallCNN):
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"convolution": [self.features[0].weight]}


class TrainsWhenFrozen(SmallCNN):
    def train(self, mode: bool = True) -> TrainsWhenFrozen:
        nn.Module.train(self, mode)
        return self


class IgnoresItsWeightsFile(SmallCNN):
    def __init__(self, weights: str | None = None, **options: Any) -> None:
        super().__init__(**options)


class WrongPooledSize(SmallCNN):
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        grid, pooled = super().forward(images)
        return grid, torch.cat([pooled, pooled], 1)


@pytest.mark.parametrize(
    ("encoder", "options", "clause"),
    [
        (WrongGridShape, SMALL, "grid is (B, h*w, F) [B=1]"),
        (WrongPooledSize, SMALL, "pooled is (B, P) [B=1]"),
        (UnusedParameter, SMALL, "gradients reach every trainable parameter (unused.weight)"),
        (BatchDependent, SMALL, "an image's grid does not depend on the rest of the batch"),
        (UngroupedConvolutions, SMALL, "covers every convolution and linear weight"),
        (UnknownGroup, SMALL, "parameter_groups() uses known groups"),
        (TrainsWhenFrozen, {**SMALL, "freeze": True}, "stays in eval mode after .train()"),
        (IgnoresItsWeightsFile, SMALL, "a missing weights file is a UserError naming the file"),
    ],
)
def test_broken_encoders_fail_naming_the_clause(encoder: type, options: dict, clause: str) -> None:
    with pytest.raises(AssertionError) as raised:
        check_image_encoder(encoder, **options)
    assert str(raised.value).startswith("contract clause broken: ")
    assert clause in str(raised.value)


def test_a_frozen_encoder_passes_and_notes_what_it_could_not_check() -> None:
    notes = check_image_encoder(SmallCNN, **SMALL, freeze=True)
    no_cuda = (
        [] if torch.cuda.is_available() else ["no CUDA device: .to(device) checked for dtype only"]
    )
    assert notes == [*no_cuda, "no 'weights' option: loading a weights file not checked"]


class SizeFromElsewhere(SmallCNN):
    """Its image size comes from another option: a task cannot know it before building."""

    def __init__(self, scale: int = 2, **options: Any) -> None:
        super().__init__(**options)
        self.image_size = 8 * scale


def test_an_image_size_unknown_before_building_fails() -> None:
    with pytest.raises(AssertionError, match="image_size is known before building"):
        check_image_encoder(SizeFromElsewhere, channels=2, blocks=2)
