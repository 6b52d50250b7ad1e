"""Options of the captioning task (``task.<option>``) and of its ``predict``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from plugins.tasks.captioning.readers import CaptionReadOptions


@dataclass
class CaptioningOptions(CaptionReadOptions):
    """The reading options (layout, columns, image folder: see readers) and the model's."""

    image_encoder: str = "small_cnn"
    """A plugin of ``rnn_pipeline.image_encoders``: small_cnn, resnet18/34/50 or a plugin's."""
    image_encoder_options: dict[str, Any] = field(default_factory=dict)
    """The chosen image encoder's own options (e.g. ``weights: path``, ``freeze: true``)."""
    attention: Literal["none", "bahdanau", "luong"] = "bahdanau"
    """none: the decoder sees the pooled image only, through its initial state."""
    attention_score: Literal["dot", "general"] = "general"
    """attention=luong: q.m (equal sizes) or q.W.m."""
    teacher_forcing: float = field(default=1.0, metadata={"min": 0.0, "max": 1.0})
    """Training: probability of feeding the reference word (else the decoder's own argmax)."""
    tie_embeddings: bool = False
    """Output layer shares the word embedding (needs embedding_size == hidden_size)."""
    label_smoothing: float = field(default=0.0, metadata={"min": 0.0, "max": 0.5})
    """Training loss only (Szegedy et al. 2016); val/test loss and ppl stay plain."""
    beam_size: int = field(default=5, metadata={"min": 1, "max": 50})
    """Beam width of the test BLEU and of predict (1: greedy search)."""
    length_penalty: float = field(default=0.6, metadata={"min": 0.0, "max": 2.0})
    """GNMT's alpha: beam scores are log-probs / ((5 + length) / 6) ** alpha."""
    max_caption_length: int = field(default=30, metadata={"min": 1, "max": 500})
    """Longer training captions are cut; generation stops at this many tokens."""


@dataclass
class CaptioningPredictOptions:
    beam: int = field(default=0, metadata={"help": "beam width; 0: the run's task.beam_size"})
    n_best: int = field(default=1, metadata={"help": "how many captions per image (<= beam)"})

    def __post_init__(self) -> None:
        if self.beam < 0:
            raise ValueError(f"beam must be 0 (the run's beam_size) or more, got {self.beam}")
        if self.n_best < 1:
            raise ValueError(f"n_best must be at least 1, got {self.n_best}")
        if self.beam and self.n_best > self.beam:
            raise ValueError(f"n_best ({self.n_best}) cannot exceed beam ({self.beam})")
