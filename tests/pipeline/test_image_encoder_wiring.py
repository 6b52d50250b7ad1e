"""Image encoders in the core: configs check ``task.image_encoder`` and its options with the
run's registries, ``Components.image_encoder`` builds one, initialization reaches convolution
weights through ``parameter_groups`` and leaves loaded weights and BatchNorm alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from pipeline.components import Components, ImageInput, image_input
from pipeline.config import ConfigError, InitConfig, ModelConfig, build_config
from pipeline.initialization import initialize, parameter_groups
from pipeline.interfaces import ImageEncoder, Task
from pipeline.plugins import Registries, default_registries, discover
from plugins.image_encoders.resnet import ResNet18
from plugins.image_encoders.small_cnn import SmallCNN


@dataclass
class PictureOptions:
    image_encoder: str = "small_cnn"
    image_encoder_options: dict[str, Any] = field(default_factory=dict)


class PictureTask(Task):  # only its Options and config_problems are used by build_config
    Options = PictureOptions


class Flat(ImageEncoder):
    """A local encoder with a linear layer: (B, 3, 4, 4) -> one cell of F = 5."""

    image_size = 4
    feature_size = pooled_size = 5

    def __init__(self, width: int = 5) -> None:
        super().__init__()
        self.project = nn.Linear(48, width)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        pooled = self.project(images.flatten(1))  # (B, F)
        return pooled.unsqueeze(1), pooled

    def grid_shape(self) -> tuple[int, int]:
        return 1, 1


@pytest.fixture(scope="module")
def registries() -> Registries:
    installed = default_registries()
    tasks = discover("tasks", entry_points=[], blocked=frozenset())
    tasks.register("pictures", PictureTask)
    encoders = discover("image_encoders", blocked=frozenset())
    encoders.register("flat", Flat)
    return Registries(
        installed.cells, installed.initializers, tasks, installed.tokenizers, encoders
    )


def config(registries: Registries, **task: Any):
    return build_config({"task": {"name": "pictures", **task}}, registries)


def test_config_checks_the_image_encoder_with_the_runs_registries(registries) -> None:
    cfg = config(registries, image_encoder="flat", image_encoder_options={"width": 3})
    assert cfg.task.options.image_encoder_options == {"width": 3}
    with pytest.raises(ConfigError) as raised:
        config(registries, image_encoder="flatt", image_encoder_options={})
    assert "task.image_encoder: Unknown image_encoders plugin 'flatt'. Did you mean 'flat'" in str(
        raised.value
    )
    with pytest.raises(ConfigError) as raised:
        config(registries, image_encoder="small_cnn", image_encoder_options={"blocks": 0})
    assert "task.image_encoder_options (for task.image_encoder=small_cnn): small_cnn: option " in (
        str(raised.value)
    )


def test_components_build_the_named_encoder(registries) -> None:
    components = Components(ModelConfig(), registries.cells, registries.image_encoders)
    encoder = components.image_encoder("flat", {"width": 3})
    assert isinstance(encoder, Flat) and encoder.project.out_features == 3
    with pytest.raises(ConfigError, match=r"task\.image_encoder_options\.wdth: unknown option"):
        components.image_encoder("flat", {"wdth": 3})
    with pytest.raises(ConfigError, match=r"model\.encoder_options\.wdth: unknown option"):
        components.image_encoder("flat", {"wdth": 3}, key="model.encoder")


def test_a_rebuilt_run_does_not_read_the_weights_file(registries) -> None:
    options = {"weights": "/gone/resnet18.pth", "image_size": 32}
    restoring = Components(ModelConfig(), registries.cells, registries.image_encoders, True)
    assert isinstance(restoring.image_encoder("resnet18", options), ResNet18)
    training = Components(ModelConfig(), registries.cells, registries.image_encoders)
    with pytest.raises(ValueError, match="'/gone/resnet18.pth' does not exist"):
        training.image_encoder("resnet18", options)


class Captioner(nn.Module):
    def __init__(self, encoder: ImageEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_size, 7)


def names_by_group(network: nn.Module) -> dict[str, set[str]]:
    names = {id(p): name for name, p in network.named_parameters()}
    return {group: {names[id(p)] for p in ps} for group, ps in parameter_groups(network).items()}


def test_convolution_weights_are_input_and_batchnorm_keeps_its_init() -> None:
    network = Captioner(SmallCNN(channels=2, blocks=2, image_size=8))
    groups = names_by_group(network)
    assert groups["input"] == {"encoder.features.0.weight", "encoder.features.4.weight"}
    assert groups["output"] == {"head.weight"} and groups["bias"] == {"head.bias"}
    before = {name: p.detach().clone() for name, p in network.named_parameters()}
    initialize(network, InitConfig(input="normal"), default_registries().initializers, seed=3)
    after = dict(network.named_parameters())
    assert not torch.equal(after["encoder.features.0.weight"], before["encoder.features.0.weight"])
    for name in ("encoder.features.1.weight", "encoder.features.1.bias"):  # BatchNorm
        assert torch.equal(after[name], before[name]), name


def test_an_encoders_linear_layer_is_input_not_output() -> None:
    groups = names_by_group(Captioner(Flat()))
    assert groups["input"] == {"encoder.project.weight"}
    assert groups["bias"] == {"encoder.project.bias", "head.bias"}
    assert groups["output"] == {"head.weight"}


def test_loaded_weights_are_in_no_group_and_survive_initialization(tmp_path: Path) -> None:
    torch.save(ResNet18(image_size=32).state_dict(), tmp_path / "r18.pth")
    encoder = ResNet18(weights=str(tmp_path / "r18.pth"), image_size=32)
    loaded = {k: v.clone() for k, v in encoder.state_dict().items()}
    network = Captioner(encoder)
    assert names_by_group(network)["input"] == set()
    initialize(network, InitConfig(), default_registries().initializers, seed=0)
    for key, value in network.encoder.state_dict().items():
        assert torch.equal(value, loaded[key]), key


def test_the_run_is_tagged_with_the_encoders_distribution(registries) -> None:
    from pipeline.runs import run_tags

    tags = run_tags(config(registries, image_encoder="resnet18"), registries)
    assert tags["plugin.image_encoders.resnet18"].startswith("rnn-pipeline ")
    installed = default_registries()
    plain = run_tags(build_config({}, installed), installed)  # the language model: no images
    assert not any(tag.startswith("plugin.image_encoders.") for tag in plain)


def test_a_task_knows_the_image_input_before_building_the_encoder(registries) -> None:
    assert image_input("resnet50", {}, registries.image_encoders) == ImageInput(
        224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    )
    assert image_input("small_cnn", {"image_size": 32}).size == 32
    assert image_input("flat", {}, registries.image_encoders).size == 4  # class attribute
