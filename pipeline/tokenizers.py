"""Tokenizers are plugins (group ``rnn_pipeline.tokenizers``): build one from the config, load
a saved one by the ``kind`` its directory records.

The contract is :class:`pipeline.interfaces.Tokenizer`; the built-in ``word`` and
``sentencepiece`` tokenizers live in :mod:`plugins.tokenizers` and are registered through
entry points like any third-party one (a character, byte or pretrained-vocabulary tokenizer).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.component_options import TOKENIZER_SETTINGS, context_arguments
from pipeline.config import TokenizerConfig
from pipeline.errors import TokenizerError
from pipeline.interfaces import (
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    TOKENIZER_FILE,
    UNK_ID,
    Tokenizer,
)
from pipeline.plugins import PluginError, Registry, default_registry, unknown_name_message

__all__ = [
    "EOS_ID",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "UNK_ID",
    "Tokenizer",
    "build_tokenizer",
    "load_tokenizer",
]


def build_tokenizer(cfg: TokenizerConfig, registry: Registry | None = None) -> Tokenizer:
    """An unfitted tokenizer of ``tokenizer.kind`` from the ``tokenizer`` config section.

    Its ``__init__`` gets the ``tokenizer.*`` settings it names and ``tokenizer.options``.
    ``registry``: the tokenizers to choose from (default: the installed ones).
    """
    tokenizer_class = (registry or default_registry("tokenizers")).get(cfg.kind)
    settings = {name: getattr(cfg, name) for name in TOKENIZER_SETTINGS}
    tokenizer: Tokenizer = tokenizer_class(
        **context_arguments(tokenizer_class, settings), **cfg.options
    )
    return tokenizer


def load_tokenizer(directory: Path, registry: Registry | None = None) -> Tokenizer:
    """The tokenizer that ``Tokenizer.save`` wrote to directory, by the kind it recorded."""
    directory = Path(directory)
    path = directory / TOKENIZER_FILE
    if not path.is_file():
        raise TokenizerError(
            f"no saved tokenizer in {directory}: {TOKENIZER_FILE} is missing "
            "(Tokenizer.save(directory) writes it)"
        )
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    kind = state.pop("kind", None)
    registry = registry or default_registry("tokenizers")
    if not isinstance(kind, str) or kind not in registry.names():
        known = registry.names()
        raise TokenizerError(
            f"{path}: {unknown_name_message('tokenizers', str(kind), known)} Install the "
            "distribution that provides it to read this tokenizer"
        )
    try:
        tokenizer_class = registry.get(kind)
    except PluginError as error:
        raise TokenizerError(f"{path}: {error}") from error
    loaded: Tokenizer = tokenizer_class.from_state(state, directory)
    return loaded
