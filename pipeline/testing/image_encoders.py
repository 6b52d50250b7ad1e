"""``check_image_encoder``: an image encoder against the ImageEncoder contract."""

from __future__ import annotations

import copy
import inspect
import io
from typing import Any

import torch
from torch import Tensor, nn

from pipeline.component_options import INIT_GROUPS
from pipeline.components import declared_image_size
from pipeline.errors import UserError
from pipeline.interfaces import ImageEncoder
from pipeline.testing.clauses import Notes, close, fail, max_diff, require

__all__ = ["check_image_encoder"]

SEED = 0
ATOL = 1e-5
MISSING_FILE = "no-such-dir/no-such-weights.pth"


def check_image_encoder(encoder_class: type[ImageEncoder], /, **options: Any) -> Notes:
    """Check ``encoder_class(**options)`` against the ImageEncoder contract of
    :mod:`pipeline.interfaces`.

    Checked: attributes (sizes, ``grid_shape``; ``image_size`` known before building, see
    ``pipeline.components.image_input``); ``forward`` on 1 image (eval mode) and 3
    (training mode) of ``image_size`` gives finite float grid (B, h*w, F) and pooled (B, P);
    in eval mode each image's features do not depend on the rest of the batch; construction
    and outputs are deterministic under a seed; ``.to(torch.float64)`` (and to CUDA when
    available) and ``normalize``; gradients reach every trainable parameter, and a frozen
    encoder has none and stays in eval mode (its BatchNorm statistics do not move);
    ``parameter_groups`` lists each convolution and linear weight once in a known group (none
    when ``weights_loaded``); a ``state_dict`` round trip; and, when ``__init__`` has a
    ``weights`` option, a missing file is a ``UserError`` naming it.
    Keep images small through the options (e.g. ``image_size=32``): the check runs ~10 passes.
    """
    with torch.random.fork_rng(devices=[]):  # seeds the checks, not the caller's RNG
        encoder = _build(encoder_class, options)
        _check_attributes(encoder)
        declared = declared_image_size(encoder_class, options)
        require(
            declared == encoder.image_size,
            "image_size is known before building: the image_size option (or its default) "
            "or a class attribute",
            encoder.image_size,
            declared,
        )
        _check_outputs(encoder)
        _check_batch_independence(encoder)
        _check_determinism(encoder_class, options, encoder)
        notes = _check_moves(encoder)
        if encoder.frozen:
            _check_frozen(encoder)
        else:
            _check_gradients(encoder)
        _check_groups(encoder)
        _check_state_dict(encoder_class, options, encoder)
        return notes + _check_weights_option(encoder_class, options)


def _build(encoder_class: type[ImageEncoder], options: dict[str, Any]) -> ImageEncoder:
    torch.manual_seed(SEED)
    encoder = encoder_class(**options)
    require(
        isinstance(encoder, ImageEncoder),
        "Encoder(**options) is a pipeline.interfaces.ImageEncoder",
        "ImageEncoder",
        type(encoder).__name__,
    )
    return encoder


def _images(encoder: ImageEncoder, batch: int, seed: int = SEED) -> Tensor:
    side = encoder.image_size
    pixels = torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(seed + 1))
    return encoder.normalize(pixels)


def _check_attributes(encoder: ImageEncoder) -> None:
    for name in ("feature_size", "pooled_size", "image_size"):
        value = getattr(encoder, name, None)
        require(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            f"{name} is an int >= 1",
            "int >= 1",
            repr(value),
        )
    shape = encoder.grid_shape()
    require(
        isinstance(shape, tuple) and len(shape) == 2 and all(isinstance(s, int) for s in shape),
        "grid_shape() is (h, w), two ints",
        "(h, w)",
        repr(shape),
    )
    require(min(shape) >= 1, "grid_shape() is at least (1, 1)", ">= 1", shape)


def _check_outputs(encoder: ImageEncoder) -> None:
    h, w = encoder.grid_shape()
    model = copy.deepcopy(encoder)  # training mode moves BatchNorm statistics: keep encoder's
    for batch in (1, 3):
        model.train(batch > 1)  # BatchNorm cannot train on one value per channel
        result = model(_images(encoder, batch))
        require(
            isinstance(result, tuple) and len(result) == 2,
            "forward(images) returns (grid, pooled)",
            "a tuple of 2 tensors",
            type(result).__name__,
        )
        grid, pooled = result
        expected = {"grid": (batch, h * w, encoder.feature_size), "pooled": (batch,)}
        expected["pooled"] += (encoder.pooled_size,)
        for name, tensor in (("grid", grid), ("pooled", pooled)):
            require(
                isinstance(tensor, Tensor) and tuple(tensor.shape) == expected[name],
                f"{name} is {'(B, h*w, F)' if name == 'grid' else '(B, P)'} [B={batch}]",
                expected[name],
                tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__,
            )
            require(
                tensor.is_floating_point() and bool(torch.isfinite(tensor).all()),
                f"{name} holds finite floats [B={batch}]",
                "finite floats",
                f"{tensor.dtype}, finite: {bool(torch.isfinite(tensor).all())}",
            )


def _check_batch_independence(encoder: ImageEncoder) -> None:
    model = copy.deepcopy(encoder).eval()
    images = _images(encoder, 3)
    with torch.no_grad():
        together = model(images)
        alone = model(images[1:2])
    for name, all_three, one in zip(("grid", "pooled"), together, alone, strict=True):
        require(
            close(all_three[1:2], one, ATOL),
            f"in eval mode an image's {name} does not depend on the rest of the batch",
            "equal",
            max_diff(all_three[1:2], one),
        )


