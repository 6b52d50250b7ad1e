"""Two synthetic long-memory problems, in the formulations of Arjovsky, Shah & Bengio (2016,
"Unitary evolution recurrent neural networks", section 4), and their trivial baselines.

- Adding (after Hochreiter & Schmidhuber 1997): T steps of [value ~ U(0, 1), marker]; one
  marker in the first half, one in the second; the target is the sum of the two marked
  values. Always predicting 1 gives MSE Var(u1 + u2) = 2/12 = 0.167.
- Copy memory: T + 20 symbols: 10 digits from {1..8}, T - 1 blanks (0), the delimiter 9,
  then 10 blanks; the target is T + 10 blanks followed by the 10 digits. A memoryless
  predictor (blanks, then any digit uniformly) has cross-entropy 10 log 8 / (T + 20).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pipeline.errors import UserError

COPY_DIGITS = 10
"""Digits to remember in the copy problem."""
DIGIT_VALUES = 8
"""Digits are 1..8; 0 is the blank and 9 the delimiter."""
BLANK, DELIMITER = 0, 9
COPY_SYMBOLS = 10
"""Input alphabet of the copy problem (one-hot features)."""
COPY_CLASSES = 9
"""Output classes of the copy problem: the blank and the 8 digits."""
ADDING_FORMAT = '"value:marker" pairs separated by spaces, e.g. "0.3:0 0.5:1 0.9:0 0.1:1"'
COPY_FORMAT = f"{COPY_DIGITS} digits from 1 to {DIGIT_VALUES} separated by spaces"


class InputError(UserError, ValueError):
    """A text given to predict that is not in the problem's format."""


def adding_examples(count: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``count`` sequences: inputs (N, T, 2) of [value, marker] and targets (N,)."""
    values = torch.rand(count, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (count,), generator=generator)
    second = torch.randint(half, length, (count,), generator=generator)
    markers = torch.zeros(count, length)
    rows = torch.arange(count)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], 2), (values * markers).sum(1)


def copy_examples(count: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``count`` sequences: input symbols (N, T + 20) and target classes (N, T + 20)."""
    digits = torch.randint(1, DIGIT_VALUES + 1, (count, COPY_DIGITS), generator=generator)
    return copy_inputs(digits, length), copy_targets(digits, length)


def copy_inputs(digits: Tensor, length: int) -> Tensor:
    """(N, 10) digits -> (N, T + 20) symbols: digits, T - 1 blanks, 9, 10 blanks."""
    count = digits.size(0)
    blanks = torch.full((count, length - 1), BLANK, dtype=torch.long)
    delimiter = torch.full((count, 1), DELIMITER, dtype=torch.long)
    tail = torch.full((count, COPY_DIGITS), BLANK, dtype=torch.long)
    return torch.cat([digits, blanks, delimiter, tail], 1)


def copy_targets(digits: Tensor, length: int) -> Tensor:
    """(N, 10) digits -> (N, T + 20) classes: T + 10 blanks, then the digits."""
    blanks = torch.full((digits.size(0), length + COPY_DIGITS), BLANK, dtype=torch.long)
    return torch.cat([blanks, digits], 1)


def baseline_loss(problem: str, length: int) -> float:
    """The trivial baseline's expected loss: MSE of predicting 1, or memoryless cross-entropy."""
    if problem == "adding":
        return 2 / 12
    return COPY_DIGITS * math.log(DIGIT_VALUES) / (length + 2 * COPY_DIGITS)


def parse_adding(text: str) -> Tensor:
    """'0.3:0 0.5:1 ...' -> (T, 2); InputError naming the format on anything else."""
    try:
        pairs = [tuple(float(x) for x in item.split(":")) for item in text.split()]
    except ValueError:
        pairs = []
    if not pairs or any(len(pair) != 2 or pair[1] not in (0.0, 1.0) for pair in pairs):
        raise InputError(f"adding: cannot read {text!r}; expected {ADDING_FORMAT}")
    if sum(pair[1] for pair in pairs) != 2:
        raise InputError(f"adding: {text!r} must mark exactly two values with ':1'")
    return torch.tensor(pairs)


def parse_copy(text: str) -> Tensor:
    """'3 1 4 1 5 2 6 5 3 5' -> (10,) digits; InputError naming the format on anything else."""
    items = text.split()
    if len(items) != COPY_DIGITS or not all(
        item.isdigit() and 1 <= int(item) <= DIGIT_VALUES for item in items
    ):
        raise InputError(f"copy: cannot read {text!r}; expected {COPY_FORMAT}")
    return torch.tensor([int(item) for item in items])
