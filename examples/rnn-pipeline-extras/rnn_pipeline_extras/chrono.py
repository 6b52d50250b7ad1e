"""Chrono initialisation of LSTM gate biases (Tallec & Ollivier 2018).

Tallec and Ollivier, "Can recurrent neural networks warp time?", ICLR 2018: when the
dependencies to learn span about 1 to ``t_max`` steps, draw the forget-gate bias
``b_f = log(u)``, ``u ~ U(1, t_max - 1)``, and set the input-gate bias ``b_i = -b_f``, so
the cell's characteristic forgetting times spread over that range.
"""

from __future__ import annotations

import torch

GATES = 4
"""Bias blocks of an LSTM in torch's gate order: input i, forget f, cell g, output o."""


def chrono(
    tensor: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    t_max: float = 10.0,
    parts: int = 1,
) -> dict[str, float] | None:
    """Fill a (4H,) LSTM bias [i, f, g, o]: f = log(U(1, t_max - 1)) / parts, i = -f, g = o = 0.

    ``parts``: how many bias vectors the cell adds up. The built-in ``lstm`` (torch's layout)
    adds ``bias_ih`` and ``bias_hh``; with ``parts=2`` each gets half, so their sum follows
    the chrono range. A bias whose size is not a multiple of 4 (e.g. a task head's bias,
    which shares the ``bias`` group) is filled with zeros. 2-D tensors raise ValueError.
    """
    if isinstance(t_max, bool) or not isinstance(t_max, int | float) or not 2 < t_max < 1e12:
        raise ValueError(f"chrono: option 't_max' must be a number > 2, got {t_max!r}")
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
        raise ValueError(f"chrono: option 'parts' must be an int >= 1, got {parts!r}")
    if tensor.dim() != 1:
        raise ValueError(
            f"chrono: initialises 1-D gate biases, got shape {tuple(tensor.shape)}; "
            "use it for the bias group"
        )
    with torch.no_grad():
        tensor.zero_()
        if tensor.numel() == 0 or tensor.numel() % GATES:
            return None
        hidden = tensor.numel() // GATES
        u = torch.empty(hidden, dtype=torch.float64).uniform_(1.0, t_max - 1.0, generator=generator)
        forget = torch.log(u) / parts
        tensor[hidden : 2 * hidden] = forget.to(tensor.dtype)
        tensor[:hidden] = -forget.to(tensor.dtype)
    return None
