"""``check_cell``: a cell against the Cell contract, run through the core's recurrent runner."""

from __future__ import annotations

import copy
import io
import warnings
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from pipeline.interfaces import Cell, CellFactory
from pipeline.testing.clauses import Notes, close, fail, largest, max_diff, require

if TYPE_CHECKING:
    from pipeline.recurrent import RecurrentEncoder

__all__ = ["check_cell"]


def check_cell(
    cell_factory: CellFactory,
    *,
    input_size: int = 3,
    hidden_size: int = 4,
    seed: int = 0,
    compile: bool = True,
    atol: float = 1e-5,
) -> Notes:
    """Check a cell against the Cell contract of :mod:`pipeline.interfaces`.

    ``cell_factory(input_size, hidden_size) -> Cell``: the class itself, or a
    ``functools.partial`` binding its options. Checked: state and output shapes for batch 1
    and many, one and two directions, one and two layers (eager runner, and the fused runner
    when the cell has a ``fused_mode``, which must agree with the step path); padded batches
    (outputs zero at padding, final state at each length equals the unpadded run); detached
    state and ``.to(dtype)`` (and to CUDA when available); gradients reach every parameter;
    construction and outputs are deterministic under a seed; a ``state_dict`` save/load
    round trip; and, with ``compile=True``, the ``torch.compile``'d runner agrees
    with eager or the note says why it fell back to the eager loop.
    """
    with torch.random.fork_rng(devices=[]):  # seeds the checks, not the caller's RNG
        return _check_cell(cell_factory, input_size, hidden_size, seed, compile, atol)


def _check_cell(
    cell_factory: CellFactory,
    input_size: int,
    hidden_size: int,
    seed: int,
    compile: bool,
    atol: float,
) -> Notes:
    notes: Notes = []
    _check_single_step(cell_factory, input_size, hidden_size, seed)
    _check_encoder_shapes(cell_factory, input_size, hidden_size, seed, "eager")
    fused = cell_factory(input_size, hidden_size).fused_mode is not None
    if fused:
        _check_encoder_shapes(cell_factory, input_size, hidden_size, seed, "fused")
        _check_fused_agrees(cell_factory, input_size, hidden_size, seed, atol)
    else:
        notes.append("no fused_mode: fused runner not checked")
    _check_padding(cell_factory, input_size, hidden_size, seed, atol, "eager")
    if fused:
        _check_padding(cell_factory, input_size, hidden_size, seed, atol, "fused")
    notes += _check_state_moves(cell_factory, input_size, hidden_size, seed)
    _check_gradients(cell_factory, input_size, hidden_size, seed)
    _check_determinism(cell_factory, input_size, hidden_size, seed)
    _check_state_dict(cell_factory, input_size, hidden_size, seed, atol)
    if compile:
        notes += _check_compiled(cell_factory, input_size, hidden_size, seed, atol)
    else:
        notes.append("compile=False: compiled runner not checked")
    return notes


def _encoder(
    factory: CellFactory, d: int, h: int, seed: int, runner: str = "eager", **kw: Any
) -> RecurrentEncoder:
    from pipeline.recurrent import RecurrentEncoder

    torch.manual_seed(seed)
    return RecurrentEncoder(factory, d, h, runner=runner, **kw)


def _inputs(batch: int, steps: int, d: int, seed: int) -> Tensor:
    return torch.randn(batch, steps, d, generator=torch.Generator().manual_seed(seed + 1))


def _check_state(state: Any, size: int, shape: tuple[int, ...], clause: str) -> None:
    require(
        isinstance(state, list | tuple) and len(state) == size,
        f"{clause}: the state is a list of state_size={size} tensors",
        f"list of {size}",
        f"{type(state).__name__} of {len(state) if hasattr(state, '__len__') else '?'}",
    )
    for k, tensor in enumerate(state):
        require(
            isinstance(tensor, Tensor) and tuple(tensor.shape) == shape,
            f"{clause}: state[{k}] has shape {shape}",
            shape,
            tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__,
        )


