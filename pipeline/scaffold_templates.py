"""The file templates of :mod:`pipeline.scaffold` (``string.Template`` text; ``$name`` fields
are filled from :class:`pipeline.scaffold.Names` and the contract docstrings)."""

PYPROJECT = """\
# rnn-pipeline plugins. Install: pip install -e '.[test]'   Test: pytest
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "rnn-pipeline plugins: $kinds."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["rnn-pipeline"]

[project.optional-dependencies]
test = ["pytest>=8"]
$entry_points
[tool.setuptools]
packages = ["$package"]
"""

ENTRY_POINTS = {
    "cell": (
        '[project.entry-points."rnn_pipeline.cells"]\n$component = "$package.cell:${camel}Cell"\n'
    ),
    "initializer": (
        '[project.entry-points."rnn_pipeline.initializers"]\n'
        '$component = "$package.initializer:$component"\n'
    ),
    "task": (
        '[project.entry-points."rnn_pipeline.tasks"]\n$component = "$package.task:${camel}Task"\n'
    ),
    "image_encoder": (
        '[project.entry-points."rnn_pipeline.image_encoders"]\n'
        '$component = "$package.image_encoder:${camel}Encoder"\n'
    ),
}

CELL = '''\
"""The $component cell: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1}).

Config: ``model.cell: $component``. Replace the equation in ``step`` with your own and keep
the shapes; ``pytest`` runs pipeline.testing.check_cell on it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.interfaces import Cell


class ${camel}Cell(Cell):
    """$cell_doc"""

    state_size = 1
    fused_mode = None

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))  # (H, D)
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))  # (H, H)
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))  # (H,)
        bound = 1.0 / math.sqrt(hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def project(self, x: Tensor) -> Tensor:
        """$project_doc"""
        return F.linear(x, self.weight_ih, self.bias_ih)  # (..., H)

    def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """$step_doc"""
        h = torch.tanh(p_t + state[0] @ self.weight_hh.T)  # (B, H)
        return h, [h]
'''

INITIALIZER = '''\
"""The $component initializer: U(-scale, scale).

Config: ``init.<group>: $component`` with ``init.options.<group>.scale``. ``pytest`` runs
pipeline.testing.check_initializer on it.
"""

from __future__ import annotations

import torch

from pipeline.component_options import validated_by
from pipeline.errors import OptionError


def check_options(*, scale: float) -> None:
    """Value checks the config runs before any data is read (and every call runs first)."""
    if isinstance(scale, bool) or not isinstance(scale, int | float) or scale <= 0:
        raise OptionError(f"$component: option 'scale' must be a number > 0, got {scale!r}")


@validated_by(check_options)
def $component(
    tensor: torch.Tensor, *, generator: torch.Generator | None = None, scale: float = 0.1
) -> dict[str, float] | None:
    """$init_doc"""
    check_options(scale=scale)
    with torch.no_grad():
        tensor.uniform_(-scale, scale, generator=generator)
    return None
'''

TASK = '''\
"""The $component task: read a sequence of bits, predict the fraction of ones.

Config: ``task: {name: $component, length: 12}``. The data is generated from the config's
seed (no files); raw text for prediction is bits separated by spaces, e.g. "0 1 1 0".
Replace the data, network, loss and metrics with your own; ``pytest`` runs
pipeline.testing.check_task on it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from pipeline.errors import UserError
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.metrics import WeightedMean
from pipeline.sharding import split_loader

if TYPE_CHECKING:
    from pipeline.recurrent import RecurrentEncoder


@dataclass
class ${camel}Options:
    length: int = field(default=12, metadata={"min": 1})
    """Bits per sequence (T)."""
    train_size: int = field(default=512, metadata={"min": 1})
    eval_size: int = field(default=128, metadata={"min": 1})


class ${camel}Network(nn.Module):
    """Recurrent encoder over (B, T, 1) -> final hidden state -> one number per sequence."""

    def __init__(self, encoder: RecurrentEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.directions = encoder.directions
        self.output = nn.Linear(encoder.output_size, 1)

    def forward(self, bits: Tensor) -> Tensor:
        """bits (B, T, 1) -> predictions (B,)."""
        _, state = self.encoder(bits)
        last = state[0][-self.directions :]  # (dirs, B, H) of the last layer
        prediction: Tensor = self.output(torch.cat(list(last), 1))  # (B, 1)
        return prediction.squeeze(1)


class ${camel}Task(Task):
    """$task_doc"""

    Options = ${camel}Options
    monitor = "val_loss"
    monitor_mode = "min"
    metric_names = ("loss",)

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.splits: dict[str, TensorDataset] = {}

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        """$task_prepare_data_doc"""
        sizes = {"train": self.options.train_size}
        sizes.update(val=self.options.eval_size, test=self.options.eval_size)
        generator = torch.Generator().manual_seed(self.cfg.seed)
        shape = (sum(sizes.values()), self.options.length, 1)
        bits = torch.randint(0, 2, shape, generator=generator).float()  # (N, T, 1)
        for split, part in zip(sizes, torch.split(bits, list(sizes.values())), strict=True):
            self.splits[split] = TensorDataset(part, part.mean((1, 2)))
        return DataFacts(sizes=sizes)

    def save_artifacts(self, directory: Path) -> None:
        """$task_save_artifacts_doc"""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "options.json").write_text(json.dumps(asdict(self.options)))

    def load_artifacts(self, directory: Path) -> None:
        """$task_load_artifacts_doc"""
        json.loads((directory / "options.json").read_text())

    def build_network(self, components: Any) -> nn.Module:
        """$task_build_network_doc"""
        return ${camel}Network(components.encoder(1))

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> DataLoader[Any]:
        """$task_dataloader_doc"""
        # train shuffled from the seed, val/test each example once across DDP ranks
        return split_loader(self.splits[split], split, self.cfg, rank, world_size)

    def metrics(self) -> dict[str, Any]:
        """$task_metrics_doc"""
        return {"loss": WeightedMean()}  # batch means weighted by their sizes

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        """$task_step_doc"""
        inputs, targets = batch  # (B, T, 1), (B,)
        loss = F.mse_loss(network(inputs), targets)
        metrics["loss"].update(loss.detach(), targets.numel())
        return StepResult(loss)

    @torch.no_grad()
    def predict(
        self, network: nn.Module, texts: Sequence[str], **options: Any
    ) -> list[dict[str, Any]]:
        """$task_predict_doc"""
        network.eval()
        results = []
        for text in texts:
            try:
                bits = [float(bit) for bit in text.split()]
            except ValueError:
                message = f"$component: expected bits like '0 1 1 0', got {text!r}"
                raise UserError(message) from None
            inputs = torch.tensor(bits).view(1, -1, 1)  # (1, T, 1)
            results.append({"text": text, "fraction": float(network(inputs)[0])})
        return results
'''

