"""Behaviour tests for plugin discovery, loading, blocking and the contracts.

Everything goes through real ``importlib.metadata`` objects: the installed distributions
(``rnn-pipeline`` and the test-only ``rnn-pipeline-testplugins``) and fake distributions
written as ``*.dist-info`` folders. The test distribution must be installed for real with
``pip install ./tests/plugin_dist``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeline.commands.plugins import plugin_rows
from pipeline.plugins import (
    BLOCK_ENV,
    GROUPS,
    PluginError,
    Registries,
    blocked_names,
    default_registries,
    discover,
)

if TYPE_CHECKING:
    from torch import Tensor

TEST_DIST = "rnn-pipeline-testplugins"
BROKEN = {"test_broken_cell", "test_not_callable", "test_incomplete_task"}
"""Plugins of the test distribution that fail on load: an ImportError and broken contracts."""
HEAVY = ("torch", "lightning", "mlflow")
BUILTIN = {
    "cells": {"rnn_tanh", "rnn_sigmoid", "rnn_relu", "lstm", "gru"},
    "initializers": {
        "zeros",
        "normal",
        "uniform",
        "xavier_uniform",
        "xavier_normal",
        "he_uniform",
        "he_normal",
        "orthogonal",
        "pretrained",
    },
    "tasks": {"language_model"},
    "tokenizers": {"word", "sentencepiece"},
    "image_encoders": {"small_cnn", "resnet18", "resnet34", "resnet50"},
}


@pytest.fixture(scope="module")
def test_dist_version() -> str:
    try:
        return metadata.version(TEST_DIST)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{TEST_DIST} is not installed: run `pip install ./tests/plugin_dist`")


def pipeline_command() -> list[str]:
    """The installed console script, run by this interpreter (so -X options apply)."""
    script = Path(sys.executable).parent / "pipeline"
    if not script.is_file():
        found = shutil.which("pipeline")
        script = Path(found) if found else None
    return [sys.executable, str(script)] if script else [sys.executable, "-m", "pipeline.cli"]


def run_pipeline(
    *args: str, env: dict[str, str] | None = None, python_options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    command = pipeline_command()
    command[1:1] = python_options
    environment = {k: v for k, v in os.environ.items() if k != BLOCK_ENV}
    environment.update(env or {})
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=environment, timeout=120
    )


def write_dist(root: Path, name: str, version: str, cells: dict[str, str]) -> metadata.Distribution:
    """A real distribution from a ``*.dist-info`` folder declaring the given cells."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "".join(f"{key} = {value}\n" for key, value in cells.items())
    (info / "entry_points.txt").write_text(f"[rnn_pipeline.cells]\n{lines}", encoding="utf-8")
    return metadata.PathDistribution(info)


def empty_registries(**registries: object) -> Registries:
    kinds = {kind: discover(kind, entry_points=[], blocked=frozenset()) for kind in GROUPS}
    return Registries(**{**kinds, **registries})


# --- discovery of the installed distributions -------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_builtins_are_found_through_installed_entry_points(kind: str) -> None:
    registry = discover(kind, blocked=frozenset())
    assert BUILTIN[kind] <= set(registry.names())
    version = metadata.version("rnn-pipeline")
    for name in BUILTIN[kind]:
        record = registry.records[name]
        assert (record.kind, record.dist, record.version) == (kind, "rnn-pipeline", version)
        assert record.value.startswith("plugins.")


def test_default_registries_load_a_builtin_class() -> None:
    from plugins.cells.lstm import LSTMCell

    registries = default_registries()
    assert registries.cells.get("lstm") is LSTMCell
    assert registries.cells.get("lstm") is LSTMCell  # cached


def test_third_party_cell_loads_and_runs(test_dist_version: str) -> None:
    import torch

    registry = default_registries().cells
    record = registry.records["test_good_cell"]
    assert (record.dist, record.version) == (TEST_DIST, test_dist_version)
    cell = registry.get("test_good_cell")(3, 4)
    h, state = cell(torch.zeros(2, 3), cell.init_state(2))
    assert h.shape == (2, 4) and len(state) == 1
    groups = cell.parameter_groups()
    assert {k: len(v) for k, v in groups.items()} == {"input": 1, "recurrent": 1, "bias": 1}


