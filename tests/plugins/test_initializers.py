"""Behaviour tests for the built-in weight initializers."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pipeline.errors import OptionError
from plugins import initializers as init

RANDOM = [
    init.normal,
    init.uniform,
    init.xavier_uniform,
    init.xavier_normal,
    init.he_uniform,
    init.he_normal,
    init.orthogonal,
]
ALL = [init.zeros, *RANDOM]
Fill = Callable[..., object]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def filled(fill: Fill, *shape: int, seed: int = 0, **options: object) -> torch.Tensor:
    tensor = torch.empty(*shape)
    assert fill(tensor, generator=gen(seed), **options) is None
    return tensor


# --- uniform families -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fill", "options", "bound"),
    [
        (init.uniform, {}, 0.1),
        (init.xavier_uniform, {}, math.sqrt(6 / (400 + 300))),
        (init.xavier_uniform, {"gain": 2.0}, 2 * math.sqrt(6 / (400 + 300))),
        (init.he_uniform, {}, math.sqrt(3) * math.sqrt(2) / math.sqrt(400)),
        (init.he_uniform, {"gain": 1.0}, math.sqrt(3) / math.sqrt(400)),
    ],
)
def test_uniform_families_stay_within_and_reach_bound(
    fill: Fill, options: dict[str, float], bound: float
) -> None:
    w = filled(fill, 300, 400, **options)  # (fan_out, fan_in)
    assert w.abs().max() <= bound
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound


def test_uniform_custom_interval() -> None:
    w = filled(init.uniform, 10_000, a=2.0, b=3.0)
    assert w.min() >= 2.0 and w.max() <= 3.0
    assert w.mean().item() == pytest.approx(2.5, abs=0.02)


# --- normal families --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fill", "options", "mean", "std"),
    [
        (init.normal, {}, 0.0, 0.1),
        (init.normal, {"mean": 1.5, "std": 0.5}, 1.5, 0.5),
        (init.xavier_normal, {}, 0.0, math.sqrt(2 / (400 + 300))),
        (init.he_normal, {}, 0.0, math.sqrt(2) / math.sqrt(400)),
        (init.he_normal, {"gain": 1.0}, 0.0, 1 / math.sqrt(400)),
    ],
)
def test_normal_families_statistics(
    fill: Fill, options: dict[str, float], mean: float, std: float
) -> None:
    w = filled(fill, 300, 400, **options)
    assert w.mean().item() == pytest.approx(mean, abs=0.02 * std + 1e-6)
    assert w.std().item() == pytest.approx(std, rel=0.02)


def test_bias_fans_use_numel() -> None:
    b = filled(init.he_uniform, 10_000)
    bound = math.sqrt(3) * math.sqrt(2) / math.sqrt(10_000)
    assert b.abs().max() <= bound and b.abs().max() > 0.99 * bound
    b = filled(init.xavier_normal, 10_000)
    assert b.std().item() == pytest.approx(math.sqrt(2 / 20_000), rel=0.05)


def test_zeros() -> None:
    w = torch.randn(7, 5)
    init.zeros(w)
    assert torch.equal(w, torch.zeros(7, 5))


# --- orthogonal -------------------------------------------------------------------------------


def test_orthogonal_square() -> None:
    w = filled(init.orthogonal, 64, 64)
    assert torch.allclose(w @ w.T, torch.eye(64), atol=1e-5)
    assert torch.allclose(w.T @ w, torch.eye(64), atol=1e-5)


def test_orthogonal_gain() -> None:
    w = filled(init.orthogonal, 32, 32, gain=3.0)
    assert torch.allclose(w @ w.T, 9 * torch.eye(32), atol=1e-4)


def test_orthogonal_rectangular() -> None:
    wide = filled(init.orthogonal, 10, 30)
    assert torch.allclose(wide @ wide.T, torch.eye(10), atol=1e-5)
    tall = filled(init.orthogonal, 30, 10)
    assert torch.allclose(tall.T @ tall, torch.eye(10), atol=1e-5)


def test_orthogonal_blocks_per_gate() -> None:
    hidden = 16
    w = filled(init.orthogonal, 4 * hidden, hidden, blocks=4)
    for block in w.split(hidden):
        assert torch.allclose(block @ block.T, torch.eye(hidden), atol=1e-5)
    whole = filled(init.orthogonal, 4 * hidden, hidden)
    for block in whole.split(hidden):  # without blocks only the columns are orthonormal
        assert not torch.allclose(block @ block.T, torch.eye(hidden), atol=1e-2)


def test_orthogonal_rejects_biases_and_bad_blocks() -> None:
    with pytest.raises(OptionError, match=r"orthogonal.*2-D.*bias"):
        init.orthogonal(torch.empty(8))
    with pytest.raises(OptionError, match=r"orthogonal.*blocks"):
        init.orthogonal(torch.empty(10, 4), blocks=3)
    with pytest.raises(OptionError, match=r"orthogonal.*blocks"):
        init.orthogonal(torch.empty(8, 4), blocks=0)


# --- contract shared by all -------------------------------------------------------------------


@pytest.mark.parametrize("fill", RANDOM, ids=lambda f: f.__name__)
def test_seed_reproducibility(fill: Fill) -> None:
    assert torch.equal(filled(fill, 12, 6, seed=1), filled(fill, 12, 6, seed=1))
    assert not torch.equal(filled(fill, 12, 6, seed=1), filled(fill, 12, 6, seed=2))


@pytest.mark.parametrize("fill", RANDOM, ids=lambda f: f.__name__)
def test_only_given_generator_is_used(fill: Fill) -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    filled(fill, 12, 6)
    assert torch.equal(torch.rand(3), expected)  # the global RNG was not advanced


@pytest.mark.parametrize("fill", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_in_place_keeps_shape_and_dtype(fill: Fill, dtype: torch.dtype) -> None:
    param = torch.nn.Parameter(torch.full((8, 4), float("nan"), dtype=dtype))
    ptr = param.data_ptr()
    fill(param, generator=gen())
    assert param.data_ptr() == ptr
    assert param.shape == (8, 4) and param.dtype == dtype and param.requires_grad
    assert torch.isfinite(param).all()
    assert param.grad is None


@pytest.mark.parametrize(
    "fill", [f for f in ALL if f is not init.orthogonal], ids=lambda f: f.__name__
)
def test_one_dimensional_tensors(fill: Fill) -> None:
    bias = torch.full((32,), float("nan"))
    fill(bias, generator=gen())
    assert bias.shape == (32,) and torch.isfinite(bias).all()


INVALID = [
    (init.normal, {"std": 0.0}, r"normal.*'std'"),
    (init.normal, {"std": -1.0}, r"normal.*'std'"),
    (init.normal, {"std": "1e-3"}, r"normal.*'std'.*number"),
    (init.normal, {"mean": float("nan")}, r"normal.*'mean'"),
    (init.uniform, {"a": 0.5, "b": 0.5}, r"uniform.*a < b"),
    (init.uniform, {"a": 1.0, "b": -1.0}, r"uniform.*a < b"),
    (init.xavier_uniform, {"gain": 0}, r"xavier_uniform.*'gain'"),
    (init.xavier_normal, {"gain": True}, r"xavier_normal.*'gain'"),
    (init.he_uniform, {"gain": -2.0}, r"he_uniform.*'gain'"),
    (init.he_normal, {"gain": None}, r"he_normal.*'gain'"),
    (init.orthogonal, {"blocks": 1.5}, r"orthogonal.*'blocks'"),
]


@pytest.mark.parametrize(("fill", "options", "pattern"), INVALID)
def test_invalid_option_values(fill: Fill, options: dict[str, object], pattern: str) -> None:
    w = torch.zeros(8, 4)
    with pytest.raises(OptionError, match=pattern):
        fill(w, generator=gen(), **options)
    assert torch.equal(w, torch.zeros(8, 4))


@pytest.mark.parametrize(("fill", "options", "pattern"), INVALID)
def test_the_same_checks_run_without_a_tensor(
    fill: Fill, options: dict[str, object], pattern: str
) -> None:
    """``validate_options`` (what the config runs before any data is read) agrees with a call."""
    defaults = {
        name: p.default
        for name, p in inspect.signature(fill).parameters.items()
        if p.kind is p.KEYWORD_ONLY and name != "generator"
    }
    fill.validate_options(**defaults)  # the defaults are valid
    with pytest.raises(OptionError, match=pattern):
        fill.validate_options(**{**defaults, **options})


@pytest.mark.parametrize("fill", ALL, ids=lambda f: f.__name__)
def test_unknown_option_is_rejected(fill: Fill) -> None:
    with pytest.raises(TypeError, match=rf"{fill.__name__}.*'bound'"):
        fill(torch.empty(8, 4), generator=gen(), bound=1.0)


def test_embedding_lookup_equals_one_hot_times_matrix() -> None:
    vocab_size, dim = 50, 8
    emb = torch.empty(vocab_size, dim)
    init.uniform(emb, generator=gen(), a=-1.0, b=1.0)
    ids = torch.tensor([[3, 0, 49], [7, 7, 12]])
    looked_up = F.embedding(ids, emb)
    assert torch.allclose(looked_up, F.one_hot(ids, vocab_size).float() @ emb)


# --- pretrained -------------------------------------------------------------------------------

VECTORS = {
    "the": [0.1, 0.2, 0.3],
    "cat": [1.0, -1.0, 0.5],
    "paris": [2.0, 3.0, 4.0],
    "Sat": [-0.5, 0.25, 1e-3],
}


def write_vectors(path: Path, header: bool = False, vectors: dict | None = None) -> Path:
    vectors = VECTORS if vectors is None else vectors
    lines = [f"{len(vectors)} 3"] if header else []
    lines += [f"{word} {' '.join(map(str, vec))}" for word, vec in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def expected_fallback(shape: tuple[int, int], name: str = "normal", **options: object):
    tensor = torch.empty(shape)
    init._FALLBACKS[name](tensor, generator=gen(), **options)
    return tensor


@pytest.mark.parametrize("header", [False, True], ids=["glove", "word2vec"])
def test_pretrained_fills_covered_rows_and_falls_back(tmp_path: Path, header: bool) -> None:
    path = write_vectors(tmp_path / "vectors.txt", header=header)
    vocab = ["<pad>", "the", "cat", "dog", "Paris", "Sat"]
    emb = torch.empty(len(vocab), 3)
    facts = init.pretrained(emb, generator=gen(), path=str(path), vocab=vocab)

    fallback = expected_fallback((len(vocab), 3))
    for row, word in [(1, "the"), (2, "cat"), (4, "paris"), (5, "Sat")]:
        assert torch.equal(emb[row], torch.tensor(VECTORS[word])), word
    for row in (0, 3):
        assert torch.equal(emb[row], fallback[row])
    assert facts == {
        "pretrained_covered": 4,
        "pretrained_vocab": 6,
        "pretrained_coverage": pytest.approx(4 / 6),
    }


def test_pretrained_exact_case_wins_and_lowercase_can_be_disabled(tmp_path: Path) -> None:
    path = write_vectors(tmp_path / "v.txt", vectors={**VECTORS, "Cat": [9.0, 9.0, 9.0]})
    vocab = ["Cat", "CAT", "Paris"]
    emb = torch.empty(3, 3)
    facts = init.pretrained(emb, generator=gen(), path=path, vocab=vocab)
    assert torch.equal(emb[0], torch.tensor([9.0, 9.0, 9.0]))
    assert torch.equal(emb[1], torch.tensor(VECTORS["cat"]))
    assert facts["pretrained_covered"] == 3

    emb = torch.empty(3, 3)
    facts = init.pretrained(emb, generator=gen(), path=path, vocab=vocab, lowercase_fallback=False)
    assert torch.equal(emb[0], torch.tensor([9.0, 9.0, 9.0]))
    assert torch.equal(emb[1:], expected_fallback((3, 3))[1:])
    assert facts["pretrained_covered"] == 1


def test_pretrained_fallback_options(tmp_path: Path) -> None:
    path = write_vectors(tmp_path / "v.txt")
    emb = torch.empty(2, 3)
    init.pretrained(
        emb,
        generator=gen(),
        path=path,
        vocab=["the", "unknown"],
        fallback="uniform",
        fallback_options={"a": 5.0, "b": 6.0},
    )
    assert torch.equal(emb[0], torch.tensor(VECTORS["the"]))
    assert ((emb[1] >= 5.0) & (emb[1] <= 6.0)).all()

    with pytest.raises(OptionError, match=r"pretrained.*fallback.*'nope'"):
        init.pretrained(emb, path=path, vocab=["the", "x"], fallback="nope")
    with pytest.raises(OptionError, match=r"pretrained.*fallback_options.*'normal'.*std"):
        init.pretrained(emb, path=path, vocab=["the", "x"], fallback_options={"bound": 1})
    with pytest.raises(OptionError, match=r"pretrained.*fallback_options.*a < b"):
        init.pretrained(
            emb, path=path, vocab=["the", "x"], fallback="uniform", fallback_options={"a": 1.0}
        )


def test_pretrained_dimension_mismatch_names_file_and_config_key(tmp_path: Path) -> None:
    path = write_vectors(tmp_path / "glove.50d.txt")
    emb = torch.zeros(2, 5)
    pattern = r"glove\.50d\.txt.*dimension 3.*5.*model\.embedding_size"
    with pytest.raises(OptionError, match=pattern):
        init.pretrained(emb, path=path, vocab=["the", "cat"])
    assert torch.equal(emb, torch.zeros(2, 5))


def test_pretrained_ragged_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("the 1 2 3\ncat 1 2\n", encoding="utf-8")
    with pytest.raises(OptionError, match=r"bad\.txt, line 2"):
        init.pretrained(torch.empty(1, 3), path=path, vocab=["the"])


def test_pretrained_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.vec"
    with pytest.raises(OptionError, match="nowhere.vec"):
        init.pretrained(torch.empty(1, 3), path=missing, vocab=["the"])


def test_pretrained_shape_must_match_vocab(tmp_path: Path) -> None:
    path = write_vectors(tmp_path / "v.txt")
    with pytest.raises(OptionError, match=r"pretrained.*len\(vocab\)"):
        init.pretrained(torch.empty(3, 3), path=path, vocab=["the"])