IMAGE_ENCODER = '''\
"""The $component image encoder: two blocks of 3x3 convolution, ReLU and 2x2 max pooling.

Config: a captioning task with ``image_encoder: $component`` and, say,
``image_encoder_options: {channels: 16}``. Replace the layers with your own and keep the
shapes; ``pytest`` runs pipeline.testing.check_image_encoder on it.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.errors import OptionError
from pipeline.interfaces import ImageEncoder


class ${camel}Encoder(ImageEncoder):
    """$image_encoder_doc"""

    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)

    def __init__(self, channels: int = 8, image_size: int = 32, freeze: bool = False) -> None:
        super().__init__()
        self.validate_options(channels, image_size, freeze)
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.feature_size = self.pooled_size = 2 * channels
        self.image_size = image_size
        self.freeze(freeze)

    @staticmethod
    def validate_options(channels: int, image_size: int, freeze: bool) -> None:
        """Value checks the config runs before any data is read (and __init__ runs first)."""
        if channels < 1:
            raise OptionError(f"$component: option 'channels' must be >= 1, got {channels}")
        if image_size < 4:
            raise OptionError(f"$component: option 'image_size' must be >= 4, got {image_size}")

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """$image_forward_doc"""
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)  # (B, C, S/2, S/2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, F, S/4, S/4)
        grid = x.flatten(2).transpose(1, 2)  # (B, N, F), row-major cells
        return grid, grid.mean(1)  # pooled (B, F)

    def grid_shape(self) -> tuple[int, int]:
        """$image_grid_shape_doc"""
        side = self.image_size // 4
        return side, side
'''

TEST_HEADER = '''\
"""$dist's components pass rnn-pipeline's conformance checks (pipeline.testing).

Run ``pytest`` after ``pip install -e '.[test]'``.
"""

from __future__ import annotations
'''

TESTS = {
    "cell": """

def test_cell_meets_the_contract() -> None:
    from pipeline.testing import check_cell
    from $package.cell import ${camel}Cell

    check_cell(${camel}Cell, compile=False)  # compile=True also checks torch.compile (slow)
""",
    "initializer": """

def test_initializer_meets_the_contract() -> None:
    from pipeline.testing import check_initializer
    from $package.initializer import $component

    check_initializer($component, options={"scale": 0.5})
""",
    "task": """

def test_task_meets_the_contract() -> None:
    from pipeline.config import build_config
    from pipeline.plugins import default_registries
    from pipeline.testing import check_task
    from $package.task import ${camel}Task

    raw = {
        "task": {"name": "$component", "length": 6, "train_size": 64, "eval_size": 32},
        "data": {"batch_size": 32, "eval_batch_size": 32},
        "model": {"cell": "gru", "hidden_size": 8, "num_layers": 1, "dropout": 0.0},
        "optim": {"name": "adam", "lr": 0.02},
    }
    check_task(${camel}Task, build_config(raw, default_registries()), texts=["0 1 1 0"])
""",
    "image_encoder": """

def test_image_encoder_meets_the_contract() -> None:
    from pipeline.testing import check_image_encoder
    from $package.image_encoder import ${camel}Encoder

    check_image_encoder(${camel}Encoder, image_size=16)  # small images keep it fast
""",
}

README = """\
# $dist

rnn-pipeline plugins ($kinds), found through entry points (see pyproject.toml).

```bash
pip install -e '.[test]'   # the test extra puts pytest in this environment
pipeline plugins list        # shows $component under distribution $dist
pytest                       # pipeline.testing conformance checks
```

$usage
Write plugins with the guide docs/plugins.md of rnn-pipeline.
"""

USAGE = {
    "cell": "- cell: `pipeline train CONFIG model.cell=$component`\n",
    "initializer": "- initializer: `pipeline train CONFIG init.recurrent=$component`\n",
    "task": "- task: a config with `task: {name: $component, length: 12}`\n",
    "image_encoder": "- image encoder: a captioning config with `task.image_encoder: $component`\n",
}
