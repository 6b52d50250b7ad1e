"""Built-in weight initializers.

Every initializer is a plain function named after its config name::

    def NAME(tensor, *, generator=None, **options) -> dict[str, float] | None

Contract:

* ``tensor`` is filled in place under ``torch.no_grad()``; its shape, dtype and device are
  kept and nothing else is touched. On an error the tensor is left unchanged.
* All randomness comes from ``generator`` (the global RNG when it is ``None``), so the same
  seeded generator always yields the same values.
* Options are explicit keyword-only parameters with defaults: an unknown option makes Python
  raise ``TypeError`` naming the function; an invalid value raises
  ``pipeline.errors.OptionError`` (a ``ValueError``) naming the initializer, the option and
  what is allowed. Checks that need no tensor live in a function attached with
  ``@validated_by``, so the config runs them before any data is read; the initializer calls
  the same function first.
* ``pretrained`` names a ``vocab`` parameter, so the pipeline passes the embedding's tokens.
* 1-D tensors (biases) use ``fan_in = fan_out = numel``; 2-D tensors follow the torch layout
  ``(fan_out, fan_in)``.
* The return value is ``None`` or a small dict of facts worth logging (only ``pretrained``
  returns one).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch

from pipeline.component_options import option_problems, validated_by
from pipeline.errors import OptionError

Facts = dict[str, float]

_SQRT2 = math.sqrt(2.0)


def _number(name: str, option: str, value: object) -> float:
    """Return ``value`` as a finite float or raise an OptionError naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionError(
            f"{name}: option {option!r} must be a number, got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value):
        raise OptionError(f"{name}: option {option!r} must be finite, got {value!r}")
    return float(value)


def _positive(name: str, option: str, value: object) -> float:
    """Return ``value`` as a float > 0 or raise an OptionError naming the option."""
    number = _number(name, option, value)
    if number <= 0:
        raise OptionError(f"{name}: option {option!r} must be > 0, got {value!r}")
    return number


def _check_gain(name: str, gain: object) -> None:
    """The ``gain`` option of the scaled initializers must be a number > 0."""
    _positive(name, "gain", gain)


def _fans(tensor: torch.Tensor) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)``: numel for 0-/1-D tensors, torch layout otherwise.

    For 2-D tensors of shape ``(fan_out, fan_in)``; higher dimensions multiply both by the
    receptive field size as torch does. Fans are at least 1 so empty tensors never divide by 0.
    """
    if tensor.dim() < 2:
        return max(tensor.numel(), 1), max(tensor.numel(), 1)
    receptive = math.prod(tensor.shape[2:])
    return max(tensor.shape[1] * receptive, 1), max(tensor.shape[0] * receptive, 1)


def zeros(tensor: torch.Tensor, *, generator: torch.Generator | None = None) -> Facts | None:
    """Fill with 0 (the usual choice for biases). Uses no randomness."""
    with torch.no_grad():
        tensor.zero_()
    return None


def _check_normal(*, mean: object, std: object) -> None:
    _number("normal", "mean", mean)
    _positive("normal", "std", std)


@validated_by(_check_normal)
def normal(
    tensor: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    mean: float = 0.0,
    std: float = 0.1,
) -> Facts | None:
    """Draw from N(mean, std^2); ``std`` must be > 0."""
    _check_normal(mean=mean, std=std)
    with torch.no_grad():
        tensor.normal_(mean, std, generator=generator)
    return None


def _check_uniform(*, a: object, b: object) -> None:
    if not _number("uniform", "a", a) < _number("uniform", "b", b):
        raise OptionError(f"uniform: options must satisfy a < b, got a={a!r}, b={b!r}")


@validated_by(_check_uniform)
def uniform(
    tensor: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    a: float = -0.1,
    b: float = 0.1,
) -> Facts | None:
    """Draw from U(a, b); requires ``a < b``."""
    _check_uniform(a=a, b=b)
    with torch.no_grad():
        tensor.uniform_(a, b, generator=generator)
    return None


@validated_by(partial(_check_gain, "xavier_uniform"))
def xavier_uniform(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, gain: float = 1.0
) -> Facts | None:
    """Draw from U(-r, r), r = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    _check_gain("xavier_uniform", gain)
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)
    return None