# --- listing imports nothing heavy ------------------------------------------------------------


def test_discovery_and_names_import_no_torch() -> None:
    script = (
        "import sys\n"
        "from pipeline.plugins import GROUPS, discover\n"
        "names = [n for kind in GROUPS for n in discover(kind).names()]\n"
        "assert 'lstm' in names, names\n"
        "print(sorted(m for m in ('torch', 'lightning', 'mlflow') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [("--help",), ("plugins", "list"), ("plugins", "list", "--json")])
def test_help_and_listing_import_no_heavy_module(args: tuple[str, ...]) -> None:
    result = run_pipeline(*args, python_options=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "pipeline.cli" in imported  # the console script really ran under -X importtime
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert heavy == []


# --- a broken plugin: isolated when listing, fatal when asked ---------------------------------


def test_listing_includes_the_image_encoders_group() -> None:
    result = run_pipeline("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["plugins"]
    encoders = {r["name"] for r in rows if r["group"] == "rnn_pipeline.image_encoders"}
    assert encoders >= BUILTIN["image_encoders"]
    table = run_pipeline("plugins", "list").stdout.splitlines()
    line = next(x for x in table if x.startswith("resnet50 "))
    assert line.split()[1:3] == ["rnn_pipeline.image_encoders", "rnn-pipeline"]


def test_listing_shows_broken_plugin_unchecked(test_dist_version: str) -> None:
    result = run_pipeline("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows["test_broken_cell"]["status"] == "not checked"
    assert rows["test_broken_cell"]["distribution"] == TEST_DIST
    assert rows["test_broken_cell"]["version"] == test_dist_version
    assert {row["status"] for row in rows.values()} == {"not checked"}

    table = run_pipeline("plugins", "list")
    assert table.returncode == 0, table.stderr
    line = next(x for x in table.stdout.splitlines() if x.startswith("test_broken_cell"))
    assert line.endswith("not checked")


def test_check_reports_broken_plugins_and_fails(test_dist_version: str) -> None:
    result = run_pipeline("plugins", "check", "--json")
    assert result.returncode == 1, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    broken = rows["test_broken_cell"]
    assert broken["status"] == "broken"
    for fact in ("test_broken_cell", TEST_DIST, test_dist_version, "nonexistent_dep"):
        assert fact in broken["error"]
    assert rows["test_not_callable"]["status"] == "broken"
    assert "contract" in rows["test_not_callable"]["error"]
    incomplete = rows["test_incomplete_task"]
    assert incomplete["status"] == "broken"
    assert (
        "does not implement predict() (required by pipeline.interfaces.Task)"
        in (incomplete["error"])
    )
    others = {n: r["status"] for n, r in rows.items() if n not in BROKEN}
    assert set(others.values()) == {"loaded"}
    assert set().union(*BUILTIN.values(), {"test_good_cell"}) <= set(others)


def test_check_passes_with_broken_plugins_blocked() -> None:
    # Blocking only test_broken_cell still leaves the other two broken, so all are blocked.
    blocked = "test_broken_cell,initializers:test_not_callable,tasks:test_incomplete_task"
    result = run_pipeline("plugins", "check", "--json", env={BLOCK_ENV: blocked})
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows["test_broken_cell"]["status"] == "blocked"
    assert rows["test_not_callable"]["status"] == "blocked"
    assert rows["test_incomplete_task"]["status"] == "blocked"
    assert rows["test_good_cell"]["status"] == "loaded"


def test_get_broken_plugin_raises_with_its_origin(test_dist_version: str) -> None:
    registry = default_registries().cells
    assert "test_broken_cell" in registry.names()  # found; importing is what fails
    for _ in range(2):  # a failure is not cached as a success
        with pytest.raises(PluginError) as raised:
            registry.get("test_broken_cell")
        message = str(raised.value)
        for fact in ("test_broken_cell", TEST_DIST, test_dist_version, "nonexistent_dep"):
            assert fact in message
        assert f"{BLOCK_ENV}=cells:test_broken_cell" in message
        assert isinstance(raised.value.__cause__, ImportError)
    assert registry.get("lstm").__name__ == "LSTMCell"  # the rest still works


def test_get_plugin_breaking_its_contract_raises() -> None:
    from pipeline.contracts import ContractError

    registry = default_registries().initializers
    with pytest.raises(
        PluginError, match="test_not_callable.*breaks the contract.*not callable"
    ) as raised:
        registry.get("test_not_callable")
    assert isinstance(raised.value.__cause__, ContractError)
    assert "rnn-pipeline-testplugins" in str(raised.value)  # the wrapper adds the origin


def test_contracts_import_without_the_plugin_machinery() -> None:
    code = "import sys, pipeline.contracts; print('pipeline.plugins' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_unknown_name_suggests_close_matches() -> None:
    registry = discover("cells", blocked=frozenset())
    with pytest.raises(PluginError) as raised:
        registry.get("lstn")
    message = str(raised.value)
    assert "Did you mean 'lstm'" in message
    assert "Available: " + ", ".join(registry.names()) in message
    assert "rnn_pipeline.cells" in message


# --- duplicates -------------------------------------------------------------------------------


def test_two_distributions_claiming_one_name_conflict(tmp_path: Path) -> None:
    alpha = write_dist(tmp_path / "a", "alpha-cells", "1.0", {"dup_cell": "alpha_cells:Cell"})
    beta = write_dist(
        tmp_path / "b", "beta-cells", "2.3", {"dup_cell": "beta_cells:Cell", "solo": "beta:S"}
    )
    registry = discover(
        "cells", entry_points=[*alpha.entry_points, *beta.entry_points], blocked=frozenset()
    )
    assert registry.names() == ["dup_cell", "solo"]
    with pytest.raises(PluginError) as raised:
        registry.get("dup_cell")
    message = str(raised.value)
    for fact in ("dup_cell", "alpha-cells 1.0", "alpha_cells:Cell", "beta-cells 2.3"):
        assert fact in message
    assert "failed to import" not in message  # refused before importing either

    rows = {r["name"]: r for r in plugin_rows(empty_registries(cells=registry), load=False)}
    assert rows["dup_cell"]["status"] == "conflict"
    assert "beta-cells" in rows["dup_cell"]["error"]
    assert rows["solo"]["status"] == "not checked"


def test_one_distribution_listed_twice_is_not_a_conflict(tmp_path: Path) -> None:
    # An editable install can put the same distribution on the path twice.
    cells = {"dup_cell": "gamma_cells:Cell"}
    first = write_dist(tmp_path / "site", "gamma-cells", "0.1", cells)
    second = write_dist(tmp_path / "src", "gamma-cells", "0.1", cells)
    registry = discover(
        "cells", entry_points=[*first.entry_points, *second.entry_points], blocked=frozenset()
    )
    assert registry.conflicts == {}
    assert registry.records["dup_cell"].dist == "gamma-cells"
    rows = plugin_rows(empty_registries(cells=registry), load=False)
    assert [(r["name"], r["status"]) for r in rows] == [("dup_cell", "not checked")]


# --- blocking ---------------------------------------------------------------------------------


def test_blocked_names_by_kind() -> None:
    assert blocked_names("initializers", "cells:lstm,zeros") == {"zeros"}
    assert blocked_names("cells", "cells:lstm,zeros") == {"lstm", "zeros"}
    assert blocked_names("tasks", " , cells:lstm ,") == frozenset()


def test_blocked_plugin_is_hidden_and_refused() -> None:
    registry = discover("cells", blocked=blocked_names("cells", "cells:lstm,zeros"))
    assert "lstm" not in registry.names()
    assert "gru" in registry.names()
    with pytest.raises(PluginError, match=BLOCK_ENV):
        registry.get("lstm")


def test_block_environment_variable_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BLOCK_ENV, "cells:gru,initializers:gru")
    assert "gru" not in discover("cells").names()
    assert "zeros" in discover("initializers").names()


# --- local registration -----------------------------------------------------------------------


def test_register_adds_a_local_component_and_rejects_duplicates() -> None:
    registry = discover("cells", blocked=frozenset())

    class Local:
        pass

    registry.register("local_cell", Local)
    assert registry.get("local_cell") is Local
    assert "local_cell" in registry.names()
    assert registry.records["local_cell"].dist == "<local>"
    with pytest.raises(PluginError, match="already registered"):
        registry.register("local_cell", object())
    with pytest.raises(PluginError, match="already registered"):
        registry.register("lstm", object())  # an installed entry point's name


# --- contracts --------------------------------------------------------------------------------


def bad_plugins() -> list[tuple[str, object, str]]:
    """(kind, plugin, fragment of the message) for plugins each breaking one rule."""
    from pipeline.interfaces import Cell, DataFacts, ImageEncoder, Task

    class NoStep(Cell):
        pass

    class IdentityStep(Cell):
        def step(self, p_t: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
            return state[0], state

    class BadFused(IdentityStep):
        fused_mode = "LSTM_FAST"

    class BadStateSize(IdentityStep):
        state_size = 0

    @dataclasses.dataclass
    class TaskOptions:
        pass

    class BadMonitor(Task):
        Options = TaskOptions
        monitor = "val_accuracy"
        metric_names = ("loss", "perplexity")

    class NoOptions(Task):
        pass

    class OnlyData(Task):
        Options = TaskOptions

        def prepare_data(self, cache_dir: Path) -> DataFacts:
            return DataFacts()

        def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> list[object]:
            return []

    def no_generator(tensor: Tensor) -> None:
        return None

    class NoGridShape(ImageEncoder):
        def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
            return images, images

    class NoForward(ImageEncoder):
        def grid_shape(self) -> tuple[int, int]:
            return 1, 1

    class TwoChannelMean(NoGridShape):
        grid_shape = NoForward.grid_shape
        mean = (0.5, 0.5)  # type: ignore[assignment]

    class ZeroStd(TwoChannelMean):
        mean = (0.5, 0.5, 0.5)
        std = (0.2, 0.0, 0.2)

    return [
        ("cells", dict, "is not a subclass of pipeline.interfaces.Cell"),
        ("cells", NoStep, "does not implement step"),
        ("cells", BadFused, "fused_mode 'LSTM_FAST' not in"),
        ("cells", BadStateSize, "state_size must be an int >= 1"),
        ("initializers", 42, "is not callable"),
        ("initializers", no_generator, "no keyword argument 'generator'"),
        ("tasks", Cell, "is not a subclass of pipeline.interfaces.Task"),
        ("tasks", BadMonitor, "monitor 'val_accuracy' is not one of"),
        ("tasks", NoOptions, "Options must be a dataclass"),
        (
            "tasks",
            OnlyData,
            "it does not implement build_network(), load_artifacts(), metrics(), predict(), "
            "save_artifacts(), step() (required by pipeline.interfaces.Task)",
        ),
        ("image_encoders", Cell, "is not a subclass of pipeline.interfaces.ImageEncoder"),
        ("image_encoders", NoGridShape, "does not implement grid_shape()"),
        ("image_encoders", NoForward, "does not implement forward()"),
        ("image_encoders", TwoChannelMean, "mean must be 3 numbers (R, G, B)"),
        ("image_encoders", ZeroStd, "std must be > 0"),
    ]


def test_contracts_reject_each_broken_rule() -> None:
    from pipeline import contracts
    from pipeline.errors import UserError

    for kind, plugin, problem in bad_plugins():
        with pytest.raises(contracts.ContractError) as raised:
            contracts.VALIDATORS[kind]("my_plugin", plugin)
        message = str(raised.value)
        assert f"{kind} plugin 'my_plugin' breaks the contract" in message, (kind, plugin)
        assert problem in message, (kind, plugin, message)
        assert isinstance(raised.value, UserError)  # the CLI prints it on one line


def test_contracts_accept_builtins_and_third_party(test_dist_version: str) -> None:
    registries = default_registries()
    for kind, registry in registries.by_kind().items():
        for name in sorted(BUILTIN[kind]):
            assert registry.get(name) is not None
    assert registries.cells.get("test_good_cell").__name__ == "ScaledTanhCell"
