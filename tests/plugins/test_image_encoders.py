"""The built-in image encoders: small_cnn's shapes and options, and the ResNets' torchvision
layout, weight files (loaded, frozen by default, refused clearly when they do not match)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pipeline.component_options import image_encoder_option_problems
from pipeline.errors import OptionError
from plugins.image_encoders.resnet import ResNet18, ResNet34, ResNet50
from plugins.image_encoders.small_cnn import SmallCNN

TORCHVISION_PARAMETERS = {ResNet18: 11_689_512, ResNet34: 21_797_672, ResNet50: 25_557_032}
"""Parameter counts of torchvision's ImageNet models, whose classifier (fc: F*1000 + 1000)
these encoders drop."""


def images(encoder: torch.nn.Module, batch: int = 2, side: int | None = None) -> torch.Tensor:
    side = side or encoder.image_size
    generator = torch.Generator().manual_seed(0)
    return encoder.normalize(torch.rand(batch, 3, side, side, generator=generator))


def test_small_cnn_shapes_follow_its_options() -> None:
    encoder = SmallCNN(channels=4, blocks=2, image_size=20)
    assert (encoder.feature_size, encoder.pooled_size, encoder.grid_shape()) == (8, 8, (5, 5))
    grid, pooled = encoder(images(encoder))
    assert grid.shape == (2, 25, 8) and pooled.shape == (2, 8)
    torch.testing.assert_close(pooled, grid.mean(1))
    assert not encoder.frozen and all(p.requires_grad for p in encoder.parameters())


def test_small_cnn_options_are_checked_like_cell_options() -> None:
    problems = image_encoder_option_problems("small_cnn", {"chanels": 8})
    assert problems == [
        "task.image_encoder_options.chanels: unknown option of task.image_encoder=small_cnn; "
        "did you mean task.image_encoder_options.channels? Options: channels, blocks, "
        "image_size, freeze"
    ]
    [wrong_type] = image_encoder_option_problems("small_cnn", {"blocks": "3"})
    assert wrong_type == "task.image_encoder_options.blocks: expected int, got '3'"
    [too_small] = image_encoder_option_problems("small_cnn", {"blocks": 7})
    assert "image_size 64 is too small for 7 blocks" in too_small and ">= 128" in too_small
    assert image_encoder_option_problems("small_cnn", {"channels": 8, "freeze": True}) == []
    with pytest.raises(OptionError, match="'channels' must be >= 1"):
        SmallCNN(channels=0)


def test_unknown_encoder_name_suggests_the_close_one() -> None:
    [problem] = image_encoder_option_problems("resnet19", {}, key="task.encoder")
    assert problem.startswith("task.encoder: Unknown image_encoders plugin 'resnet19'.")
    assert "Did you mean 'resnet18'" in problem and "rnn_pipeline.image_encoders" in problem


@pytest.mark.parametrize("encoder_class", [ResNet18, ResNet34, ResNet50])
def test_resnets_have_torchvisions_parameters_without_the_classifier(encoder_class) -> None:
    encoder = encoder_class(image_size=64)
    classifier = encoder.feature_size * 1000 + 1000
    count = sum(p.numel() for p in encoder.parameters())
    assert count + classifier == TORCHVISION_PARAMETERS[encoder_class]
    features = 2048 if encoder_class is ResNet50 else 512
    assert encoder.feature_size == encoder.pooled_size == features
    keys = encoder.state_dict().keys()
    assert {"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight"} <= keys
    assert "layer2.0.downsample.0.weight" in keys and "layer2.0.downsample.1.bias" in keys


def test_resnet_grid_is_the_last_stage_over_ceil_s_over_32() -> None:
    encoder = ResNet18(image_size=100)
    assert encoder.grid_shape() == (4, 4)
    grid, pooled = encoder.eval()(images(encoder))
    assert grid.shape == (2, 16, 512) and pooled.shape == (2, 512)
    assert encoder.mean == (0.485, 0.456, 0.406)  # ImageNet's, as the weight files expect


def torchvision_file(path: Path, source: ResNet18, drop: str = "", **changes) -> Path:
    """source's state_dict as torchvision saves a resnet18: with its classifier fc."""
    state = {k: v for k, v in source.state_dict().items() if k != drop}
    state |= {"fc.weight": torch.randn(1000, 512), "fc.bias": torch.zeros(1000)}
    torch.save(state | changes, path)
    return path


