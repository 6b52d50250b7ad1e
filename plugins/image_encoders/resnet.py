"""Residual networks (He et al. 2016, "Deep Residual Learning for Image Recognition"), torch only.

Parameters are named as in torchvision (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``layer2.0.downsample.0``), so a torchvision ImageNet weight file such as
``resnet18-f37072fd.pth`` loads with option ``weights``; its classifier ``fc`` is not used:
the encoder returns the last stage's feature map as the grid.
"""

from __future__ import annotations

import math
from typing import ClassVar

from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.errors import OptionError
from pipeline.interfaces import ImageEncoder
from plugins.image_encoders.weights import load_weights

STAGES = ("layer1", "layer2", "layer3", "layer4")
STAGE_WIDTHS = (64, 128, 256, 512)
"""Channels of the four stages' 3x3 convolutions (Table 1 of the paper)."""


def _shortcut(inplanes: int, planes: int, stride: int) -> nn.Sequential | None:
    """Projection shortcut (option B of the paper) when the block changes shape, else None."""
    if stride == 1 and inplanes == planes:
        return None
    return nn.Sequential(
        nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
    )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and the shortcut: relu(bn2(conv2(relu(bn1(conv1 x)))) + x)."""

    expansion: ClassVar[int] = 1

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _shortcut(inplanes, planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        """(B, inplanes, h, w) -> (B, planes, h / stride, w / stride)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (with the stride, as torchvision places it), 1x1 expand by 4, shortcut."""

    expansion: ClassVar[int] = 4

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        outplanes = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, outplanes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(outplanes)
        self.downsample = _shortcut(inplanes, outplanes, stride)

    def forward(self, x: Tensor) -> Tensor:
        """(B, inplanes, h, w) -> (B, 4 * planes, h / stride, w / stride)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(ImageEncoder):
    """A 7x7 stride-2 stem, 3x3 stride-2 max pooling, four stages of residual blocks (the
    last three halve the side), no classifier: images (B, 3, S, S) -> grid (B, N, F) with
    N = ceil(S / 32)**2 and F = 512 (basic blocks) or 2048 (bottlenecks); pooled (B, F) is the
    grid's mean (the paper's global average pooling).

    Options: ``weights`` (a torchvision state_dict file of the same depth), ``freeze``
    (default: true when weights are given), ``image_size`` (S).
    """

    block: ClassVar[type[BasicBlock] | type[Bottleneck]]
    depths: ClassVar[tuple[int, int, int, int]]
    arch: ClassVar[str]
    # ImageNet's channel statistics, which torchvision's weights were trained with.
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(
        self, weights: str | None = None, freeze: bool | None = None, image_size: int = 224
    ) -> None:
        super().__init__()
        self.validate_options(weights, freeze, image_size)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for stage, (planes, depth) in enumerate(zip(STAGE_WIDTHS, self.depths, strict=True)):
            blocks = []
            for index in range(depth):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(self.block(inplanes, planes, stride))
                inplanes = planes * self.block.expansion
            self.add_module(STAGES[stage], nn.Sequential(*blocks))
        self.feature_size = self.pooled_size = inplanes
        self.image_size = image_size
        if weights is not None:
            fix = (
                f"name a torchvision {self.arch} state_dict file (e.g. "
                f"torch.save(torchvision.models.{self.arch}(weights=...).state_dict(), PATH))"
            )
            load_weights(self, weights, self.arch, fix, ignored=("fc.",))
            self.weights_loaded = True
        self.freeze(weights is not None if freeze is None else freeze)

    @classmethod
    def validate_options(cls, weights: str | None, freeze: bool | None, image_size: int) -> None:
        """image_size >= 32, the network's total stride (the weights file is read later)."""
        if image_size < 32:
            raise OptionError(
                f"{cls.arch}: image_size must be >= 32 (the network halves the side 5 times), "
                f"got {image_size}"
            )

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised images (B, 3, S, S) -> grid (B, N, F) and pooled (B, F)."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(images))))  # (B, 64, S/4, S/4)
        for stage in STAGES:
            x = self.get_submodule(stage)(x)  # (B, F, ceil(S/32), ceil(S/32)) after layer4
        grid = x.flatten(2).transpose(1, 2)  # (B, h*w, F)
        return grid, grid.mean(1)

    def grid_shape(self) -> tuple[int, int]:
        """(ceil(S / 32), ceil(S / 32)): five stride-2 steps, each rounding up."""
        side = math.ceil(self.image_size / 32)
        return side, side


class ResNet18(ResNet):
    """ResNet-18: basic blocks, 2-2-2-2 (F = 512)."""

    block = BasicBlock
    depths = (2, 2, 2, 2)
    arch = "resnet18"


class ResNet34(ResNet):
    """ResNet-34: basic blocks, 3-4-6-3 (F = 512)."""

    block = BasicBlock
    depths = (3, 4, 6, 3)
    arch = "resnet34"


class ResNet50(ResNet):
    """ResNet-50: bottleneck blocks, 3-4-6-3 (F = 2048)."""

    block = Bottleneck
    depths = (3, 4, 6, 3)
    arch = "resnet50"
