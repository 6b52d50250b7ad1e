"""Conformance checks for plugin authors: run them in your own test suite.

Public and stable::

    from pipeline.testing import check_cell, check_initializer, check_task

    def test_my_cell():
        check_cell(MyCell)                      # or functools.partial(MyCell, option=...)

    def test_my_initializer():
        check_initializer(my_init, options={"scale": 2.0})

    def test_my_task(tmp_path):
        check_task(MyTask, cfg, texts=["some raw input"])

Each check runs the component the way the pipeline does (through
:class:`pipeline.recurrent.RecurrentEncoder`, :func:`pipeline.initialization.initialize`'s
calling convention, and the task life cycle of ``train``/``predict``) and raises one
``AssertionError`` that names the contract clause broken, with the expected and actual values.
On success each returns a list of notes (things it could not check and why).

Importing this module imports torch but not Lightning or MLflow; heavier imports happen
inside the checks that need them.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import hashlib
import io
import json
import math
import pickle
import socket
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from pipeline.interfaces import Cell, DataFacts, StepResult, Task

if TYPE_CHECKING:
    from pipeline.config import Config
    from pipeline.plugins import Registries

__all__ = ["check_cell", "check_initializer", "check_task"]

Notes = list[str]


def _fail(clause: str, expected: Any, actual: Any) -> AssertionError:
    return AssertionError(
        f"contract clause broken: {clause}\n  expected: {expected}\n  actual: {actual}"
    )


def _require(ok: bool, clause: str, expected: Any, actual: Any) -> None:
    if not ok:
        raise _fail(clause, expected, actual)


def _close(a: Tensor, b: Tensor, atol: float) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=atol, rtol=atol)


def _max_diff(a: Tensor, b: Tensor) -> str:
    if a.shape != b.shape:
        return f"shapes {tuple(a.shape)} vs {tuple(b.shape)}"
    return f"max |difference| {_largest(a - b):.3g}"


def _largest(t: Tensor) -> float:
    """Largest absolute value of t (0 for an empty tensor)."""
    return float(t.detach().abs().max()) if t.numel() else 0.0


# ============================================================================= cells


def check_cell(
    cell_factory: Callable[[int, int], Cell],
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
    round trip; and, with ``compile=True`` (about 15 s), the ``torch.compile``'d runner agrees
    with eager or the note says why it fell back to the eager loop.
    """
    with torch.random.fork_rng(devices=[]):  # seeds the checks, not the caller's RNG
        return _check_cell(cell_factory, input_size, hidden_size, seed, compile, atol)


