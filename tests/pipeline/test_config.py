"""Behaviour tests for the typed run configuration: files, extends, overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pipeline.config import (
    ConfigError,
    build_config,
    dump_yaml,
    flatten,
    get_key,
    load_config,
    load_yaml,
    read_yaml,
    to_dict,
)
from pipeline.errors import OptionError
from pipeline.plugins import Registries, default_registries
from plugins.cells.rnn import TanhRNNCell

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
TUNE = CONF / "tune"


def yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


CONFIG_FILES = [p for p in yaml_files(CONF) if TUNE not in p.parents]


@pytest.fixture(scope="module")
def regs() -> Registries:
    return default_registries()


class ScaledCell(TanhRNNCell):
    """A test-only cell with one option and its own value check: tanh(scale * (Wx + Wh + b))."""

    fused_mode = None

    def __init__(self, input_size: int, hidden_size: int, scale: float = 1.0) -> None:
        self.validate_options(scale=scale)
        super().__init__(input_size, hidden_size)
        self.scale = scale

    @staticmethod
    def validate_options(*, scale: float) -> None:
        if scale <= 0:
            raise OptionError(f"scaled: option 'scale' must be > 0, got {scale!r}")

    def step(self, p_t: torch.Tensor, state: list[torch.Tensor]):
        h = torch.tanh(self.scale * (p_t + self.recurrent(state[0])))
        return h, [h]


@pytest.fixture(scope="module")
def regs_scaled() -> Registries:
    """The installed plugins plus the ``scaled`` cell."""
    registries = default_registries()
    registries.cells.register("scaled", ScaledCell)
    return registries


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return error.value.problems


def the_problem(problems: list[str], key: str) -> str:
    """The single problem that starts with key (the key is named first)."""
    matching = [p for p in problems if p.startswith(f"{key}:") or p.startswith(f"{key} ")]
    assert len(matching) == 1, (key, problems)
    return matching[0]


# ----------------------------------------------------------------------------- conf/ files


def test_conf_holds_the_base_and_experiment_configs() -> None:
    names = {p.relative_to(CONF).as_posix() for p in CONFIG_FILES}
    assert "base.yaml" in names
    assert any(name.startswith("experiment/") for name in names)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.relative_to(CONF).as_posix())
def test_every_config_file_loads_and_names_its_command(path: Path, regs: Registries) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("# pipeline "), f"{path}: first line {first_line!r}"
    cfg = load_config(path, [], regs)
    assert get_key(cfg, "task.name") in regs.tasks.names()


def test_every_search_space_names_its_command() -> None:
    # conf/tune/ holds search spaces, not configs; it may be empty, and then this checks nothing.
    for path in yaml_files(TUNE):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines, f"{path} is empty"
        assert lines[0].startswith("# pipeline "), f"{path}: first line {lines[0]!r}"


def test_base_yaml_lists_every_key_with_its_default(regs: Registries) -> None:
    defaults = flatten(to_dict(build_config({}, regs)))
    loaded = flatten(to_dict(load_config(CONF / "base.yaml", [], regs)))
    assert loaded == defaults
    # Not only equal after filling in defaults: the file itself spells out every core key.
    # Task options (task.bptt, ...) belong to each task; base.yaml, shared by every task's
    # experiments, names only the task.
    core = {k: v for k, v in defaults.items() if not k.startswith("task.") or k == "task.name"}
    written = flatten(read_yaml(CONF / "base.yaml"))
    assert written == core


# ----------------------------------------------------------------------------- extends


def test_extends_merges_nested_keys_relative_to_the_file(tmp_path: Path, regs: Registries) -> None:
    write(
        tmp_path / "base.yaml",
        "# pipeline train base.yaml\nmodel:\n  cell: gru\n  hidden_size: 64\noptim:\n  lr: 0.5\n",
    )
    child = write(
        tmp_path / "experiment" / "child.yaml",
        "extends: ../base.yaml\nmodel:\n  hidden_size: 32\ntask:\n  bptt: 7\n",
    )
    cfg = load_config(child, [], regs)
    assert cfg.model.cell == "gru"  # from the parent
    assert cfg.model.hidden_size == 32  # the child wins
    assert cfg.optim.lr == 0.5
    assert get_key(cfg, "task.bptt") == 7
    assert cfg.model.embedding_size == 200  # schema default under both


def test_extends_chain_of_two(tmp_path: Path, regs: Registries) -> None:
    write(tmp_path / "a.yaml", "model:\n  cell: gru\n  num_layers: 3\noptim:\n  lr: 0.1\n")
    write(tmp_path / "sub" / "b.yaml", "extends: ../a.yaml\nmodel:\n  num_layers: 1\n")
    c = write(tmp_path / "sub" / "c.yaml", "extends: b.yaml\noptim:\n  name: adam\n")
    cfg = load_config(c, [], regs)
    assert (cfg.model.cell, cfg.model.num_layers) == ("gru", 1)
    assert (cfg.optim.name, cfg.optim.lr) == ("adam", 0.1)


def test_overrides_win_over_files(tmp_path: Path, regs: Registries) -> None:
    path = write(tmp_path / "run.yaml", "model:\n  cell: gru\n  hidden_size: 64\n")
    cfg = load_config(path, ["model.cell=rnn_tanh"], regs)
    assert (cfg.model.cell, cfg.model.hidden_size) == ("rnn_tanh", 64)


# ----------------------------------------------------------------------------- overrides


def test_overrides_are_typed(regs: Registries) -> None:
    cfg = load_config(
        None,
        ["model.cell=gru", "optim.lr=1e-3", "trainer.devices=2", "model.cell_options={}"],
        regs,
    )
    assert cfg.model.cell == "gru" and isinstance(cfg.model.cell, str)
    assert cfg.optim.lr == 0.001 and type(cfg.optim.lr) is float
    assert cfg.trainer.devices == 2 and type(cfg.trainer.devices) is int
    assert cfg.model.cell_options == {}


def test_exponent_floats_in_yaml_files(tmp_path: Path, regs: Registries) -> None:
    path = write(tmp_path / "run.yaml", "optim:\n  lr: 1e-3\n  weight_decay: 5E-5\n")
    cfg = load_config(path, [], regs)
    assert cfg.optim.lr == 0.001 and type(cfg.optim.lr) is float
    assert cfg.optim.weight_decay == 5e-5 and type(cfg.optim.weight_decay) is float
    assert load_yaml("x: 1e-3") == {"x": 0.001}


def test_integer_for_a_float_key_becomes_float(regs: Registries) -> None:
    cfg = load_config(None, ["optim.lr=2"], regs)
    assert cfg.optim.lr == 2.0 and type(cfg.optim.lr) is float


def test_override_without_equals_is_a_config_error(regs: Registries) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["model.cell=gru", "model.cell"], regs)
    assert "'model.cell'" in str(error.value)
    assert len(problems_of(error)) == 1


# ----------------------------------------------------------------------------- validation


def test_all_problems_are_reported_together(regs: Registries) -> None:
    overrides = [
        "model.cel=gru",
        "optim.lr=abc",
        "model.dropout=1.5",
        "optim.schedule=cosine",
        "model.cell=lstn",
        "init.options={nosuchgroup: {a: 1}}",
        "task.bpt=3",
    ]
    with pytest.raises(ConfigError) as error:
        load_config(None, overrides, regs)
    problems = problems_of(error)
    assert len(problems) == len(overrides), problems

    assert "model.cell" in the_problem(problems, "model.cel").split(":", 1)[1]
    assert "abc" in the_problem(problems, "optim.lr")
    assert "1.5" in the_problem(problems, "model.dropout")
    schedule = the_problem(problems, "optim.schedule")
    assert all(name in schedule for name in ("none", "step", "plateau"))
    assert "lstm" in the_problem(problems, "model.cell")
    assert "embedding" in the_problem(problems, "init.options.nosuchgroup")
    assert "task.bptt" in the_problem(problems, "task.bpt").split(":", 1)[1]
    # The error's text lists every one of them.
    assert all(problem in str(error.value) for problem in problems)


def test_unknown_task_name(regs: Registries) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["task.name=nope"], regs)
    problem = the_problem(problems_of(error), "task.name")
    assert "nope" in problem and "language_model" in problem


def test_language_model_refuses_a_bidirectional_encoder(regs: Registries) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["model.bidirectional=true"], regs)
    assert the_problem(problems_of(error), "model.bidirectional")


def test_tied_weights_need_equal_hidden_and_embedding_sizes(regs: Registries) -> None:
    overrides = ["task.tie_weights=true", "model.hidden_size=64", "model.embedding_size=32"]
    with pytest.raises(ConfigError) as error:
        load_config(None, overrides, regs)
    problem = the_problem(problems_of(error), "task.tie_weights")
    assert "64" in problem and "32" in problem
    # Equal sizes are fine.
    cfg = load_config(None, [*overrides[:2], "model.embedding_size=64"], regs)
    assert get_key(cfg, "task.tie_weights") is True


# ----------------------------------------------------------------------------- component options


def test_misspelt_and_mistyped_options_are_reported_with_the_rest(regs_scaled: Registries) -> None:
    overrides = [
        "model.cell=scaled",
        "model.cell_options={scael: 2.0}",
        "init.options.embedding.aa=1",
        "init.options.recurrent.gain=oops",
        "optim.lr=abc",
    ]
    with pytest.raises(ConfigError) as error:
        load_config(None, overrides, regs_scaled)
    problems = problems_of(error)
    assert len(problems) == 4, problems
    cell = the_problem(problems, "model.cell_options.scael")
    assert "model.cell=scaled" in cell and "did you mean model.cell_options.scale?" in cell
    embedding = the_problem(problems, "init.options.embedding.aa")
    assert "init.embedding=uniform" in embedding
    assert "did you mean init.options.embedding.a?" in embedding and "a, b" in embedding
    assert "expected float" in the_problem(problems, "init.options.recurrent.gain")
    assert "abc" in the_problem(problems, "optim.lr")


def test_components_own_value_checks_run_at_config_time(regs_scaled: Registries) -> None:
    overrides = [
        "model.cell=scaled",
        "model.cell_options={scale: -1.0}",
        "init.options.embedding.a=0.5",  # b keeps its default 0.1
        "init.options.recurrent.gain=-1",
    ]
    with pytest.raises(ConfigError) as error:
        load_config(None, overrides, regs_scaled)
    problems = problems_of(error)
    assert len(problems) == 3, problems
    assert "'scale' must be > 0" in the_problem(problems, "model.cell_options")
    embedding = the_problem(problems, "init.options.embedding")
    assert "init.embedding=uniform" in embedding and "a < b" in embedding and "0.1" in embedding
    assert "orthogonal" in the_problem(problems, "init.options.recurrent")

    cfg = load_config(None, ["model.cell=scaled", "model.cell_options={scale: 0.5}"], regs_scaled)
    assert cfg.model.cell_options == {"scale": 0.5}


def test_cell_without_options_says_so(regs: Registries) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["model.cell=gru", "model.cell_options={gate_bias: 1.0}"], regs)
    problem = the_problem(problems_of(error), "model.cell_options.gate_bias")
    assert "model.cell=gru takes no options" in problem


def test_pretrained_needs_a_path_and_gets_its_vocab_from_the_pipeline(
    tmp_path: Path, regs: Registries
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["init.embedding=pretrained"], regs)
    assert "required" in the_problem(problems_of(error), "init.options.embedding.path")

    overrides = ["init.embedding=pretrained", "init.options.embedding.fallback=nope"]
    with pytest.raises(ConfigError) as error:
        load_config(None, [*overrides, "init.options.embedding.path=v.txt"], regs)
    assert "'nope'" in the_problem(problems_of(error), "init.options.embedding")

    # The file is read (and its absence reported) when the embedding is initialised: a
    # finished run's config stays loadable for predict after its vector file moved.
    vectors = tmp_path / "moved.txt"
    overrides = ["init.embedding=pretrained", f"init.options.embedding.path={vectors}"]
    cfg = load_config(None, overrides, regs)
    assert cfg.init.options == {"embedding": {"path": str(vectors)}}
    with pytest.raises(ConfigError) as error:
        load_config(None, [*overrides, "init.options.embedding.vocab=[hola]"], regs)
    assert "supplies 'vocab'" in the_problem(problems_of(error), "init.options.embedding.vocab")


def test_fused_runner_needs_a_cell_with_a_fused_path(regs: Registries) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["model.cell=rnn_sigmoid", "model.runner=fused"], regs)
    assert "rnn_sigmoid" in the_problem(problems_of(error), "model.runner")


def test_a_broken_chosen_initializer_is_a_config_problem(regs: Registries) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["init.bias=test_not_callable"], regs)
    assert "breaks the contract" in the_problem(problems_of(error), "init.bias")


# ----------------------------------------------------------------------------- bad files


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path, regs: Registries) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as error:
        load_config(missing, [], regs)
    assert str(missing) in str(error.value)


def test_missing_extended_file_is_a_config_error(tmp_path: Path, regs: Registries) -> None:
    child = write(tmp_path / "child.yaml", "extends: gone.yaml\n")
    with pytest.raises(ConfigError) as error:
        load_config(child, [], regs)
    assert "gone.yaml" in str(error.value)


def test_non_utf8_file_is_a_config_error_naming_it(tmp_path: Path, regs: Registries) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("tracking:\n  experiment: año\n".encode("latin-1"))
    with pytest.raises(ConfigError) as error:
        load_config(path, [], regs)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_file_is_a_config_error_naming_it(
    tmp_path: Path, regs: Registries, text: str
) -> None:
    path = write(tmp_path / "list.yaml", text)
    with pytest.raises(ConfigError) as error:
        load_config(path, [], regs)
    assert str(path) in str(error.value)


def test_invalid_yaml_is_a_config_error_naming_it(tmp_path: Path, regs: Registries) -> None:
    path = write(tmp_path / "broken.yaml", "model: [unclosed\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, [], regs)
    assert str(path) in str(error.value)


# ----------------------------------------------------------------------------- output


def test_dotted_names_are_stable(regs: Registries) -> None:
    flat = flatten(to_dict(build_config({}, regs)))
    expected = {
        "model.cell": "lstm",
        "model.hidden_size": 200,
        "optim.lr": 1.0,
        "init.embedding": "uniform",
        "task.bptt": 35,
        "task.name": "language_model",
    }
    assert {key: flat[key] for key in expected} == expected
    assert all(key == key.strip() and " " not in key for key in flat)


def test_get_key_reads_task_options_and_sections(regs: Registries) -> None:
    cfg = load_config(None, ["task.bptt=12", "model.hidden_size=64"], regs)
    assert get_key(cfg, "task.bptt") == 12
    assert get_key(cfg, "model.hidden_size") == 64
    assert get_key(cfg, "task.name") == "language_model"


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        [
            "model.cell=scaled",
            "optim.lr=1e-5",
            "trainer.devices=2",
            "task.bptt=17",
            "model.cell_options={scale: 0.5}",
            "init.options={embedding: {a: -0.05, b: 0.05}}",
            "tracking.run_name=café",
            "data.train=some/file.txt",
        ],
    ],
    ids=["defaults", "changed"],
)
def test_dump_yaml_reloads_to_an_equal_config(
    regs_scaled: Registries, overrides: list[str]
) -> None:
    cfg = load_config(None, overrides, regs_scaled)
    again = build_config(load_yaml(dump_yaml(cfg)), regs_scaled)
    assert again == cfg
    assert flatten(to_dict(again)) == flatten(to_dict(cfg))


def test_experiment_files_dump_and_reload(regs: Registries) -> None:
    for path in CONFIG_FILES:
        cfg = load_config(path, [], regs)
        assert build_config(load_yaml(dump_yaml(cfg)), regs) == cfg, path
