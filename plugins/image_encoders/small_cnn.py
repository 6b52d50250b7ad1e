"""A small convolutional encoder trained from scratch, with torch alone."""

from __future__ import annotations

from torch import Tensor, nn

from pipeline.errors import OptionError
from pipeline.interfaces import ImageEncoder


class SmallCNN(ImageEncoder):
    """``blocks`` blocks of 3x3 convolution, BatchNorm, ReLU and 2x2 max pooling.

    Block i has ``channels * 2**i`` channels and halves the side, so images (B, 3, S, S) give a
    grid of (S // 2**blocks)**2 cells with F = ``channels * 2**(blocks - 1)`` features and a
    pooled vector (B, F), the grid's mean. Options: ``channels``, ``blocks``, ``image_size``
    (S), ``freeze`` (a frozen encoder keeps its random initial filters).
    """

    def __init__(
        self, channels: int = 32, blocks: int = 3, image_size: int = 64, freeze: bool = False
    ) -> None:
        super().__init__()
        self.validate_options(channels, blocks, image_size, freeze)
        layers: list[nn.Module] = []
        width = 3
        for block in range(blocks):
            out = channels * 2**block
            # No convolution bias: the BatchNorm shift right after it plays that role.
            layers += [
                nn.Conv2d(width, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            width = out
        self.features = nn.Sequential(*layers)
        self.feature_size = self.pooled_size = width
        self.image_size = image_size
        self.blocks = blocks
        self.freeze(freeze)

    @staticmethod
    def validate_options(channels: int, blocks: int, image_size: int, freeze: bool) -> None:
        """channels and blocks >= 1; image_size leaves at least one grid cell."""
        for option, value in (("channels", channels), ("blocks", blocks)):
            if value < 1:
                raise OptionError(f"small_cnn: option {option!r} must be >= 1, got {value}")
        if image_size < 2**blocks:
            raise OptionError(
                f"small_cnn: image_size {image_size} is too small for {blocks} blocks, each "
                f"halving the side: use image_size >= {2**blocks} or fewer blocks"
            )

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised images (B, 3, S, S) -> grid (B, N, F) and pooled (B, F)."""
        maps = self.features(images)  # (B, F, h, w)
        grid = maps.flatten(2).transpose(1, 2)  # (B, h*w, F)
        return grid, grid.mean(1)

    def grid_shape(self) -> tuple[int, int]:
        """(S // 2**blocks, S // 2**blocks): each max pooling halves the side, rounding down."""
        side = self.image_size // 2**self.blocks
        return side, side
