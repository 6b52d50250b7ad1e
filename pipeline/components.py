"""What a task builds its network from: the configured cell, encoder and parameter groups."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from pipeline.component_options import cell_option_problems, image_encoder_option_problems
from pipeline.config import ConfigError, ModelConfig
from pipeline.interfaces import Cell, CellFactory, ImageEncoder
from pipeline.plugins import PluginError, Registry, default_registry
from pipeline.recurrent import RecurrentEncoder


@dataclass(frozen=True)
class ImageInput:
    """What an image encoder takes, known before it is built: S x S pixels, normalised with
    the per-channel mean and std (a task resizes and caches images in ``prepare_data``)."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def image_input(
    name: str, options: Mapping[str, Any], registry: Registry | None = None
) -> ImageInput:
    """The input of the image encoder registered as name with options: ``image_size`` from
    the options, else ``__init__``'s default for it, else the class attribute."""
    encoder = (registry or default_registry("image_encoders")).get(name)
    size = declared_image_size(encoder, options)
    if size is None:
        raise PluginError(
            f"image encoder {name!r} declares no image size: give its __init__ an option "
            "image_size with a default, or a class attribute image_size"
        )
    return ImageInput(size, encoder.mean, encoder.std)


def declared_image_size(encoder: type[ImageEncoder], options: Mapping[str, Any]) -> int | None:
    """``image_size`` of options, else ``__init__``'s default for it, else the class
    attribute; None when neither declares one."""
    size = options.get("image_size")
    default = inspect.signature(encoder).parameters.get("image_size")
    if size is None and default is not None and default.default is not default.empty:
        size = default.default
    size = getattr(encoder, "image_size", None) if size is None else size
    return size if isinstance(size, int) else None


class Components:
    """The configured cell (``model.cell`` with ``model.cell_options``) and encoders of it,
    and image encoders from ``image_encoders`` (the installed ones unless given).

    ``restoring``: the network is rebuilt for a trained run whose checkpoint holds every
    parameter, so no component reads its own weights file.
    """

    def __init__(
        self,
        model: ModelConfig,
        cells: Registry,
        image_encoders: Registry | None = None,
        restoring: bool = False,
    ) -> None:
        self.model = model
        self.image_encoders = image_encoders or default_registry("image_encoders")
        self.restoring = restoring
        cell_class = cells.get(model.cell)
        problems = cell_option_problems(cell_class, model.cell_options, model.cell)
        if problems:
            raise ConfigError(problems)
        self.cell_factory: CellFactory = functools.partial(cell_class, **model.cell_options)

    def cell(self, input_size: int, hidden_size: int | None = None) -> Cell:
        """One configured cell, e.g. for a decoder step (hidden size defaults to the model's)."""
        return self.cell_factory(input_size, hidden_size or self.model.hidden_size)

    def encoder(self, input_size: int, bidirectional: bool | None = None) -> RecurrentEncoder:
        """A sequence layer of the configured cell: (B, T, input_size) -> (B, T, dirs*H)."""
        model = self.model
        return RecurrentEncoder(
            self.cell_factory,
            input_size,
            model.hidden_size,
            num_layers=model.num_layers,
            bidirectional=model.bidirectional if bidirectional is None else bidirectional,
            dropout=model.dropout,
            runner=model.runner,
        )

    def embedding(self, vocab_size: int, padding_idx: int | None = None) -> nn.Embedding:
        """Embedding matrix E (V, model.embedding_size): e_t = one_hot(x_t) @ E."""
        return nn.Embedding(vocab_size, self.model.embedding_size, padding_idx=padding_idx)

    def image_encoder(
        self, name: str, options: Mapping[str, Any], key: str = "task.image_encoder"
    ) -> ImageEncoder:
        """The image encoder registered as name, built as ``Encoder(**options)`` once the
        options pass the checks of the config (``key``: the config key naming it)."""
        problems = image_encoder_option_problems(
            name, options, self.image_encoders, key=key, options_key=f"{key}_options"
        )
        if problems:
            raise ConfigError(problems)
        if self.restoring and options.get("weights") is not None:
            options = {**options, "weights": None}  # the run's checkpoint has them
        encoder: ImageEncoder = self.image_encoders.get(name)(**options)
        return encoder