@validated_by(partial(_check_gain, "xavier_normal"))
def xavier_normal(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, gain: float = 1.0
) -> Facts | None:
    """Draw from N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    _check_gain("xavier_normal", gain)
    fan_in, fan_out = _fans(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    with torch.no_grad():
        tensor.normal_(0.0, std, generator=generator)
    return None


@validated_by(partial(_check_gain, "he_uniform"))
def he_uniform(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, gain: float = _SQRT2
) -> Facts | None:
    """Draw from U(-r, r), r = sqrt(3) * gain / sqrt(fan_in) (He et al., 2015, fan_in mode)."""
    _check_gain("he_uniform", gain)
    fan_in, _ = _fans(tensor)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan_in)
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)
    return None


@validated_by(partial(_check_gain, "he_normal"))
def he_normal(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, gain: float = _SQRT2
) -> Facts | None:
    """Draw from N(0, s^2), s = gain / sqrt(fan_in) (He et al., 2015, fan_in mode)."""
    _check_gain("he_normal", gain)
    fan_in, _ = _fans(tensor)
    std = gain / math.sqrt(fan_in)
    with torch.no_grad():
        tensor.normal_(0.0, std, generator=generator)
    return None


def _orthogonal_block(
    rows: int, cols: int, like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Return a Haar-distributed (rows, cols) matrix with orthonormal rows or columns."""
    dtype = like.dtype if like.dtype in (torch.float32, torch.float64) else torch.float32
    tall = (max(rows, cols), min(rows, cols))
    sample = torch.empty(tall, dtype=dtype, device=like.device).normal_(generator=generator)
    q, r = torch.linalg.qr(sample)
    signs = torch.sign(torch.diagonal(r))
    q = q * torch.where(signs == 0, torch.ones_like(signs), signs)
    result: torch.Tensor = q if rows >= cols else q.T
    return result


def _check_orthogonal(*, gain: object, blocks: object) -> None:
    _check_gain("orthogonal", gain)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise OptionError(f"orthogonal: option 'blocks' must be an int >= 1, got {blocks!r}")


