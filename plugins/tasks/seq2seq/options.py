"""The seq2seq task's options (``task.*`` keys), predict options, and the checks of settings
that cannot work together, made before any data is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from plugins.tasks.seq2seq.readers import ParallelOptions

if TYPE_CHECKING:
    from pipeline.config import Config

__all__ = ["Seq2SeqOptions", "Seq2SeqPredictOptions", "seq2seq_config_problems"]


@dataclass
class Seq2SeqOptions(ParallelOptions):
    """How pairs are read (the reader options above), modelled, trained and decoded."""

    attention: Literal["none", "bahdanau", "luong"] = "bahdanau"
    """none: the decoder starts from the encoder's final states only (Sutskever/Cho);
    bahdanau: additive attention; luong: multiplicative (task.attention_score)."""
    attention_score: Literal["dot", "general"] = "general"
    """luong's score: dot (decoder and encoder outputs of equal size) or general (bilinear)."""
    teacher_forcing: float = field(default=1.0, metadata={"min": 0.0, "max": 1.0})
    """Training: probability of feeding the reference token instead of the decoder's own."""
    tie_embeddings: bool = False
    """Share the target embedding with the output layer (model.embedding_size must equal
    model.hidden_size)."""
    shared_vocabulary: bool = False
    """One tokenizer fitted on both sides (joint SentencePiece or word); else one per side."""
    max_source_length: int = field(default=100, metadata={"min": 1})
    """Source tokens kept per sentence (longer ones are cut)."""
    max_target_length: int = field(default=100, metadata={"min": 1})
    """Target tokens kept per training sentence, and the cap of generated tokens."""
    label_smoothing: float = field(default=0.0, metadata={"min": 0.0, "max": 0.9})
    beam_size: int = field(default=5, metadata={"min": 1, "max": 64})
    """Beam of the test decoding (1: greedy); validation decodes greedily."""
    length_penalty: float = field(default=0.6, metadata={"min": 0.0, "max": 5.0})
    """GNMT alpha: a hypothesis scores log-prob / ((5 + length) / 6) ** alpha."""
    max_length_ratio: float = field(default=1.5, metadata={"min": 0.1, "max": 10.0})
    """Generated tokens at most ratio x source tokens + 5 (and max_target_length)."""
    val_bleu_sentences: int = field(default=1000, metadata={"min": 1})
    """Validation BLEU/chrF each epoch: greedy on N validation sentences spread evenly over
    the split (all of them when it has fewer)."""


@dataclass
class Seq2SeqPredictOptions:
    beam: int = field(default=0, metadata={"help": "beam size (0: the run's task.beam_size)"})
    n_best: int = field(default=1, metadata={"help": "translations per input, best first"})

    def __post_init__(self) -> None:
        if self.beam < 0:
            raise ValueError(f"beam must be 0 (the run's) or at least 1, got {self.beam}")
        if self.n_best < 1:
            raise ValueError(f"n_best must be at least 1, got {self.n_best}")


def seq2seq_config_problems(cfg: Config) -> list[str]:
    """Sizes the attention and the tied output layer need (model.* against task.*)."""
    options, model = cfg.task.options, cfg.model
    problems = []
    memory = model.hidden_size * (2 if model.bidirectional else 1)
    if (
        options.attention == "luong"
        and options.attention_score == "dot"
        and memory != (model.hidden_size)
    ):
        problems.append(
            "task.attention_score=dot needs encoder outputs as wide as the decoder state, but "
            f"model.bidirectional=true gives {memory} against model.hidden_size="
            f"{model.hidden_size}; set task.attention_score=general or model.bidirectional=false"
        )
    if options.tie_embeddings and model.embedding_size != model.hidden_size:
        problems.append(
            "task.tie_embeddings=true shares the target embedding with the output layer, so "
            f"model.embedding_size ({model.embedding_size}) must equal model.hidden_size "
            f"({model.hidden_size}); make them equal or set task.tie_embeddings=false"
        )
    return problems