def _check_determinism(
    encoder_class: type[ImageEncoder], options: dict[str, Any], encoder: ImageEncoder
) -> None:
    again = _build(encoder_class, options)
    for (name, a), (_, b) in zip(
        encoder.state_dict().items(), again.state_dict().items(), strict=True
    ):
        require(
            torch.equal(a, b),
            f"construction is deterministic under a seed ({name})",
            "equal values",
            max_diff(a, b),
        )
    images = _images(encoder, 2)
    with torch.no_grad():
        first, second = copy.deepcopy(encoder).eval()(images), again.eval()(images)
    require(
        torch.equal(first[0], second[0]) and torch.equal(first[1], second[1]),
        "outputs are deterministic under a seed",
        "equal",
        max_diff(first[0], second[0]),
    )


def _check_moves(encoder: ImageEncoder) -> Notes:
    pixels = torch.full((1, 3, encoder.image_size, encoder.image_size), 0.5)
    normalized = encoder.normalize(pixels)
    expected = (0.5 - torch.tensor(encoder.mean)) / torch.tensor(encoder.std)
    require(
        close(normalized[0, :, 0, 0], expected, ATOL),
        "normalize(pixels) is (pixels - mean) / std per channel",
        expected.tolist(),
        normalized[0, :, 0, 0].tolist(),
    )
    wide = copy.deepcopy(encoder).to(torch.float64).eval()
    grid, pooled = wide(_images(encoder, 1).double())
    require(
        grid.dtype == torch.float64 and pooled.dtype == torch.float64,
        ".to(torch.float64) moves the encoder: float64 outputs",
        torch.float64,
        [grid.dtype, pooled.dtype],
    )
    if not torch.cuda.is_available():
        return ["no CUDA device: .to(device) checked for dtype only"]
    cuda = torch.device("cuda")
    grid, pooled = copy.deepcopy(encoder).to(cuda).eval()(_images(encoder, 1).to(cuda))
    require(
        grid.device.type == pooled.device.type == "cuda",
        ".to('cuda') moves the encoder: outputs on the device",
        "cuda",
        [grid.device, pooled.device],
    )
    return []


def _check_gradients(encoder: ImageEncoder) -> None:
    model = copy.deepcopy(encoder).train()
    grid, pooled = model(_images(encoder, 2))
    # Squares, because a BatchNorm in training mode makes plain sums' gradients vanish.
    (grid.pow(2).sum() + pooled.pow(2).sum()).backward()
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        grad = parameter.grad
        require(
            grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0),
            f"gradients reach every trainable parameter ({name})",
            "a finite, non-zero gradient",
            "None" if grad is None else f"gradient with |sum| {float(grad.abs().sum()):.3g}",
        )


def _check_frozen(encoder: ImageEncoder) -> None:
    model = copy.deepcopy(encoder).train()
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    require(not trainable, "a frozen encoder has no trainable parameter", [], trainable)
    training = [name or "(encoder)" for name, m in model.named_modules() if m.training]
    require(not training, "a frozen encoder stays in eval mode after .train()", [], training)
    buffers = copy.deepcopy(dict(model.named_buffers()))
    model(_images(encoder, 2))
    moved = [name for name, b in model.named_buffers() if not torch.equal(b, buffers[name])]
    require(not moved, "a frozen encoder's buffers (BatchNorm statistics) stay", [], moved)


def _check_groups(encoder: ImageEncoder) -> None:
    groups = encoder.parameter_groups()
    unknown = sorted(set(groups) - set(INIT_GROUPS))
    require(not unknown, "parameter_groups() uses known groups", list(INIT_GROUPS), unknown)
    listed = [id(p) for parameters in groups.values() for p in parameters]
    require(len(listed) == len(set(listed)), "each parameter is in one group once", 1, "twice")
    owned = {id(p) for p in encoder.parameters()}
    require(set(listed) <= owned, "groups list the encoder's own parameters", "subset", "other")
    if encoder.weights_loaded:
        require(not listed, "with weights_loaded no parameter is in a group", [], len(listed))
        return
    weights = {
        name: module.weight
        for name, module in encoder.named_modules()
        if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d)
    }
    missing = [name for name, weight in weights.items() if id(weight) not in set(listed)]
    require(
        not missing,
        "parameter_groups() covers every convolution and linear weight",
        "all listed",
        missing,
    )


def _check_state_dict(
    encoder_class: type[ImageEncoder], options: dict[str, Any], encoder: ImageEncoder
) -> None:
    torch.manual_seed(SEED + 100)
    target = encoder_class(**options)
    buffer = io.BytesIO()
    torch.save(encoder.state_dict(), buffer)
    buffer.seek(0)
    try:
        target.load_state_dict(torch.load(buffer, weights_only=True))
    except Exception as error:
        raise fail("a state_dict save/load round trip works", "loads", repr(error)) from error
    images = _images(encoder, 2)
    with torch.no_grad():
        a, b = copy.deepcopy(encoder).eval()(images)[0], target.eval()(images)[0]
    require(
        close(a, b, ATOL), "a state_dict round trip restores the function", "equal", max_diff(a, b)
    )


def _check_weights_option(encoder_class: type[ImageEncoder], options: dict[str, Any]) -> Notes:
    if "weights" not in inspect.signature(encoder_class).parameters:
        return ["no 'weights' option: loading a weights file not checked"]
    try:
        encoder_class(**{**options, "weights": MISSING_FILE})
    except UserError as error:
        require(
            MISSING_FILE in str(error),
            "a missing weights file is a UserError naming the file",
            MISSING_FILE,
            str(error),
        )
        return []
    raise fail("a missing weights file is a UserError naming the file", "UserError", "no error")
