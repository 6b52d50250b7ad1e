"""Tokenizers are plugins of ``rnn_pipeline.tokenizers``: a character tokenizer is added from
its own distribution without touching the core, chosen by ``tokenizer.kind`` (checked with
"did you mean"), configured through ``tokenizer.options``, saved with its kind and loaded back
by that kind. Registries are built from real ``importlib.metadata`` entry points and
distributions written to tmp_path; pyproject.toml must declare the built-ins.
"""

from __future__ import annotations

import json
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from pipeline.config import ConfigError, TokenizerConfig, build_config
from pipeline.contracts import validate_tokenizer
from pipeline.errors import TokenizerError
from pipeline.plugins import GROUPS, PluginError, Registries, Registry, discover
from pipeline.tokenizers import EOS_ID, UNK_ID, build_tokenizer, load_tokenizer
from plugins.tokenizers import SentencePieceTokenizer, WordTokenizer

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
GROUP = GROUPS["tokenizers"]

CHAR_PLUGIN = '''
from pathlib import Path
from typing import Any, Iterable

from pipeline.interfaces import EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, Tokenizer


class CharTokenizer(Tokenizer):
    """Every character a token; characters rarer than min_count map to <unk>."""

    kind = "char"

    def __init__(self, lowercase: bool = False, min_count: int = 1) -> None:
        self.lowercase, self.min_count = lowercase, min_count
        self.chars: list[str] = []

    def fit(self, lines: Iterable[str]) -> None:
        counts: dict[str, int] = {}
        for line in lines:
            for char in line.lower() if self.lowercase else line:
                counts[char] = counts.get(char, 0) + 1
        self.chars = sorted(c for c, n in counts.items() if n >= self.min_count)

    def encode(self, text: str) -> list[int]:
        ids = {c: i + len(SPECIAL_TOKENS) for i, c in enumerate(self.chars)}
        return [ids.get(c, UNK_ID) for c in (text.lower() if self.lowercase else text)]

    def tokens(self, text: str) -> list[str]:
        return list(text)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.id_to_token(i) for i in ids if i not in (PAD_ID, EOS_ID))

    def id_to_token(self, i: int) -> str:
        return self.vocab[i]

    def token_to_id(self, token: str) -> int:
        return self.vocab.index(token) if token in self.vocab else UNK_ID

    @property
    def vocab(self) -> list[str]:
        return [*SPECIAL_TOKENS, *self.chars] if self.chars else []

    def state(self) -> dict[str, Any]:
        return {"lowercase": self.lowercase, "min_count": self.min_count, "chars": self.chars}

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> "CharTokenizer":
        tokenizer = cls(state["lowercase"], state["min_count"])
        tokenizer.chars = state["chars"]
        return tokenizer


class Nameless(CharTokenizer):
    kind = "something_else"
'''


def declared(group: str) -> dict[str, str]:
    """``name = "value"`` lines of pyproject.toml's entry-point table of group (by hand:
    tomllib needs Python 3.11)."""
    table = PYPROJECT.read_text(encoding="utf-8").split(f'[project.entry-points."{group}"]\n')[1]
    lines = table.split("\n[")[0].splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {name.strip(): value.strip().strip('"') for name, value in pairs}


def registry_of(entry_points: list[metadata.EntryPoint]) -> Registry:
    return discover("tokenizers", entry_points, validator=validate_tokenizer, blocked=frozenset())


@pytest.fixture
def builtins() -> list[metadata.EntryPoint]:
    """The built-in tokenizers' entry points exactly as pyproject.toml declares them."""
    return [metadata.EntryPoint(name, value, GROUP) for name, value in declared(GROUP).items()]


@pytest.fixture
def char_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[metadata.EntryPoint]:
    """A third-party distribution 'chartok' on sys.path declaring the ``char`` tokenizer."""
    (tmp_path / "chartok.py").write_text(textwrap.dedent(CHAR_PLUGIN), encoding="utf-8")
    info = tmp_path / "chartok-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chartok\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{GROUP}]\nchar = chartok:CharTokenizer\nnameless = chartok:Nameless\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return list(metadata.PathDistribution(info).entry_points)


