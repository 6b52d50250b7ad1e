"""Built-in tokenizers: a whitespace word vocabulary and SentencePiece (unigram or BPE) pieces.

Both are plugins of ``rnn_pipeline.tokenizers`` (``tokenizer.kind: word | sentencepiece``)
and follow the Tokenizer contract of :mod:`pipeline.interfaces`: the reserved ids
``<pad>`` = 0, ``<unk>`` = 1, ``<eos>`` = 2, and a saved ``tokenizer.json`` (plus the
SentencePiece model file) that ``pipeline.tokenizers.load_tokenizer`` reads back.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import TokenizerError
from pipeline.interfaces import EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, Tokenizer

PAD, UNK, EOS = SPECIAL_TOKENS
SPM_FILE = "sentencepiece.model"


def _check_vocab_size(vocab_size: int) -> None:
    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise TokenizerError(f"tokenizer.vocab_size must be at least 4, got {vocab_size}")


def _normalise(text: str, lowercase: bool) -> str:
    return text.lower() if lowercase else text


def _not_fitted(tokenizer: Tokenizer) -> RuntimeError:
    return RuntimeError(f"{type(tokenizer).__name__} is not fitted: call fit() or load it")


class WordTokenizer(Tokenizer):
    """Whitespace-separated words; the vocabulary keeps the most frequent training words.

    Ties in frequency are broken alphabetically, so fitting is deterministic. Words spelled
    ``<unk>`` in the corpus (as in WikiText) map to ``unk_id``.
    """

    kind = "word"

    def __init__(self, vocab_size: int, min_frequency: int = 1, lowercase: bool = False) -> None:
        _check_vocab_size(vocab_size)
        if min_frequency < 1:
            raise TokenizerError(f"tokenizer.min_frequency must be at least 1, got {min_frequency}")
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.lowercase = lowercase
        self._vocab: list[str] = []
        self._ids: dict[str, int] = {}

    def _normalise(self, text: str) -> str:
        return _normalise(text, self.lowercase)

    def fit(self, lines: Iterable[str]) -> None:
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(self._normalise(line).split())
        for special in SPECIAL_TOKENS:
            counts.pop(special, None)
        kept = [word for word, count in counts.items() if count >= self.min_frequency]
        kept.sort(key=lambda word: (-counts[word], word))
        self._set_vocab([*SPECIAL_TOKENS, *kept[: self.vocab_size - len(SPECIAL_TOKENS)]])

    def _set_vocab(self, vocab: list[str]) -> None:
        self._vocab = vocab
        self._ids = {token: i for i, token in enumerate(vocab)}

    def encode(self, text: str) -> list[int]:
        if not self._vocab:
            raise _not_fitted(self)
        ids = self._ids
        return [ids.get(word, UNK_ID) for word in self._normalise(text).split()]

    def tokens(self, text: str) -> list[str]:
        return self._normalise(text).split()

    def decode(self, ids: Iterable[int]) -> str:
        skip = (PAD_ID, EOS_ID)
        return " ".join(self.id_to_token(int(i)) for i in ids if int(i) not in skip)

    def id_to_token(self, i: int) -> str:
        if not 0 <= i < len(self._vocab):
            raise IndexError(f"token id {i} is outside the vocabulary [0, {len(self._vocab)})")
        return self._vocab[i]

    def token_to_id(self, token: str) -> int:
        return self._ids.get(token, UNK_ID)

    @property
    def vocab(self) -> list[str]:
        return list(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)

    def state(self) -> dict[str, Any]:
        return {
            "lowercase": self.lowercase,
            "vocab_size": self.vocab_size,
            "min_frequency": self.min_frequency,
            "vocab": self._vocab,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> WordTokenizer:
        vocab = state["vocab"]
        size = state.get("vocab_size", max(len(vocab), len(SPECIAL_TOKENS) + 1))
        tokenizer = cls(size, state.get("min_frequency", 1), state.get("lowercase", False))
        tokenizer._set_vocab(list(vocab))
        return tokenizer


class SentencePieceTokenizer(Tokenizer):
    """Subword pieces trained with the ``sentencepiece`` package (unigram or BPE).

    The vocabulary has exactly ``vocab_size`` pieces; a corpus too small for that many
    raises TokenizerError naming ``tokenizer.vocab_size`` and the largest size it allows.
    """

    kind = "sentencepiece"

    def __init__(
        self,
        vocab_size: int,
        model_type: Literal["unigram", "bpe"] = "unigram",
        character_coverage: float = 1.0,
        lowercase: bool = False,
    ) -> None:
        _check_vocab_size(vocab_size)
        if model_type not in ("unigram", "bpe"):
            raise TokenizerError(f"tokenizer.model_type must be unigram or bpe, not {model_type!r}")
        self.vocab_size = vocab_size
        self.model_type = model_type
        self.character_coverage = character_coverage
        self.lowercase = lowercase
        self._processor: Any = None
        self._model: bytes = b""

    def _normalise(self, text: str) -> str:
        return _normalise(text, self.lowercase)

    def fit(self, lines: Iterable[str]) -> None:
        import sentencepiece as spm

        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=self._training_lines(lines),
                model_writer=model,
                **self._trainer_options(),
            )
        except RuntimeError as error:
            raise TokenizerError(_vocab_size_advice(self.vocab_size, str(error))) from error
        self._set_model(model.getvalue())

    def _training_lines(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            text = self._normalise(line).strip()
            if text:
                yield text

    def _trainer_options(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "model_type": self.model_type,
            "character_coverage": self.character_coverage,
            "pad_id": PAD_ID,
            "unk_id": UNK_ID,
            "eos_id": EOS_ID,
            "bos_id": -1,
            "pad_piece": PAD,
            "unk_piece": UNK,
            "eos_piece": EOS,
            "unk_surface": UNK,
            "hard_vocab_limit": True,
            "max_sentence_length": 1 << 16,
            "minloglevel": 1,
        }

    def _set_model(self, model: bytes) -> None:
        import sentencepiece as spm

        self._model = model
        self._processor = spm.SentencePieceProcessor(model_proto=model)

    def _fitted(self) -> Any:
        if self._processor is None:
            raise _not_fitted(self)
        return self._processor

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self._fitted().encode(self._normalise(text))
        return ids

    def encode_batch(self, lines: Sequence[str]) -> list[list[int]]:
        ids: list[list[int]] = self._fitted().encode([self._normalise(line) for line in lines])
        return ids

    def tokens(self, text: str) -> list[str]:
        pieces: list[str] = self._fitted().encode(self._normalise(text), out_type=str)
        return pieces

    def decode(self, ids: Iterable[int]) -> str:
        text: str = self._fitted().decode([int(i) for i in ids])
        return text

    def id_to_token(self, i: int) -> str:
        if not 0 <= i < len(self):
            raise IndexError(f"token id {i} is outside the vocabulary [0, {len(self)})")
        piece: str = self._fitted().id_to_piece(i)
        return piece

    def token_to_id(self, token: str) -> int:
        return int(self._fitted().piece_to_id(token))

    @property
    def vocab(self) -> list[str]:
        if self._processor is None:
            return []
        return [self._processor.id_to_piece(i) for i in range(len(self))]

    def __len__(self) -> int:
        return 0 if self._processor is None else int(self._processor.get_piece_size())

    def state(self) -> dict[str, Any]:
        return {
            "lowercase": self.lowercase,
            "vocab_size": self.vocab_size,
            "model_type": self.model_type,
            "character_coverage": self.character_coverage,
            "model_file": SPM_FILE,
        }

    def save_files(self, directory: Path) -> None:
        (directory / SPM_FILE).write_bytes(self._model)

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> SentencePieceTokenizer:
        path = directory / state.get("model_file", SPM_FILE)
        if not path.is_file():
            raise TokenizerError(f"tokenizer directory {directory}: {path.name} is missing")
        tokenizer = cls(
            state["vocab_size"],
            state["model_type"],
            state["character_coverage"],
            state["lowercase"],
        )
        tokenizer._set_model(path.read_bytes())
        return tokenizer


def _vocab_size_advice(vocab_size: int, message: str) -> str:
    """A TokenizerError message for a failed sentencepiece training run."""
    too_high = re.search(r"value <= (\d+)", message)
    if too_high:
        return (
            f"tokenizer.vocab_size={vocab_size} is too large for this training text: "
            f"sentencepiece allows at most {too_high.group(1)}. Set tokenizer.vocab_size="
            f"{too_high.group(1)} or less, or train on more text"
        )
    too_low = re.search(r"required_chars\. (\d+) vs (\d+)", message)
    if too_low:
        needed = int(too_low.group(2)) + len(SPECIAL_TOKENS)
        return (
            f"tokenizer.vocab_size={vocab_size} is too small: the training text needs "
            f"{needed} pieces for its characters alone. Raise tokenizer.vocab_size to at least "
            f"{needed}, or lower tokenizer.character_coverage"
        )
    return f"sentencepiece training failed (tokenizer.vocab_size={vocab_size}): {message}"
