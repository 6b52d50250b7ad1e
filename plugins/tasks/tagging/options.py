"""The tagging task's options (``task.*`` keys of the config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CharKind = Literal["none", "lstm", "cnn"]
DATA_OPTIONS = (
    "scheme",
    "word_column",
    "tag_column",
    "tokens_field",
    "tags_field",
    "max_word_chars",
)
"""Task options that change the tokenised data (part of the cache key; the others are not)."""


@dataclass
class TaggingOptions:
    scheme: Literal["iob1", "iob2", "iobes"] = "iob2"
    """Tag scheme of the data, and of the tags in predictions."""
    word_column: int = 0
    """CoNLL files: 0-based column of the word (negative counts from the end)."""
    tag_column: int = -1
    """CoNLL files: column of the tag; -1 is the last."""
    tokens_field: str = "tokens"
    """Datasets (data.name): the column holding each sentence's list of words."""
    tags_field: str = "ner_tags"
    """Datasets: the column holding each sentence's tags (strings, or ints of a ClassLabel)."""
    bidirectional: bool = True
    """Read the sentence both ways; this, not model.bidirectional (default false), decides."""
    crf: bool = False
    """A CRF output layer (forward-algorithm loss, Viterbi decoding) instead of softmax."""
    char_features: CharKind = "none"
    """Character features of each word: a small BiLSTM or CNN over its characters."""
    char_embedding_size: int = field(default=25, metadata={"min": 1})
    char_hidden_size: int = field(default=25, metadata={"min": 1})
    """Units per direction of the character BiLSTM, or filters of the character CNN."""
    char_kernel_size: int = field(default=3, metadata={"min": 1})
    max_word_chars: int = field(default=20, metadata={"min": 1})
    """Characters of a word the character encoder reads (longer words are cut)."""
