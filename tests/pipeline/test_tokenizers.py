"""Behaviour tests for the word and SentencePiece tokenizers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipeline.config import TokenizerConfig
from pipeline.errors import TokenizerError
from pipeline.tokenizers import (
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Tokenizer,
    build_tokenizer,
    load_tokenizer,
)
from plugins.tokenizers import SentencePieceTokenizer, WordTokenizer

SENTENCE = (
    "el gobierno aprobó un plan de vivienda para los jóvenes con ayudas al alquiler "
    "la ciudad celebra hoy una fiesta en el centro histórico"
)
WORDS = SENTENCE.split()


def corpus(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) for _ in range(n)]


@pytest.fixture(scope="module")
def spm_models() -> dict[str, SentencePieceTokenizer]:
    models = {}
    for model_type in ("unigram", "bpe"):
        tokenizer = SentencePieceTokenizer(40, model_type)
        tokenizer.fit(corpus())
        models[model_type] = tokenizer
    return models


# --- word tokenizer -----------------------------------------------------------------------------


def test_word_vocab_orders_by_frequency_then_alphabet() -> None:
    tokenizer = WordTokenizer(vocab_size=100)
    tokenizer.fit(["b a c a", "c b a d", "e"])
    assert tokenizer.vocab == ["<pad>", "<unk>", "<eos>", "a", "b", "c", "d", "e"]
    assert len(tokenizer) == 8
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.eos_id) == (PAD_ID, UNK_ID, EOS_ID)
    assert (PAD_ID, UNK_ID, EOS_ID) == (0, 1, 2)


def test_word_vocab_size_and_min_frequency_limit_the_vocabulary() -> None:
    lines = ["a a a b b c", "d d e"]
    small = WordTokenizer(vocab_size=5)
    small.fit(lines)
    assert small.vocab == ["<pad>", "<unk>", "<eos>", "a", "b"]  # b and d tie: alphabetical
    frequent = WordTokenizer(vocab_size=100, min_frequency=2)
    frequent.fit(lines)
    assert frequent.vocab[3:] == ["a", "b", "d"]


def test_word_encode_maps_unknown_words_and_literal_unk_to_unk_id() -> None:
    tokenizer = WordTokenizer(vocab_size=100)
    tokenizer.fit(["the <unk> cat", "the dog"])
    assert "<unk>" not in tokenizer.vocab[3:]
    assert tokenizer.encode("the <unk> zebra") == [3, UNK_ID, UNK_ID]
    assert tokenizer.token_to_id("zebra") == UNK_ID
    assert tokenizer.id_to_token(3) == "the"
    assert tokenizer.tokens(" the  dog ") == ["the", "dog"]


def test_word_encode_lines_appends_eos_only_when_asked() -> None:
    tokenizer = WordTokenizer(vocab_size=100)
    tokenizer.fit(["a b", "b"])
    assert tokenizer.encode_lines(["a b", "b"], eos=True) == [[4, 3, EOS_ID], [3, EOS_ID]]
    assert tokenizer.encode_lines(["a b"], eos=False, progress=True) == [[4, 3]]
    assert tokenizer.decode([4, 3, EOS_ID, PAD_ID]) == "a b"


def test_word_lowercase_folds_case_when_fitting_and_encoding() -> None:
    tokenizer = WordTokenizer(vocab_size=100, lowercase=True)
    tokenizer.fit(["The the THE cat"])
    assert tokenizer.vocab[3:] == ["the", "cat"]
    assert tokenizer.encode("ThE Cat") == [3, 4]
    cased = WordTokenizer(vocab_size=100)
    cased.fit(["The the"])
    assert cased.encode("THE") == [UNK_ID]


def test_unfitted_tokenizer_refuses_to_encode() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        WordTokenizer(10).encode("a")
    with pytest.raises(RuntimeError, match="not fitted"):
        SentencePieceTokenizer(10).encode("a")


# --- sentencepiece ------------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_round_trips_text(model_type: str, spm_models: dict) -> None:
    tokenizer = spm_models[model_type]
    assert len(tokenizer) == 40
    assert tokenizer.vocab[:3] == ["<pad>", "<unk>", "<eos>"]
    text = "el gobierno aprobó un plan de vivienda"
    ids = tokenizer.encode(text)
    assert all(3 <= i < 40 for i in ids)
    assert tokenizer.decode(ids) == text
    assert tokenizer.decode([*ids, EOS_ID, PAD_ID]) == text
    assert len(tokenizer.tokens(text)) == len(ids)
    assert [tokenizer.token_to_id(t) for t in tokenizer.tokens(text)] == ids
    assert tokenizer.encode_lines([text, "la fiesta"], eos=True)[0] == [*ids, EOS_ID]


def test_sentencepiece_training_is_deterministic(spm_models: dict) -> None:
    again = SentencePieceTokenizer(40, "unigram")
    again.fit(corpus())
    assert again.vocab == spm_models["unigram"].vocab


def test_sentencepiece_lowercase() -> None:
    tokenizer = SentencePieceTokenizer(40, "bpe", lowercase=True)
    tokenizer.fit(line.upper() for line in corpus())
    assert tokenizer.decode(tokenizer.encode("EL Gobierno")) == "el gobierno"


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_vocab_too_large_names_the_setting(model_type: str) -> None:
    tokenizer = SentencePieceTokenizer(5000, model_type)
    with pytest.raises(TokenizerError, match=r"tokenizer\.vocab_size=5000 .*at most \d+"):
        tokenizer.fit(corpus(50))


def test_sentencepiece_vocab_too_small_names_the_setting() -> None:
    with pytest.raises(TokenizerError, match=r"tokenizer\.vocab_size=8 is too small"):
        SentencePieceTokenizer(8).fit(corpus(50))


# --- save / load / build ------------------------------------------------------------------------


def test_save_and_load_round_trip_gives_identical_encodings(
    tmp_path: Path, spm_models: dict
) -> None:
    word = WordTokenizer(vocab_size=12, min_frequency=2, lowercase=True)
    word.fit(corpus())
    lines = [*corpus(20, seed=1), "una palabra desconocida"]
    for name, tokenizer in {"word": word, **spm_models}.items():
        tokenizer.save(tmp_path / name)
        loaded = load_tokenizer(tmp_path / name)
        assert type(loaded) is type(tokenizer)
        assert loaded.vocab == tokenizer.vocab
        assert loaded.encode_lines(lines, eos=True) == tokenizer.encode_lines(lines, eos=True)
        assert Tokenizer.load(tmp_path / name).vocab == tokenizer.vocab
    meta = json.loads((tmp_path / "word" / "tokenizer.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "word" and meta["lowercase"] is True and len(meta["vocab"]) == 12
    assert (tmp_path / "bpe" / "sentencepiece.model").is_file()


def test_load_tokenizer_missing_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="nowhere"):
        load_tokenizer(tmp_path / "nowhere")


def test_build_tokenizer_follows_the_config() -> None:
    word = build_tokenizer(TokenizerConfig(kind="word", vocab_size=50, min_frequency=3))
    assert isinstance(word, WordTokenizer) and word.min_frequency == 3
    pieces = build_tokenizer(TokenizerConfig(kind="sentencepiece", model_type="bpe"))
    assert isinstance(pieces, SentencePieceTokenizer) and pieces.model_type == "bpe"


def test_encode_lines_shows_progress_only_for_big_inputs(capsys: pytest.CaptureFixture) -> None:
    tokenizer = WordTokenizer(vocab_size=10)
    tokenizer.fit(["a b"])
    tokenizer.encode_lines(["a b"] * 100, eos=True, progress=True)
    assert "tokenizing" not in capsys.readouterr().err
    encoded = tokenizer.encode_lines(["a b"] * 50_001, eos=True, progress=True)
    assert len(encoded) == 50_001 and encoded[-1] == [3, 4, EOS_ID]
    assert "tokenizing" in capsys.readouterr().err