def test_pyproject_declares_the_builtins_as_tokenizer_plugins() -> None:
    assert declared(GROUP) == {
        "word": "plugins.tokenizers:WordTokenizer",
        "sentencepiece": "plugins.tokenizers:SentencePieceTokenizer",
    }


def test_builtins_load_through_their_entry_points_and_meet_the_contract(builtins) -> None:
    registry = registry_of(builtins)
    assert registry.get("word") is WordTokenizer
    assert registry.get("sentencepiece") is SentencePieceTokenizer
    cfg = TokenizerConfig(kind="sentencepiece", vocab_size=30, model_type="bpe", lowercase=True)
    built = build_tokenizer(cfg, registry)
    assert isinstance(built, SentencePieceTokenizer)
    assert (built.vocab_size, built.model_type, built.lowercase) == (30, "bpe", True)


def test_a_third_party_tokenizer_is_built_saved_and_loaded_by_its_kind(
    char_dist, builtins, tmp_path: Path
) -> None:
    registry = registry_of([*builtins, *char_dist])
    assert registry.records["char"].dist == "chartok"
    cfg = TokenizerConfig(kind="char", lowercase=True, options={"min_count": 2})
    tokenizer = build_tokenizer(cfg, registry)
    assert (tokenizer.lowercase, tokenizer.min_count) == (True, 2)  # setting and option
    tokenizer.fit(["Abba", "baba", "c"])
    assert tokenizer.vocab[3:] == ["a", "b"]
    assert tokenizer.encode_lines(["abc"], eos=True) == [[3, 4, UNK_ID, EOS_ID]]
    tokenizer.save(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "tokenizer.json").read_text())["kind"] == "char"
    loaded = load_tokenizer(tmp_path / "saved", registry)
    assert type(loaded).__name__ == "CharTokenizer" and loaded.vocab == tokenizer.vocab


def test_loading_a_kind_that_is_not_installed_names_it(builtins, tmp_path: Path) -> None:
    directory = tmp_path / "saved"
    directory.mkdir()
    (directory / "tokenizer.json").write_text('{"kind": "char", "chars": ["a"]}')
    with pytest.raises(TokenizerError, match=r"Unknown tokenizers plugin 'char'.*Install"):
        load_tokenizer(directory, registry_of(builtins))


def test_a_kind_other_than_the_entry_point_name_breaks_the_contract(char_dist) -> None:
    with pytest.raises(PluginError, match=r"kind is 'something_else'; set it to .*'nameless'"):
        registry_of(char_dist).get("nameless")


def registries_with(tokenizers: Registry) -> Registries:
    from pipeline.plugins import default_registries

    installed = default_registries()
    return Registries(installed.cells, installed.initializers, installed.tasks, tokenizers)


def test_the_config_checks_kind_and_options_against_the_registry(char_dist, builtins) -> None:
    registries = registries_with(registry_of([*builtins, *char_dist]))
    cfg = build_config({"tokenizer": {"kind": "char", "options": {"min_count": 3}}}, registries)
    assert cfg.tokenizer.options == {"min_count": 3}
    with pytest.raises(ConfigError) as error:
        build_config({"tokenizer": {"kind": "chr"}}, registries)
    assert "tokenizer.kind: Unknown tokenizers plugin 'chr'. Did you mean 'char'?" in str(
        error.value
    )
    bad = {"kind": "char", "options": {"min_cout": 3, "lowercase": True}}
    with pytest.raises(ConfigError) as error:
        build_config({"tokenizer": bad}, registries)
    problems = error.value.problems
    assert any("tokenizer.options.min_cout" in p and "did you mean" in p for p in problems)
    assert any("tokenizer.options.lowercase" in p for p in problems)  # a setting, not an option
    with pytest.raises(ConfigError, match=r"tokenizer.options.path: unknown option"):
        build_config({"tokenizer": {"options": {"path": "v.txt"}}}, registries)  # word's
