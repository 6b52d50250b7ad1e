"""The image-encoder plugin contract (``rnn_pipeline.image_encoders``), re-exported by
:mod:`pipeline.interfaces` beside the other contracts.

Shapes: B batch, S image side, N grid cells, F grid features, P pooled features.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn


class ImageEncoder(nn.Module):
    """Images to features for a captioning decoder: ``grid, pooled = encoder(images)``.

    Construct as ``Encoder(**options)``; ``options`` are the task's ``image_encoder_options``,
    checked against the parameters of ``__init__`` (names, required ones, annotated types)
    before any data is read, with an optional ``validate_options`` as for a Cell. An option
    ``weights`` names a file of initial weights read by ``__init__`` (never a download); when
    the pipeline rebuilds a trained run, whose checkpoint holds every parameter, it passes
    ``weights=None``. Call ``super().__init__()`` first and :meth:`freeze` last.

    Attributes (class attributes, or set by ``__init__``):
        feature_size: F, the size of each grid vector (what attention looks at).
        pooled_size: P, the size of the pooled vector (the decoder's initial state).
        image_size: S, the side of the square images it expects (the task resizes to S x S):
            an ``__init__`` option ``image_size`` or a class attribute, so that a task knows
            it before building the encoder (``pipeline.components.image_input``).
        mean, std: per-channel (R, G, B) statistics :meth:`normalize` applies to pixels in [0, 1]
            (class attributes).
        frozen: parameters not trained (see :meth:`freeze`).
        weights_loaded: set True when the parameters came from a weights file.
    """

    feature_size: int
    pooled_size: int
    image_size: int
    mean: ClassVar[tuple[float, float, float]] = (0.5, 0.5, 0.5)
    std: ClassVar[tuple[float, float, float]] = (0.5, 0.5, 0.5)

    def __init__(self) -> None:
        super().__init__()
        self.frozen = False
        self.weights_loaded = False

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised images (B, 3, S, S) -> grid (B, N, F) and pooled (B, P).

        The N = h * w grid vectors are the image's regions in row-major order, (h, w) being
        :meth:`grid_shape`: vector n covers row n // w, column n % w.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement forward(images)")

    def grid_shape(self) -> tuple[int, int]:
        """(h, w) of the grid for images of ``image_size`` (to draw attention maps)."""
        raise NotImplementedError(f"{type(self).__name__} must implement grid_shape()")

    def normalize(self, pixels: Tensor) -> Tensor:
        """Pixels (B, 3, S, S) in [0, 1] -> ``(pixels - mean) / std``, the input of forward."""
        mean = pixels.new_tensor(self.mean).view(1, 3, 1, 1)
        std = pixels.new_tensor(self.std).view(1, 3, 1, 1)
        return (pixels - mean) / std

    def freeze(self, frozen: bool = True) -> None:
        """Train the parameters or not: ``requires_grad`` off when frozen, and the encoder
        stays in eval mode, so BatchNorm keeps its running statistics and dropout is off."""
        self.frozen = frozen
        self.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> ImageEncoder:
        """``nn.Module.train``, except that a frozen encoder stays in eval mode."""
        super().train(mode and not self.frozen)
        return self

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by initializer group: ``input`` and ``bias``.

        The default: the weight of every convolution and ``nn.Linear`` is ``input`` (like a
        cell's input weights, it acts on the input; BatchNorm after each convolution makes its
        scale matter little), their biases ``bias``. Other parameters (BatchNorm's scale and
        shift) keep their own init, and so do all when ``weights_loaded``.
        """
        groups: dict[str, list[nn.Parameter]] = {"input": [], "bias": []}
        if self.weights_loaded:
            return groups
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
                for name, parameter in module.named_parameters(recurse=False):
                    groups["input" if name == "weight" else "bias"].append(parameter)
        return groups
