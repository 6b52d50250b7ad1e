"""Tokenizers: a whitespace word vocabulary and SentencePiece (unigram or BPE) subwords.

Every tokenizer reserves the same special ids: ``<pad>`` = 0, ``<unk>`` = 1, ``<eos>`` = 2.
A fitted tokenizer is saved to a directory (``tokenizer.json`` plus any model file) and read
back with :func:`load_tokenizer`, which picks the class from the ``kind`` field.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from tqdm import tqdm

from pipeline.config import TokenizerConfig
from pipeline.errors import TokenizerError

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, EOS)
PAD_ID, UNK_ID, EOS_ID = 0, 1, 2
META_FILE = "tokenizer.json"
SPM_FILE = "sentencepiece.model"
PROGRESS_MIN_LINES = 50_000
"""encode_lines shows a progress bar only above this many lines."""
_CHUNK = 10_000


class Tokenizer:
    """Text <-> token ids. Subclasses implement fitting, the id mapping and (de)serialisation.

    Use: ``fit(train_lines)`` once, then ``encode``/``encode_lines``/``decode``; ``save`` and
    :func:`load_tokenizer` (or ``Tokenizer.load``) store and restore a fitted tokenizer.
    ``decode`` drops ``<pad>`` and ``<eos>``; unknown ids render as ``<unk>``.
    """

    kind: ClassVar[str] = ""
    pad_id: ClassVar[int] = PAD_ID
    unk_id: ClassVar[int] = UNK_ID
    eos_id: ClassVar[int] = EOS_ID

    def __init__(self, vocab_size: int, lowercase: bool = False) -> None:
        if vocab_size < len(SPECIAL_TOKENS) + 1:
            raise TokenizerError(f"tokenizer.vocab_size must be at least 4, got {vocab_size}")
        self.vocab_size = vocab_size
        self.lowercase = lowercase

    # --- to implement ------------------------------------------------------------------------

    def fit(self, lines: Iterable[str]) -> None:
        """Learn the vocabulary from training lines (replaces any earlier vocabulary)."""
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, without an end marker."""
        raise NotImplementedError

    def tokens(self, text: str) -> list[str]:
        """The token strings ``encode`` produces ids for (for display)."""
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        """Text of a sequence of ids (``<pad>`` and ``<eos>`` are dropped)."""
        raise NotImplementedError

    def id_to_token(self, i: int) -> str:
        raise NotImplementedError

    def token_to_id(self, token: str) -> int:
        """Id of a token string; ``unk_id`` for tokens outside the vocabulary."""
        raise NotImplementedError

    @property
    def vocab(self) -> list[str]:
        """All token strings; the index is the id."""
        raise NotImplementedError

    def _meta(self) -> dict[str, Any]:
        """JSON-ready settings and state written to ``tokenizer.json`` (without ``kind``)."""
        raise NotImplementedError

    def _save_files(self, directory: Path) -> None:
        """Write files besides ``tokenizer.json`` (none by default)."""

    @classmethod
    def _from_saved(cls, meta: dict[str, Any], directory: Path) -> Tokenizer:
        raise NotImplementedError

    # --- shared ------------------------------------------------------------------------------

    def encode_lines(
        self, lines: Sequence[str], eos: bool, progress: bool = False
    ) -> list[list[int]]:
        """Ids of each line, with ``eos_id`` appended when eos; a tqdm bar for big inputs."""
        show = progress and len(lines) > PROGRESS_MIN_LINES
        encoded: list[list[int]] = []
        with tqdm(total=len(lines), desc="tokenizing", unit="line", disable=not show) as bar:
            for start in range(0, len(lines), _CHUNK):
                chunk = self._encode_batch(lines[start : start + _CHUNK])
                if eos:
                    for ids in chunk:
                        ids.append(EOS_ID)
                encoded.extend(chunk)
                bar.update(len(chunk))
        return encoded

    def _encode_batch(self, lines: Sequence[str]) -> list[list[int]]:
        return [self.encode(line) for line in lines]

    def __len__(self) -> int:
        return len(self.vocab)

    def save(self, directory: Path) -> None:
        """Write ``tokenizer.json`` (and model files) into directory, creating it if needed."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_files(directory)
        meta = {"kind": self.kind, **self._meta()}
        text = json.dumps(meta, ensure_ascii=False, indent=1)
        (directory / META_FILE).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Tokenizer:
        """The tokenizer saved in directory (any kind); see :func:`load_tokenizer`."""
        return load_tokenizer(directory)

    def _normalise(self, text: str) -> str:
        return text.lower() if self.lowercase else text

    def _check_fitted(self) -> None:
        if not self.vocab:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or load it")


class WordTokenizer(Tokenizer):
    """Whitespace-separated words; the vocabulary keeps the most frequent training words.

    Ties in frequency are broken alphabetically, so fitting is deterministic. Words spelled
    ``<unk>`` in the corpus (as in WikiText) map to ``unk_id``.
    """

    kind = "word"

    def __init__(self, vocab_size: int, min_frequency: int = 1, lowercase: bool = False) -> None:
        super().__init__(vocab_size, lowercase)
        if min_frequency < 1:
            raise TokenizerError(f"tokenizer.min_frequency must be at least 1, got {min_frequency}")
        self.min_frequency = min_frequency
        self._vocab: list[str] = []
        self._ids: dict[str, int] = {}

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
        self._check_fitted()
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

    def _meta(self) -> dict[str, Any]:
        return {
            "lowercase": self.lowercase,
            "vocab_size": self.vocab_size,
            "min_frequency": self.min_frequency,
            "vocab": self._vocab,
        }

    @classmethod
    def _from_saved(cls, meta: dict[str, Any], directory: Path) -> WordTokenizer:
        vocab = meta["vocab"]
        size = meta.get("vocab_size", max(len(vocab), len(SPECIAL_TOKENS) + 1))
        tokenizer = cls(size, meta.get("min_frequency", 1), meta.get("lowercase", False))
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
        super().__init__(vocab_size, lowercase)
        if model_type not in ("unigram", "bpe"):
            raise TokenizerError(f"tokenizer.model_type must be unigram or bpe, not {model_type!r}")
        self.model_type = model_type
        self.character_coverage = character_coverage
        self._processor: Any = None
        self._model: bytes = b""

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

    def _check_fitted(self) -> None:
        if self._processor is None:
            raise RuntimeError("SentencePieceTokenizer is not fitted: call fit() or load it")

    def encode(self, text: str) -> list[int]:
        self._check_fitted()
        return self._processor.encode(self._normalise(text))

    def _encode_batch(self, lines: Sequence[str]) -> list[list[int]]:
        self._check_fitted()
        return self._processor.encode([self._normalise(line) for line in lines])

    def tokens(self, text: str) -> list[str]:
        self._check_fitted()
        return self._processor.encode(self._normalise(text), out_type=str)

    def decode(self, ids: Iterable[int]) -> str:
        self._check_fitted()
        return self._processor.decode([int(i) for i in ids])

    def id_to_token(self, i: int) -> str:
        self._check_fitted()
        if not 0 <= i < len(self):
            raise IndexError(f"token id {i} is outside the vocabulary [0, {len(self)})")
        return self._processor.id_to_piece(i)

    def token_to_id(self, token: str) -> int:
        self._check_fitted()
        return self._processor.piece_to_id(token)

    @property
    def vocab(self) -> list[str]:
        if self._processor is None:
            return []
        return [self._processor.id_to_piece(i) for i in range(len(self))]

    def __len__(self) -> int:
        return 0 if self._processor is None else self._processor.get_piece_size()

    def _meta(self) -> dict[str, Any]:
        return {
            "lowercase": self.lowercase,
            "vocab_size": self.vocab_size,
            "model_type": self.model_type,
            "character_coverage": self.character_coverage,
            "model_file": SPM_FILE,
        }

    def _save_files(self, directory: Path) -> None:
        (directory / SPM_FILE).write_bytes(self._model)

    @classmethod
    def _from_saved(cls, meta: dict[str, Any], directory: Path) -> SentencePieceTokenizer:
        path = directory / meta.get("model_file", SPM_FILE)
        if not path.is_file():
            raise TokenizerError(f"tokenizer directory {directory}: {path.name} is missing")
        tokenizer = cls(
            meta["vocab_size"], meta["model_type"], meta["character_coverage"], meta["lowercase"]
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


TOKENIZERS: dict[str, type[Tokenizer]] = {
    WordTokenizer.kind: WordTokenizer,
    SentencePieceTokenizer.kind: SentencePieceTokenizer,
}


def build_tokenizer(cfg: TokenizerConfig) -> Tokenizer:
    """An unfitted tokenizer from the ``tokenizer`` config section."""
    if cfg.kind == "word":
        return WordTokenizer(cfg.vocab_size, cfg.min_frequency, cfg.lowercase)
    if cfg.kind == "sentencepiece":
        return SentencePieceTokenizer(
            cfg.vocab_size, cfg.model_type, cfg.character_coverage, cfg.lowercase
        )
    raise TokenizerError(f"tokenizer.kind must be one of {', '.join(TOKENIZERS)}, not {cfg.kind!r}")


def load_tokenizer(directory: Path) -> Tokenizer:
    """The tokenizer that ``Tokenizer.save`` wrote to directory."""
    directory = Path(directory)
    path = directory / META_FILE
    if not path.is_file():
        raise TokenizerError(
            f"no saved tokenizer in {directory}: {META_FILE} is missing "
            "(Tokenizer.save(directory) writes it)"
        )
    meta = json.loads(path.read_text(encoding="utf-8"))
    kind = meta.get("kind")
    if kind not in TOKENIZERS:
        raise TokenizerError(
            f"{path}: unknown tokenizer kind {kind!r}; known: {', '.join(TOKENIZERS)}"
        )
    return TOKENIZERS[kind]._from_saved(meta, directory)