@pytest.fixture(scope="module")
def trained() -> ResNet18:
    """A ResNet18 whose weights and BatchNorm statistics differ from a fresh one's."""
    torch.manual_seed(1)
    encoder = ResNet18(image_size=32)
    encoder.train()
    with torch.no_grad():
        encoder(images(encoder, 4))  # moves the running statistics
    return encoder.eval()


def test_a_torchvision_layout_file_loads_frozen_by_default(trained, tmp_path: Path) -> None:
    path = torchvision_file(tmp_path / "resnet18-f37072fd.pth", trained)
    torch.manual_seed(2)
    encoder = ResNet18(weights=str(path), image_size=32)
    for key, value in trained.state_dict().items():
        assert torch.equal(encoder.state_dict()[key], value), key
    assert encoder.weights_loaded and encoder.frozen
    assert encoder.parameter_groups() == {"input": [], "bias": []}  # no initializer touches them
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not any(module.training for module in encoder.modules())  # BatchNorm stays eval
    torch.testing.assert_close(encoder(images(encoder))[0], trained(images(trained))[0])

    tuned = ResNet18(weights=str(path), freeze=False, image_size=32).train()
    assert not tuned.frozen and tuned.training and all(p.requires_grad for p in tuned.parameters())


def test_a_file_without_batch_counters_loads(trained, tmp_path: Path) -> None:
    state = {k: v for k, v in trained.state_dict().items() if "num_batches_tracked" not in k}
    torch.save(state, tmp_path / "old.pth")
    encoder = ResNet18(weights=str(tmp_path / "old.pth"), image_size=32)
    torch.testing.assert_close(encoder.layer4[1].bn2.running_var, trained.layer4[1].bn2.running_var)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "layer4.1.bn2.weight"}, "missing key layer4.1.bn2.weight;"),
        ({"layer4.2.conv1.weight": torch.zeros(1)}, "unexpected key layer4.2.conv1.weight;"),
        (
            {"conv1.weight": torch.zeros(64, 1, 7, 7)},
            "conv1.weight has shape (64, 1, 7, 7), expected (64, 3, 7, 7);",
        ),
    ],
)
def test_a_mismatching_file_is_refused_naming_file_and_key(
    trained, tmp_path: Path, change: dict, message: str
) -> None:
    path = torchvision_file(tmp_path / "weights.pth", trained, **change)
    with pytest.raises(OptionError) as raised:
        ResNet18(weights=str(path), image_size=32)
    text = str(raised.value)
    assert text.startswith(f"resnet18: weights file '{path}' does not match resnet18: {message}")
    assert "name a torchvision resnet18 state_dict file" in text


def test_a_resnet34_file_is_not_a_resnet18(tmp_path: Path) -> None:
    torch.save(ResNet34(image_size=32).state_dict(), tmp_path / "resnet34.pth")
    extra = r"unexpected key layer1\.2\.conv1\.weight \(and \d+ more"
    with pytest.raises(OptionError, match=extra):
        ResNet18(weights=str(tmp_path / "resnet34.pth"), image_size=32)


def test_unreadable_or_absent_files_are_refused(trained, tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"'/nowhere/r18\.pth' does not exist;.*downloaded"):
        ResNet18(weights="/nowhere/r18.pth", image_size=32)
    torch.save(trained, tmp_path / "model.pth")  # the whole module, not its state_dict
    whole = r"holds more than tensors \(a plugins\.image_encoders\.resnet\.ResNet18\); save model"
    with pytest.raises(OptionError, match=whole):
        ResNet18(weights=str(tmp_path / "model.pth"), image_size=32)
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(OptionError, match="is not a state_dict .* but a list"):
        ResNet18(weights=str(tmp_path / "list.pth"), image_size=32)
    (tmp_path / "text.pth").write_text("not torch", encoding="utf-8")
    with pytest.raises(OptionError, match="is not a file torch.save wrote"):
        ResNet18(weights=str(tmp_path / "text.pth"), image_size=32)
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(OptionError, match="empty.pth' is not a file torch.save wrote; name a"):
        ResNet18(weights=str(tmp_path / "empty.pth"), image_size=32)


def test_resnet_image_size_is_checked_before_any_file_is_read() -> None:
    [problem] = image_encoder_option_problems("resnet50", {"image_size": 16, "weights": "/x"})
    assert problem == (
        "task.image_encoder_options (for task.image_encoder=resnet50): resnet50: image_size "
        "must be >= 32 (the network halves the side 5 times), got 16"
    )
