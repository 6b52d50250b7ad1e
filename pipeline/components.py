"""What a task builds its network from: the configured cell, encoder and parameter groups."""

from __future__ import annotations

import functools

from torch import nn

from pipeline.component_options import cell_option_problems
from pipeline.config import ConfigError, ModelConfig
from pipeline.interfaces import Cell, CellFactory
from pipeline.plugins import Registry
from pipeline.recurrent import RecurrentEncoder


class Components:
    """The configured cell (``model.cell`` with ``model.cell_options``) and encoders of it."""

    def __init__(self, model: ModelConfig, cells: Registry) -> None:
        self.model = model
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