def _check_cell(
    cell_factory: Callable, input_size: int, hidden_size: int, seed: int, compile: bool, atol: float
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


def _encoder(factory: Callable, d: int, h: int, seed: int, runner: str = "eager", **kw: Any):
    from pipeline.recurrent import RecurrentEncoder

    torch.manual_seed(seed)
    return RecurrentEncoder(factory, d, h, runner=runner, **kw)


def _inputs(batch: int, steps: int, d: int, seed: int) -> Tensor:
    return torch.randn(batch, steps, d, generator=torch.Generator().manual_seed(seed + 1))


def _check_state(state: Any, size: int, shape: tuple[int, ...], clause: str) -> None:
    _require(
        isinstance(state, list | tuple) and len(state) == size,
        f"{clause}: the state is a list of state_size={size} tensors",
        f"list of {size}",
        f"{type(state).__name__} of {len(state) if hasattr(state, '__len__') else '?'}",
    )
    for k, tensor in enumerate(state):
        _require(
            isinstance(tensor, Tensor) and tuple(tensor.shape) == shape,
            f"{clause}: state[{k}] has shape {shape}",
            shape,
            tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__,
        )


def _check_single_step(factory: Callable, d: int, h: int, seed: int) -> None:
    torch.manual_seed(seed)
    cell = factory(d, h)
    _require(isinstance(cell, Cell), "the factory returns a pipeline.interfaces.Cell", "Cell", cell)
    for batch in (1, 5):
        state = cell.init_state(batch)
        _check_state(state, cell.state_size, (batch, h), "init_state(B)")
        out, new_state = cell(torch.randn(batch, d), state)
        _require(
            tuple(out.shape) == (batch, h),
            "forward(x_t (B, D), state) -> h_t (B, H)",
            (batch, h),
            tuple(out.shape),
        )
        _check_state(new_state, cell.state_size, (batch, h), "forward returns the new state")
        _require(
            torch.equal(new_state[0], out), "state[0] is the hidden state h_t", "equal", "differs"
        )


def _check_encoder_shapes(factory: Callable, d: int, h: int, seed: int, runner: str) -> None:
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
                _require(
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


def _check_fused_agrees(factory: Callable, d: int, h: int, seed: int, atol: float) -> None:
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
        _require(_close(out_e, out_f, atol), clause + ": outputs", "equal", _max_diff(out_e, out_f))
        for k, (a, b) in enumerate(zip(state_e, state_f, strict=True)):
            _require(_close(a, b, atol), f"{clause}: state[{k}]", "equal", _max_diff(a, b))


def _check_padding(factory: Callable, d: int, h: int, seed: int, atol: float, runner: str) -> None:
    for bidirectional in (False, True):
        encoder = _encoder(factory, d, h, seed, runner, bidirectional=bidirectional)
        x, lengths = _inputs(3, 6, d, seed), torch.tensor([6, 4, 1])
        where = f"[runner={runner}, bidirectional={bidirectional}]"
        with torch.no_grad():
            out, state = encoder(x, lengths)
            for b, length in enumerate(lengths.tolist()):
                pad = out[b, length:]
                _require(
                    bool((pad == 0).all()),
                    f"outputs at padded positions are zero {where}",
                    "zeros",
                    f"max |value| {_largest(pad):.3g} in sequence {b}",
                )
                alone, alone_state = encoder(x[b : b + 1, :length])
                _require(
                    _close(out[b : b + 1, :length], alone, atol),
                    f"outputs of a padded sequence equal its unpadded run {where}",
                    "equal",
                    _max_diff(out[b : b + 1, :length], alone),
                )
                for k, (a, s) in enumerate(zip(state, alone_state, strict=True)):
                    _require(
                        _close(a[:, b], s[:, 0], atol),
                        f"final state[{k}] at each length equals the unpadded run {where}",
                        "equal",
                        _max_diff(a[:, b], s[:, 0]),
                    )


def _check_state_moves(factory: Callable, d: int, h: int, seed: int) -> Notes:
    encoder = _encoder(factory, d, h, seed)
    x = _inputs(2, 4, d, seed)
    _, state = encoder(x)
    detached = [s.detach() for s in state]
    _require(
        not any(s.requires_grad for s in detached), "state tensors can be detached", False, True
    )
    out, _ = encoder(x, state=detached)  # carrying a detached state on, as an LM does
    _require(out.requires_grad, "a detached state can be carried into the next batch", True, False)
    cell = factory(d, h)
    state64 = cell.init_state(2, dtype=torch.float64)
    _require(
        all(s.dtype == torch.float64 for s in state64),
        "init_state(B, device, dtype) honours dtype",
        torch.float64,
        [s.dtype for s in state64],
    )
    encoder64 = copy.deepcopy(encoder).to(torch.float64)
    out64, state64 = encoder64(x.double(), state=[s.double() for s in detached])
    _require(
        out64.dtype == torch.float64 and all(s.dtype == torch.float64 for s in state64),
        ".to(torch.float64) moves the cell: outputs and state in float64",
        torch.float64,
        [out64.dtype, *(s.dtype for s in state64)],
    )
    if not torch.cuda.is_available():
        return ["no CUDA device: .to(device) checked for dtype only"]
    cuda = torch.device("cuda")
    out_c, state_c = copy.deepcopy(encoder).to(cuda)(x.to(cuda), state=[s.to(cuda) for s in state])
    _require(
        out_c.device.type == "cuda" and all(s.device.type == "cuda" for s in state_c),
        ".to('cuda') moves the cell: outputs and state on the device",
        "cuda",
        [out_c.device, *(s.device for s in state_c)],
    )
    return []


def _check_gradients(factory: Callable, d: int, h: int, seed: int) -> None:
    encoder = _encoder(factory, d, h, seed, num_layers=2, bidirectional=True)
    out, state = encoder(_inputs(3, 5, d, seed), torch.tensor([5, 3, 2]))
    (out.pow(2).sum() + sum(s.pow(2).sum() for s in state)).backward()
    for name, parameter in encoder.named_parameters():
        grad = parameter.grad
        _require(
            grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0),
            f"gradients reach every parameter ({name})",
            "a finite, non-zero gradient",
            "None" if grad is None else f"gradient with |sum| {float(grad.abs().sum()):.3g}",
        )


def _check_determinism(factory: Callable, d: int, h: int, seed: int) -> None:
    first, second = _encoder(factory, d, h, seed), _encoder(factory, d, h, seed)
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        _require(
            torch.equal(a, b),
            f"construction is deterministic under a seed ({name})",
            "equal values",
            _max_diff(a, b),
        )
    x = _inputs(2, 4, d, seed)
    out_a, out_b = first(x)[0], second(x)[0]
    _require(
        torch.equal(out_a, out_b),
        "outputs are deterministic under a seed",
        "equal",
        _max_diff(out_a, out_b),
    )


def _check_state_dict(factory: Callable, d: int, h: int, seed: int, atol: float) -> None:
    source = _encoder(factory, d, h, seed)
    target = _encoder(factory, d, h, seed + 100)
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    try:
        target.load_state_dict(torch.load(buffer, weights_only=True))
    except Exception as error:
        raise _fail("a state_dict save/load round trip works", "loads", repr(error)) from error
    x = _inputs(2, 4, d, seed)
    a, b = source(x)[0], target(x)[0]
    _require(
        _close(a, b, atol),
        "a state_dict round trip restores the same function",
        "equal",
        _max_diff(a, b),
    )


def _check_compiled(factory: Callable, d: int, h: int, seed: int, atol: float) -> Notes:
    eager = _encoder(factory, d, h, seed)
    compiled = _encoder(factory, d, h, seed, "compiled")
    compiled.load_state_dict(eager.state_dict())
    x = _inputs(2, 3, d, seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out_c, _ = compiled(x)
    out_e, _ = eager(x)
    _require(
        _close(out_e, out_c, atol),
        "the compiled runner computes the same as the eager one",
        "equal",
        _max_diff(out_e, out_c),
    )
    fallback = [str(w.message) for w in caught if "torch.compile failed" in str(w.message)]
    if fallback:
        return [f"compiled runner unavailable, the eager loop will be used: {fallback[0]}"]
    return []


# ============================================================================= initializers


def check_initializer(
    fn: Callable[..., Any],
    *,
    options: dict[str, Any] | None = None,
    shapes: Sequence[tuple[int, ...]] = ((16,), (8, 12)),
    seed: int = 0,
) -> Notes:
    """Check an initializer against the Initializer contract of :mod:`pipeline.interfaces`.

    Called as the pipeline does, ``fn(tensor, generator=g, **options)``, on each of ``shapes``
    in float32 and float64. Checked: it fills the tensor in place (no NaN, no untouched
    sentinel values), keeps shape and dtype, returns None or a dict, gives equal values for
    equally seeded generators, draws no numbers from torch's global generator when given one,
    and touches no other tensor. An initializer meant for 2-D weights only may raise
    ValueError for a 1-D tensor: that is accepted and reported in the notes.
    """
    notes: Notes = []
    options = dict(options or {})
    for shape in shapes:
        for dtype in (torch.float32, torch.float64):
            if not _check_fill(fn, options, shape, dtype, seed, notes):
                break
    return notes


def _call(fn: Callable, tensor: Tensor, seed: int, options: dict[str, Any]) -> Any:
    return fn(tensor, generator=torch.Generator().manual_seed(seed), **options)


def _check_fill(
    fn: Callable,
    options: dict[str, Any],
    shape: tuple[int, ...],
    dtype: torch.dtype,
    seed: int,
    notes: Notes,
) -> bool:
    """One shape and dtype; False when a 1-D tensor is declined with ValueError."""
    where = f"[shape {shape}, {dtype}]"
    sentinel = 12345.0
    tensor = torch.full(shape, sentinel, dtype=dtype)
    other = torch.full(shape, sentinel, dtype=dtype)
    pointer, rng = tensor.data_ptr(), torch.get_rng_state()
    try:
        result = _call(fn, tensor, seed, options)
    except ValueError as error:
        if len(shape) == 1:
            notes.append(f"declines 1-D tensors (2-D weights only): {error}")
            return False
        raise _fail(f"fills a {len(shape)}-D tensor {where}", "no error", repr(error)) from error
    _require(
        result is None or isinstance(result, dict),
        f"returns None or a dict {where}",
        "None or dict",
        type(result).__name__,
    )
    _require(
        tuple(tensor.shape) == shape and tensor.dtype == dtype and tensor.data_ptr() == pointer,
        f"fills the tensor in place, keeping shape and dtype {where}",
        (shape, dtype),
        (tuple(tensor.shape), tensor.dtype),
    )
    _require(
        bool(torch.isfinite(tensor).all()) and not bool((tensor == sentinel).any()),
        f"fills every element with a finite value {where}",
        "no NaN/inf, no element left as it was",
        f"{tensor.flatten()[:6].tolist()}...",
    )
    _require(
        torch.equal(torch.get_rng_state(), rng),
        f"uses only the generator for randomness, not torch's global one {where}",
        "global RNG untouched",
        "global RNG advanced",
    )
    _require(
        bool((other == sentinel).all()),
        f"does not touch other tensors {where}",
        "untouched",
        "changed",
    )
    again = torch.full(shape, sentinel, dtype=dtype)
    _call(fn, again, seed, options)
    _require(
        torch.equal(tensor, again),
        f"is deterministic under a seeded generator {where}",
        "equal values",
        _max_diff(tensor, again),
    )
    return True


# ============================================================================= tasks


def check_task(
    task_class: type[Task],
    cfg: Config,
    texts: Sequence[str],
    *,
    steps: int = 30,
    cache_dir: str | Path | None = None,
    registries: Registries | None = None,
    ddp: bool = True,
) -> Notes:
    """Check a task against the Task contract of :mod:`pipeline.interfaces`.

    ``cfg`` is a pipeline Config (e.g. from ``pipeline.config.load_config(path, overrides,
    registries)``) that points at tiny data you provide; keep the model tiny. ``texts`` are
    raw inputs for :meth:`Task.predict`. Checked: ``prepare_data`` into a temporary cache
    returns DataFacts; ``dataloader`` yields a batch for train, val and test; ``metrics()``
    keys equal ``metric_names``; ``step`` returns a StepResult with a scalar loss; ``steps``
    optimizer steps (``cfg.optim``) on one training batch lower the loss; metrics compute to
    finite numbers; ``save_artifacts``/``load_artifacts`` round trip into a fresh task gives
    the same predictions; ``predict`` returns one JSON-serialisable dict per text.

    With ``ddp=True`` (5-10 s: two processes start and import torch), the trained network
    evaluates the whole val split in 2 spawned CPU processes (gloo): ``dataloader("val",
    rank, 2)`` must give the ranks different batches, and each metric, reduced across them,
    must equal its one-process value.
    The spawned processes import ``task_class`` by name: define it at module level of an
    importable module (a plugin package, or a pytest test module), and call ``check_task``
    from a test or under ``if __name__ == "__main__":``.

    Cells and initializers come from ``registries`` (default: the installed plugins); the DDP
    processes get a copy, or the installed plugins when ``registries`` cannot be pickled.
    """
    from pipeline.components import Components
    from pipeline.initialization import initialize
    from pipeline.plugins import default_registries

    notes: Notes = []
    given = registries
    registries = registries or default_registries()
    with _directory(cache_dir) as root, torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        task = task_class(cfg)
        facts = task.prepare_data(root / "cache")
        _require(
            isinstance(facts, DataFacts),
            "prepare_data returns DataFacts",
            "DataFacts",
            type(facts).__name__,
        )
        components = Components(cfg.model, registries.cells)
        network = task.build_network(components)
        _require(
            isinstance(network, torch.nn.Module),
            "build_network returns an nn.Module",
            "nn.Module",
            type(network).__name__,
        )
        initialize(network, cfg.init, registries.initializers, cfg.seed, task.vocabulary())
        batches = {split: _first_batch(task, split) for split in ("train", "val", "test")}
        _check_training(task, network, batches["train"], cfg, steps)
        _check_metrics(task, network, batches["val"])
        _check_round_trip(task_class, cfg, task, network, components, texts, root / "artifacts")
        if ddp:
            notes += _check_ddp(task_class, cfg, task, network, root, given)
        else:
            notes.append("ddp=False: sharding and metric reduction under DDP not checked")
    return notes


@contextlib.contextmanager
def _directory(path: str | Path | None) -> Iterator[Path]:
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="rnn-pipeline-check-") as name:
        yield Path(name)


def _first_batch(task: Task, split: str) -> Any:
    loader = task.dataloader(split)
    for batch in loader:
        return batch
    raise _fail(f"dataloader({split!r}) yields at least one batch", "a batch", "no batches")


def _step(task: Task, network: torch.nn.Module, batch: Any, metrics: dict) -> Tensor:
    result = task.step(network, batch, None, metrics)
    _require(
        isinstance(result, StepResult),
        "step returns a StepResult",
        "StepResult",
        type(result).__name__,
    )
    loss = result.loss
    _require(
        isinstance(loss, Tensor) and loss.dim() == 0 and bool(torch.isfinite(loss)),
        "StepResult.loss is a finite scalar tensor",
        "finite 0-d tensor",
        f"{tuple(loss.shape)} {loss}" if isinstance(loss, Tensor) else type(loss).__name__,
    )
    return loss


def _check_metric_keys(task: Task, metrics: Any) -> None:
    _require(
        isinstance(metrics, dict) and set(metrics) == set(task.metric_names),
        "metrics() returns one metric per name in metric_names",
        sorted(task.metric_names),
        sorted(metrics) if isinstance(metrics, dict) else metrics,
    )


def _check_training(
    task: Task, network: torch.nn.Module, batch: Any, cfg: Config, steps: int
) -> None:
    from pipeline.model import build_optimizer

    optimizer = build_optimizer(network.parameters(), cfg.optim)
    network.train()
    losses = []
    for _ in range(steps):
        metrics = task.metrics()
        _check_metric_keys(task, metrics)
        optimizer.zero_grad()
        loss = _step(task, network, batch, metrics)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    _require(
        losses[-1] < losses[0],
        f"{steps} {cfg.optim.name} steps (lr {cfg.optim.lr}) on one batch lower the loss",
        f"last < first ({losses[0]:.4g})",
        f"{losses[-1]:.4g} (losses {losses[:3]}...)",
    )


def _check_metrics(task: Task, network: torch.nn.Module, batch: Any) -> None:
    metrics = task.metrics()
    network.eval()
    with torch.no_grad():
        _step(task, network, batch, metrics)
    for name, metric in metrics.items():
        value = metric.compute()
        number = float(value) if isinstance(value, Tensor) and value.numel() == 1 else None
        _require(
            number is not None and math.isfinite(number),
            f"metric {name!r} computes to a finite number after one step",
            "finite scalar",
            value,
        )


def _check_round_trip(
    task_class: type[Task],
    cfg: Config,
    task: Task,
    network: torch.nn.Module,
    components: Any,
    texts: Sequence[str],
    directory: Path,
) -> None:
    network.eval()
    expected = _predictions(task, network, texts)
    task.save_artifacts(directory)  # as in train: the directory does not exist yet
    fresh = task_class(cfg)
    fresh.load_artifacts(directory)
    rebuilt = fresh.build_network(components)
    try:
        rebuilt.load_state_dict(network.state_dict())
    except Exception as error:
        raise _fail(
            "load_artifacts + build_network rebuilds a network the trained weights fit",
            "load_state_dict succeeds",
            repr(error),
        ) from error
    actual = _predictions(fresh, rebuilt.eval(), texts)
    _require(
        json.dumps(expected, sort_keys=True) == json.dumps(actual, sort_keys=True),
        "save_artifacts/load_artifacts round trip: a fresh task predicts the same",
        expected,
        actual,
    )


def _predictions(task: Task, network: torch.nn.Module, texts: Sequence[str]) -> list[dict]:
    predictions = task.predict(network, list(texts))
    _require(
        isinstance(predictions, list) and len(predictions) == len(texts),
        "predict returns one prediction per text",
        len(texts),
        len(predictions) if isinstance(predictions, list) else type(predictions).__name__,
    )
    for prediction in predictions:
        _require(
            isinstance(prediction, dict),
            "each prediction is a dict",
            "dict",
            type(prediction).__name__,
        )
        try:
            json.dumps(prediction)
        except (TypeError, ValueError) as error:
            raise _fail(
                "each prediction is JSON-serialisable", "json.dumps works", repr(error)
            ) from error
        _require(
            isinstance(task.describe(prediction), str), "describe returns a str", "str", "other"
        )
    return predictions


# ============================================================================= tasks under DDP

WORLD_SIZE = 2


def _check_ddp(
    task_class: type[Task],
    cfg: Config,
    task: Task,
    network: torch.nn.Module,
    root: Path,
    registries: Registries | None,
) -> Notes:
    """Evaluate val in one process and in WORLD_SIZE spawned ones; compare shards and metrics."""
    shipped, notes = _registries_for_children(registries)
    expected, _, items = _evaluate(task, network, task.dataloader("val", 0, 1))
    directory = root / "ddp"
    directory.mkdir(exist_ok=True)
    torch.save(network.state_dict(), directory / "network.pt")
    result = _spawn(task_class, cfg, root / "cache", shipped, directory)
    _check_shards(result["digests"], items)
    _check_reduced(expected, result["metrics"])
    return notes


def _check_shards(digests: list[str], items: int) -> None:
    """The ranks' val batches differ (unless val holds too few items to split)."""
    _require(
        len(set(digests)) == WORLD_SIZE or items < WORLD_SIZE,
        "dataloader(split, rank, world_size) gives each rank its own shard",
        "different val batches on ranks 0 and 1",
        "the same val batches on both ranks",
    )


def _check_reduced(expected: dict[str, float], reduced: dict[str, float]) -> None:
    for name, value in expected.items():
        _require(
            math.isclose(reduced[name], value, rel_tol=1e-4, abs_tol=1e-6),
            f"under {WORLD_SIZE}-process DDP, metric {name!r} reduced over the val shards "
            "equals the one-process value (each example evaluated exactly once, torchmetrics "
            "states with a dist_reduce_fx)",
            value,
            reduced[name],
        )


def _registries_for_children(registries: Registries | None) -> tuple[Registries | None, Notes]:
    """The caller's registries if they pickle; None (the installed plugins) otherwise."""
    if registries is None:
        return None, []
    try:
        pickle.dumps(registries)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        return None, [f"registries cannot be pickled ({error}): DDP used the installed plugins"]
    return registries, []


def _evaluate(
    task: Task, network: torch.nn.Module, loader: Any
) -> tuple[dict[str, float], str, int]:
    """One pass over loader as validation runs it: metric values, batches' digest, item count.

    The carry is handed from batch to batch as ``PipelineModule`` does (None at the start).
    """
    metrics = task.metrics()
    digest, items, carry = hashlib.sha256(), 0, None
    network.eval()
    with torch.no_grad():
        for batch in loader:
            items += _absorb(digest, batch)
            carry = task.step(network, batch, carry, metrics).carry
    return {name: float(m.compute()) for name, m in metrics.items()}, digest.hexdigest(), items


def _absorb(digest: Any, batch: Any) -> int:
    """Feed batch's contents to digest; return its item count (its first tensor's length)."""
    sizes = []
    for leaf in _leaves(batch):
        if isinstance(leaf, Tensor):
            digest.update(f"{leaf.dtype}{tuple(leaf.shape)}".encode())
            digest.update(leaf.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
            sizes.append(len(leaf) if leaf.dim() else 1)
        else:
            digest.update(repr(leaf).encode())
    return sizes[0] if sizes else 1


def _leaves(batch: Any) -> Iterator[Any]:
    """Tensors and other values inside nested mappings, lists and tuples."""
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, list | tuple):
        for value in batch:
            yield from _leaves(value)
    else:
        yield batch


def _spawn(
    task_class: type[Task],
    cfg: Config,
    cache: Path,
    registries: Registries | None,
    directory: Path,
) -> dict[str, Any]:
    """Run :func:`_ddp_worker` in WORLD_SIZE spawned processes; return rank 0's result."""
    from torch.multiprocessing.spawn import ProcessException

    args = (task_class, cfg, cache, registries, directory, _free_port())
    try:
        torch.multiprocessing.start_processes(
            _ddp_worker, args=args, nprocs=WORLD_SIZE, start_method="spawn"
        )
    except ProcessException as error:
        raise _fail(
            f"the task runs under {WORLD_SIZE}-process DDP (gloo)",
            "every process evaluates val and exits cleanly",
            str(error).strip(),
        ) from error
    return json.loads((directory / "result.json").read_text())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ddp_worker(
    rank: int,
    task_class: type[Task],
    cfg: Config,
    cache: Path,
    registries: Registries | None,
    directory: Path,
    port: int,
) -> None:
    """One DDP process: evaluate this rank's val shard; rank 0 writes the reduced metrics."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=datetime.timedelta(minutes=2),
    )
    try:
        task, network = _rebuild(task_class, cfg, cache, registries, directory / "network.pt")
        metrics, digest, _ = _evaluate(task, network, task.dataloader("val", rank, WORLD_SIZE))
        digests: list[Any] = [None] * WORLD_SIZE
        dist.all_gather_object(digests, digest)
        if rank == 0:
            result = {"metrics": metrics, "digests": digests}
            (directory / "result.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def _rebuild(
    task_class: type[Task],
    cfg: Config,
    cache: Path,
    registries: Registries | None,
    weights: Path,
) -> tuple[Task, torch.nn.Module]:
    """The task and trained network as a training process builds them (data from the cache)."""
    from pipeline.components import Components
    from pipeline.plugins import default_registries

    task = task_class(cfg)
    task.prepare_data(cache)
    cells = (registries or default_registries()).cells
    network = task.build_network(Components(cfg.model, cells))
    network.load_state_dict(torch.load(weights, weights_only=True))
    return task, network