@validated_by(_check_orthogonal)
def orthogonal(
    tensor: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    gain: float = 1.0,
    blocks: int = 1,
) -> Facts | None:
    """Fill a 2-D weight with a random (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2014).

    QR of a standard normal matrix with the signs of R's diagonal folded into Q, so the result
    is uniformly (Haar) distributed. Rows are orthonormal when the matrix is wide, columns when
    it is tall. With ``blocks=G`` the rows are split into G equal stacked blocks (e.g. the
    (G*H, H) gate blocks of an LSTM/GRU recurrent weight) and each block is orthogonal.
    """
    _check_orthogonal(gain=gain, blocks=blocks)
    if tensor.dim() != 2:
        raise OptionError(
            f"orthogonal: needs a 2-D tensor, got shape {tuple(tensor.shape)}; "
            "use it for weights, not biases"
        )
    rows, cols = tensor.shape
    if rows % blocks:
        raise OptionError(
            f"orthogonal: option 'blocks'={blocks} does not divide the {rows} rows of a tensor "
            f"of shape {tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        return None
    size = rows // blocks
    parts = [_orthogonal_block(size, cols, tensor, generator) for _ in range(blocks)]
    with torch.no_grad():
        tensor.copy_(torch.cat(parts) * gain)
    return None


def _decode(raw: bytes, path: Path, lineno: int) -> str:
    """Decode one UTF-8 line (dropping a BOM on line 1), naming file and line on failure."""
    try:
        return raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as error:
        raise OptionError(f"pretrained: {path}, line {lineno}: not valid UTF-8 ({error})") from None


def _is_header(parts: list[str]) -> bool:
    """Tell whether a first line is a word2vec ``N D`` header."""
    return len(parts) == 2 and all(part.isdigit() for part in parts)


def _read_vectors(path: Path, wanted: set[str], expected: int) -> dict[str, list[float]]:
    """Stream a word2vec/GloVe text file and keep the vectors of the ``wanted`` words only."""
    found: dict[str, list[float]] = {}
    dim: int | None = None
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            parts = _decode(raw, path, lineno).split()
            if not parts or (lineno == 1 and _is_header(parts)):
                continue
            if dim is None:
                dim = len(parts) - 1
                if dim != expected:
                    raise OptionError(
                        f"pretrained: {path} has vectors of dimension {dim} but the embedding "
                        f"expects {expected}; set model.embedding_size to {dim} or use a "
                        f"{expected}-dimensional file"
                    )
            elif len(parts) - 1 != dim:
                raise OptionError(
                    f"pretrained: {path}, line {lineno}: {len(parts) - 1} values, expected {dim}"
                )
            if parts[0] in wanted and parts[0] not in found:
                try:
                    found[parts[0]] = [float(value) for value in parts[1:]]
                except ValueError:
                    raise OptionError(
                        f"pretrained: {path}, line {lineno}: non-numeric vector value"
                    ) from None
    if dim is None:
        raise OptionError(f"pretrained: {path} contains no vectors")
    return found


def _check_pretrained(
    *, path: object, fallback: object, fallback_options: object, **unchecked: object
) -> None:
    """A path is given and the fallback takes its options.

    Whether the file exists is checked when it is read: a finished run's config (loaded again
    by predict and evaluate) stays valid after its vector file moves.
    """
    if not isinstance(path, str | os.PathLike):
        raise OptionError(f"pretrained: option 'path' must be a file path, got {path!r}")
    if not isinstance(fallback, str) or fallback not in _FALLBACKS:
        raise OptionError(
            f"pretrained: unknown fallback {fallback!r}; allowed: {', '.join(_FALLBACKS)}"
        )
    if fallback_options is not None and not isinstance(fallback_options, dict):
        raise OptionError(
            f"pretrained: fallback_options must be a mapping, got {fallback_options!r}"
        )
    problems = option_problems(
        _FALLBACKS[fallback],
        fallback_options or {},
        key="fallback_options",
        label=f"fallback {fallback!r}",
        positional=1,
        supplied=("generator",),
    )
    if problems:
        raise OptionError(f"pretrained: bad fallback_options: {'; '.join(problems)}")


@validated_by(_check_pretrained)
def pretrained(
    tensor: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    path: str | os.PathLike[str],
    vocab: Sequence[str],
    fallback: str = "normal",
    fallback_options: dict[str, object] | None = None,
    lowercase_fallback: bool = True,
) -> Facts:
    """Load pretrained word vectors into an embedding matrix of shape (V, D).

    Row i gets the vector of ``vocab[i]`` from a word2vec/GloVe text file (``word v1 .. vD``
    per line, optional word2vec ``N D`` header), trying ``vocab[i].lower()`` when the word is
    missing and ``lowercase_fallback`` is set. The whole matrix is first drawn by the
    ``fallback`` initializer of this module, so rows the file lacks keep those values. The
    file is streamed; only vectors of vocabulary words are kept in memory.
    """
    _check_pretrained(path=path, fallback=fallback, fallback_options=fallback_options)
    if tensor.dim() != 2 or tensor.shape[0] != len(vocab):
        raise OptionError(
            f"pretrained: needs a 2-D tensor of shape (len(vocab), D) = ({len(vocab)}, D), "
            f"got {tuple(tensor.shape)}"
        )
    file = Path(path)
    if not file.is_file():
        raise OptionError(f"pretrained: word vector file not found: {file}")
    wanted = set(vocab) | ({word.lower() for word in vocab} if lowercase_fallback else set())
    found = _read_vectors(file, wanted, tensor.shape[1])
    _FALLBACKS[fallback](tensor, generator=generator, **(fallback_options or {}))
    covered = 0
    with torch.no_grad():
        for row, word in enumerate(vocab):
            vector = found.get(word)
            if vector is None and lowercase_fallback:
                vector = found.get(word.lower())
            if vector is not None:
                tensor[row] = torch.tensor(vector, dtype=tensor.dtype, device=tensor.device)
                covered += 1
    vocab_size = len(vocab)
    return {
        "pretrained_covered": covered,
        "pretrained_vocab": vocab_size,
        "pretrained_coverage": covered / vocab_size if vocab_size else 0.0,
    }


_FALLBACKS: dict[str, Callable[..., Facts | None]] = {
    fill.__name__: fill
    for fill in (
        zeros,
        normal,
        uniform,
        xavier_uniform,
        xavier_normal,
        he_uniform,
        he_normal,
        orthogonal,
    )
}
