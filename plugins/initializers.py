"""Built-in weight initializers.

Every initializer is a plain function named after its config name::

    def NAME(tensor, *, generator=None, **options) -> dict[str, float] | None

Contract:

* ``tensor`` is filled in place under ``torch.no_grad()``; its shape, dtype and device are
  kept and nothing else is touched. On an error the tensor is left unchanged.
* All randomness comes from ``generator`` (the global RNG when it is ``None``), so the same
  seeded generator always yields the same values.
* Options are explicit keyword-only parameters with defaults: an unknown option makes Python
  raise ``TypeError`` naming the function; an invalid value raises ``ValueError`` naming the
  initializer, the option and what is allowed.
* 1-D tensors (biases) use ``fan_in = fan_out = numel``; 2-D tensors follow the torch layout
  ``(fan_out, fan_in)``.
* The return value is ``None`` or a small dict of facts worth logging (only ``pretrained``
  returns one).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

Facts = dict[str, float]

_SQRT2 = math.sqrt(2.0)


def _number(name: str, option: str, value: object) -> float:
    """Return ``value`` as a finite float or raise a ValueError naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"{name}: option {option!r} must be a number, got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value):
        raise ValueError(f"{name}: option {option!r} must be finite, got {value!r}")
    return float(value)


def _positive(name: str, option: str, value: object) -> float:
    """Return ``value`` as a float > 0 or raise a ValueError naming the option."""
    number = _number(name, option, value)
    if number <= 0:
        raise ValueError(f"{name}: option {option!r} must be > 0, got {value!r}")
    return number


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


def normal(
    tensor: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    mean: float = 0.0,
    std: float = 0.1,
) -> Facts | None:
    """Draw from N(mean, std^2); ``std`` must be > 0."""
    mean = _number("normal", "mean", mean)
    std = _positive("normal", "std", std)
    with torch.no_grad():
        tensor.normal_(mean, std, generator=generator)
    return None


def uniform(
    tensor: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    a: float = -0.1,
    b: float = 0.1,
) -> Facts | None:
    """Draw from U(a, b); requires ``a < b``."""
    a = _number("uniform", "a", a)
    b = _number("uniform", "b", b)
    if not a < b:
        raise ValueError(f"uniform: options must satisfy a < b, got a={a!r}, b={b!r}")
    with torch.no_grad():
        tensor.uniform_(a, b, generator=generator)
    return None


def xavier_uniform(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, gain: float = 1.0
) -> Facts | None:
    """Draw from U(-r, r), r = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    gain = _positive("xavier_uniform", "gain", gain)
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)
    return None


def xavier_normal(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, gain: float = 1.0
) -> Facts | None:
    """Draw from N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    gain = _positive("xavier_normal", "gain", gain)
    fan_in, fan_out = _fans(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    with torch.no_grad():
        tensor.normal_(0.0, std, generator=generator)
    return None


def he_uniform(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, gain: float = _SQRT2
) -> Facts | None:
    """Draw from U(-r, r), r = sqrt(3) * gain / sqrt(fan_in) (He et al., 2015, fan_in mode)."""
    gain = _positive("he_uniform", "gain", gain)
    fan_in, _ = _fans(tensor)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan_in)
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)
    return None


def he_normal(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, gain: float = _SQRT2
) -> Facts | None:
    """Draw from N(0, s^2), s = gain / sqrt(fan_in) (He et al., 2015, fan_in mode)."""
    gain = _positive("he_normal", "gain", gain)
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
    return q if rows >= cols else q.T


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
    gain = _positive("orthogonal", "gain", gain)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"orthogonal: option 'blocks' must be an int >= 1, got {blocks!r}")
    if tensor.dim() != 2:
        raise ValueError(
            f"orthogonal: needs a 2-D tensor, got shape {tuple(tensor.shape)}; "
            "use it for weights, not biases"
        )
    rows, cols = tensor.shape
    if rows % blocks:
        raise ValueError(
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
        raise ValueError(f"pretrained: {path}, line {lineno}: not valid UTF-8 ({error})") from None


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
                    raise ValueError(
                        f"pretrained: {path} has vectors of dimension {dim} but the embedding "
                        f"expects {expected}; set model.embedding_size to {dim} or use a "
                        f"{expected}-dimensional file"
                    )
            elif len(parts) - 1 != dim:
                raise ValueError(
                    f"pretrained: {path}, line {lineno}: {len(parts) - 1} values, expected {dim}"
                )
            if parts[0] in wanted and parts[0] not in found:
                try:
                    found[parts[0]] = [float(value) for value in parts[1:]]
                except ValueError:
                    raise ValueError(
                        f"pretrained: {path}, line {lineno}: non-numeric vector value"
                    ) from None
    if dim is None:
        raise ValueError(f"pretrained: {path} contains no vectors")
    return found


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
    if fallback not in _FALLBACKS:
        raise ValueError(
            f"pretrained: unknown fallback {fallback!r}; allowed: {', '.join(_FALLBACKS)}"
        )
    if tensor.dim() != 2 or tensor.shape[0] != len(vocab):
        raise ValueError(
            f"pretrained: needs a 2-D tensor of shape (len(vocab), D) = ({len(vocab)}, D), "
            f"got {tuple(tensor.shape)}"
        )
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"pretrained: word vector file not found: {file}")
    wanted = set(vocab) | ({word.lower() for word in vocab} if lowercase_fallback else set())
    found = _read_vectors(file, wanted, tensor.shape[1])

    try:
        _FALLBACKS[fallback](tensor, generator=generator, **(fallback_options or {}))
    except TypeError as error:
        raise ValueError(f"pretrained: bad fallback_options for {fallback!r}: {error}") from None
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