def _check_single_step(factory: CellFactory, d: int, h: int, seed: int) -> None:
    torch.manual_seed(seed)
    cell = factory(d, h)
    require(isinstance(cell, Cell), "the factory returns a pipeline.interfaces.Cell", "Cell", cell)
    for batch in (1, 5):
        state = cell.init_state(batch)
        _check_state(state, cell.state_size, (batch, h), "init_state(B)")
        out, new_state = cell(torch.randn(batch, d), state)
        require(
            tuple(out.shape) == (batch, h),
            "forward(x_t (B, D), state) -> h_t (B, H)",
            (batch, h),
            tuple(out.shape),
        )
        _check_state(new_state, cell.state_size, (batch, h), "forward returns the new state")
        require(
            torch.equal(new_state[0], out), "state[0] is the hidden state h_t", "equal", "differs"
        )


def _check_encoder_shapes(factory: CellFactory, d: int, h: int, seed: int, runner: str) -> None:
    for layers in (1, 2):
        for bidirectional in (False, True):
            encoder = _encoder(
                factory, d, h, seed, runner, num_layers=layers, bidirectional=bidirectional
            )
            dirs = 2 if bidirectional else 1
            for batch in (1, 3):
                where = (
                    f"runner={runner}, layers={layers}, bidirectional={bidirectional}, B={batch}"
                )
                out, state = encoder(_inputs(batch, 5, d, seed))
                require(
                    tuple(out.shape) == (batch, 5, dirs * h),
                    f"encoder output is (B, T, dirs*H) [{where}]",
                    (batch, 5, dirs * h),
                    tuple(out.shape),
                )
                _check_state(
                    state,
                    encoder.state_size,
                    (layers * dirs, batch, h),
                    f"encoder state is state_size x (L*dirs, B, H) [{where}]",
                )


def _check_fused_agrees(factory: CellFactory, d: int, h: int, seed: int, atol: float) -> None:
    for layers, bidirectional in ((1, False), (2, True)):
        eager = _encoder(
            factory, d, h, seed, "eager", num_layers=layers, bidirectional=bidirectional
        )
        fused = _encoder(
            factory, d, h, seed, "fused", num_layers=layers, bidirectional=bidirectional
        )
        fused.load_state_dict(eager.state_dict())
        x = _inputs(3, 6, d, seed)
        (out_e, state_e), (out_f, state_f) = eager(x), fused(x)
        clause = (
            f"the fused path ({factory(d, h).fused_mode}) agrees with step() "
            f"[layers={layers}, bidirectional={bidirectional}]"
        )
        require(close(out_e, out_f, atol), clause + ": outputs", "equal", max_diff(out_e, out_f))
        for k, (a, b) in enumerate(zip(state_e, state_f, strict=True)):
            require(close(a, b, atol), f"{clause}: state[{k}]", "equal", max_diff(a, b))


def _check_padding(
    factory: CellFactory, d: int, h: int, seed: int, atol: float, runner: str
) -> None:
    for bidirectional in (False, True):
        encoder = _encoder(factory, d, h, seed, runner, bidirectional=bidirectional)
        x, lengths = _inputs(3, 6, d, seed), torch.tensor([6, 4, 1])
        where = f"[runner={runner}, bidirectional={bidirectional}]"
        with torch.no_grad():
            out, state = encoder(x, lengths)
            for b, length in enumerate(lengths.tolist()):
                pad = out[b, length:]
                require(
                    bool((pad == 0).all()),
                    f"outputs at padded positions are zero {where}",
                    "zeros",
                    f"max |value| {largest(pad):.3g} in sequence {b}",
                )
                alone, alone_state = encoder(x[b : b + 1, :length])
                require(
                    close(out[b : b + 1, :length], alone, atol),
                    f"outputs of a padded sequence equal its unpadded run {where}",
                    "equal",
                    max_diff(out[b : b + 1, :length], alone),
                )
                for k, (a, s) in enumerate(zip(state, alone_state, strict=True)):
                    require(
                        close(a[:, b], s[:, 0], atol),
                        f"final state[{k}] at each length equals the unpadded run {where}",
                        "equal",
                        max_diff(a[:, b], s[:, 0]),
                    )


