"""``check_tokenizer``: a tokenizer built, fitted, used and saved the way the pipeline does."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.interfaces import EOS_ID, PAD_ID, SPECIAL_TOKENS, TOKENIZER_FILE, UNK_ID, Tokenizer
from pipeline.testing.clauses import Notes, fail, require

__all__ = ["check_tokenizer"]

UNSEEN = "\u2603qzx\u2603"
"""A token no training text of the check contains."""


def check_tokenizer(
    tokenizer_class: type[Tokenizer],
    *,
    settings: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    lines: Sequence[str] | None = None,
) -> Notes:
    """Check a tokenizer against the Tokenizer contract of :mod:`pipeline.interfaces`.

    Built as ``pipeline.tokenizers.build_tokenizer`` does: the ``tokenizer.*`` settings its
    ``__init__`` names (defaults of the config, ``vocab_size`` 200, updated by ``settings``)
    plus ``options``. Fitted on ``lines`` (default: 300 generated Spanish sentences). Checked:
    ``kind`` is set; ``<pad>``, ``<unk>``, ``<eos>`` have ids 0, 1, 2; ``len`` equals the
    vocabulary; ``encode`` gives ids in range without ``<eos>`` and as many as ``tokens``;
    ``encode_batch`` agrees with ``encode``; ``id_to_token``/``token_to_id`` invert each other,
    an unseen token maps to ``<unk>`` and an id out of range raises IndexError; ``decode``
    drops ``<pad>`` and ``<eos>``; fitting again on the same lines gives the same vocabulary;
    ``save`` then ``from_state`` gives a tokenizer that encodes the same.
    """
    require(
        isinstance(tokenizer_class.kind, str) and bool(tokenizer_class.kind),
        "kind is the entry-point name (a non-empty str)",
        "e.g. 'word'",
        repr(tokenizer_class.kind),
    )
    texts = list(lines) if lines is not None else _default_lines()
    tokenizer = _build(tokenizer_class, settings or {}, options or {})
    tokenizer.fit(texts)
    _check_specials(tokenizer)
    _check_encoding(tokenizer, texts[:20])
    _check_lookups(tokenizer)
    again = _build(tokenizer_class, settings or {}, options or {})
    again.fit(texts)
    require(
        again.vocab == tokenizer.vocab,
        "fit is deterministic: the same lines give the same vocabulary",
        tokenizer.vocab[:10],
        again.vocab[:10],
    )
    _check_round_trip(tokenizer_class, tokenizer, texts[:20])
    return []


def _default_lines() -> list[str]:
    from plugins.tasks.language_model.demo_corpus import generate_sentences

    return generate_sentences(300, seed=0)


def _build(
    tokenizer_class: type[Tokenizer], settings: dict[str, Any], options: dict[str, Any]
) -> Tokenizer:
    from pipeline.component_options import TOKENIZER_SETTINGS, context_arguments
    from pipeline.config import TokenizerConfig

    defaults = TokenizerConfig(vocab_size=200)
    available = {name: getattr(defaults, name) for name in TOKENIZER_SETTINGS} | settings
    return tokenizer_class(**context_arguments(tokenizer_class, available), **options)


def _check_specials(tokenizer: Tokenizer) -> None:
    vocab = list(tokenizer.vocab)
    expected = dict(zip((PAD_ID, UNK_ID, EOS_ID), SPECIAL_TOKENS, strict=True))
    actual = {i: vocab[i] if i < len(vocab) else None for i in expected}
    require(actual == expected, "the special tokens have ids 0, 1, 2", expected, actual)
    require(
        len(tokenizer) == len(vocab) > len(SPECIAL_TOKENS),
        "after fit, len(tokenizer) equals len(vocab) and the vocabulary holds more than the "
        "special tokens",
        f"equal and > {len(SPECIAL_TOKENS)}",
        f"len {len(tokenizer)}, vocab {len(vocab)}",
    )


def _check_encoding(tokenizer: Tokenizer, texts: list[str]) -> None:
    size = len(tokenizer)
    for text in texts:
        ids = tokenizer.encode(text)
        require(
            isinstance(ids, list) and all(isinstance(i, int) and 0 <= i < size for i in ids),
            "encode returns a list of int ids in [0, len(tokenizer))",
            f"ids < {size}",
            ids,
        )
        require(EOS_ID not in ids, "encode adds no <eos>", f"no {EOS_ID}", ids)
        tokens = tokenizer.tokens(text)
        require(
            len(tokens) == len(ids),
            "tokens(text) gives one string per id of encode(text)",
            len(ids),
            len(tokens),
        )
        require(
            tokenizer.decode([*ids, EOS_ID, PAD_ID]) == tokenizer.decode(ids),
            "decode drops <eos> and <pad>",
            repr(tokenizer.decode(ids)),
            repr(tokenizer.decode([*ids, EOS_ID, PAD_ID])),
        )
    batch = tokenizer.encode_batch(texts)
    require(
        batch == [tokenizer.encode(text) for text in texts],
        "encode_batch(lines) equals encode of each line",
        "equal",
        "different",
    )


def _check_lookups(tokenizer: Tokenizer) -> None:
    vocab = list(tokenizer.vocab)
    for i, token in enumerate(vocab):
        require(
            tokenizer.id_to_token(i) == token and tokenizer.token_to_id(token) == i,
            "id_to_token and token_to_id invert each other over the vocabulary",
            f"{i} <-> {token!r}",
            f"{tokenizer.id_to_token(i)!r}, {tokenizer.token_to_id(token)}",
        )
    require(
        tokenizer.token_to_id(UNSEEN) == UNK_ID,
        "token_to_id of an unseen token is unk_id",
        UNK_ID,
        tokenizer.token_to_id(UNSEEN),
    )
    try:
        token = tokenizer.id_to_token(len(vocab))
    except IndexError:
        return
    raise fail("id_to_token raises IndexError outside [0, len)", "IndexError", repr(token))


def _check_round_trip(
    tokenizer_class: type[Tokenizer], tokenizer: Tokenizer, texts: list[str]
) -> None:
    with tempfile.TemporaryDirectory(prefix="rnn-pipeline-tokenizer-") as name:
        directory = Path(name) / "tokenizer"
        tokenizer.save(directory)
        state = json.loads((directory / TOKENIZER_FILE).read_text(encoding="utf-8"))
        kind = state.pop("kind", None)
        require(kind == tokenizer_class.kind, "save records kind", tokenizer_class.kind, kind)
        loaded = tokenizer_class.from_state(state, directory)
    require(
        loaded.vocab == tokenizer.vocab
        and [loaded.encode(t) for t in texts] == [tokenizer.encode(t) for t in texts],
        "save then from_state gives the same vocabulary and encodings",
        "equal",
        "different",
    )