def _check_state_moves(factory: CellFactory, d: int, h: int, seed: int) -> Notes:
    encoder = _encoder(factory, d, h, seed)
    x = _inputs(2, 4, d, seed)
    _, state = encoder(x)
    detached = [s.detach() for s in state]
    require(
        not any(s.requires_grad for s in detached), "state tensors can be detached", False, True
    )
    out, _ = encoder(x, state=detached)  # carrying a detached state on, as an LM does
    require(out.requires_grad, "a detached state can be carried into the next batch", True, False)
    cell = factory(d, h)
    state64 = cell.init_state(2, dtype=torch.float64)
    require(
        all(s.dtype == torch.float64 for s in state64),
        "init_state(B, device, dtype) honours dtype",
        torch.float64,
        [s.dtype for s in state64],
    )
    encoder64 = copy.deepcopy(encoder).to(torch.float64)
    out64, state64 = encoder64(x.double(), state=[s.double() for s in detached])
    require(
        out64.dtype == torch.float64 and all(s.dtype == torch.float64 for s in state64),
        ".to(torch.float64) moves the cell: outputs and state in float64",
        torch.float64,
        [out64.dtype, *(s.dtype for s in state64)],
    )
    if not torch.cuda.is_available():
        return ["no CUDA device: .to(device) checked for dtype only"]
    cuda = torch.device("cuda")
    out_c, state_c = copy.deepcopy(encoder).to(cuda)(x.to(cuda), state=[s.to(cuda) for s in state])
    require(
        out_c.device.type == "cuda" and all(s.device.type == "cuda" for s in state_c),
        ".to('cuda') moves the cell: outputs and state on the device",
        "cuda",
        [out_c.device, *(s.device for s in state_c)],
    )
    return []


def _check_gradients(factory: CellFactory, d: int, h: int, seed: int) -> None:
    encoder = _encoder(factory, d, h, seed, num_layers=2, bidirectional=True)
    out, state = encoder(_inputs(3, 5, d, seed), torch.tensor([5, 3, 2]))
    (out.pow(2).sum() + sum(s.pow(2).sum() for s in state)).backward()
    for name, parameter in encoder.named_parameters():
        grad = parameter.grad
        require(
            grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0),
            f"gradients reach every parameter ({name})",
            "a finite, non-zero gradient",
            "None" if grad is None else f"gradient with |sum| {float(grad.abs().sum()):.3g}",
        )


def _check_determinism(factory: CellFactory, d: int, h: int, seed: int) -> None:
    first, second = _encoder(factory, d, h, seed), _encoder(factory, d, h, seed)
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        require(
            torch.equal(a, b),
            f"construction is deterministic under a seed ({name})",
            "equal values",
            max_diff(a, b),
        )
    x = _inputs(2, 4, d, seed)
    out_a, out_b = first(x)[0], second(x)[0]
    require(
        torch.equal(out_a, out_b),
        "outputs are deterministic under a seed",
        "equal",
        max_diff(out_a, out_b),
    )


def _check_state_dict(factory: CellFactory, d: int, h: int, seed: int, atol: float) -> None:
    source = _encoder(factory, d, h, seed)
    target = _encoder(factory, d, h, seed + 100)
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    try:
        target.load_state_dict(torch.load(buffer, weights_only=True))
    except Exception as error:
        raise fail("a state_dict save/load round trip works", "loads", repr(error)) from error
    x = _inputs(2, 4, d, seed)
    a, b = source(x)[0], target(x)[0]
    require(
        close(a, b, atol),
        "a state_dict round trip restores the same function",
        "equal",
        max_diff(a, b),
    )


def _check_compiled(factory: CellFactory, d: int, h: int, seed: int, atol: float) -> Notes:
    eager = _encoder(factory, d, h, seed)
    compiled = _encoder(factory, d, h, seed, "compiled")
    compiled.load_state_dict(eager.state_dict())
    x = _inputs(2, 3, d, seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out_c, _ = compiled(x)
    out_e, _ = eager(x)
    require(
        close(out_e, out_c, atol),
        "the compiled runner computes the same as the eager one",
        "equal",
        max_diff(out_e, out_c),
    )
    fallback = [str(w.message) for w in caught if "torch.compile failed" in str(w.message)]
    if fallback:
        return [f"compiled runner unavailable, the eager loop will be used: {fallback[0]}"]
    return []
