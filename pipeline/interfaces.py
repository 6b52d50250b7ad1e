"""The plugin contracts: Cell, Initializer, Task, Tokenizer, ImageEncoder.

A plugin is one entry point in one of the groups ``rnn_pipeline.cells``,
``rnn_pipeline.initializers``, ``rnn_pipeline.tasks``, ``rnn_pipeline.tokenizers`` or
``rnn_pipeline.image_encoders``; its entry-point name is the name a config uses
(``model.cell: lstm``, ``tokenizer.kind: word``). Built-in plugins follow exactly these contracts.

Shapes: B batch, T time steps, D input features, H hidden units, V vocabulary size; images:
S image side, N grid cells, F grid features, P pooled features.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
from torch import Tensor, nn
from tqdm import tqdm

from pipeline.image_encoder_contract import ImageEncoder as ImageEncoder  # re-exported

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config

State = list[Tensor]
"""A cell's state: a list of tensors, each (B, H); ``state[0]`` is the hidden state h."""

FUSED_MODES = ("LSTM", "GRU", "RNN_TANH", "RNN_RELU")


class Cell(nn.Module):
    """One time step of a recurrent layer: ``h_t, state_t = cell(x_t, state_{t-1})``.

    Construct as ``Cell(input_size, hidden_size, **options)``; ``options`` come from
    ``model.cell_options`` in the config, which is checked against the parameters of
    ``__init__`` after ``hidden_size`` (names, required ones, annotated types) before any data
    is read. Value checks that need no tensor go in an optional ``validate_options(**options)``
    staticmethod or classmethod: the config calls it with every option (defaults filled in)
    and reports the ``ValueError`` or ``pipeline.errors.OptionError`` it raises; call it from
    ``__init__`` too. Implement :meth:`step` (and optionally :meth:`project`); the core's
    recurrent runner turns the cell into a sequence layer with layers, both directions,
    padding and compilation.

    Class attributes:
        state_size: how many (B, H) tensors the state holds (1 for RNN and GRU, 2 for LSTM).
        fused_mode: one of ``FUSED_MODES`` when the cell can run the whole sequence with
            torch's fused kernels (cuDNN on GPUs). Such a cell must name its parameters
            ``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H), ``bias_ih`` (G*H) and
            ``bias_hh`` (G*H) in torch's gate order, so both paths compute the same function.
    """

    state_size: ClassVar[int] = 1
    fused_mode: ClassVar[str | None] = None

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size

    def init_state(
        self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """Zero initial state h_0: ``state_size`` tensors of shape (B, H)."""
        shape = (batch, self.hidden_size)
        return [torch.zeros(shape, device=device, dtype=dtype) for _ in range(self.state_size)]

    def project(self, x: Tensor) -> Tensor:
        """Input-side transform applied once to the whole sequence before stepping.

        (..., D) -> (..., P). The default is the identity; a cell whose step starts with a
        matrix product of the input (``W_e e_t``) moves it here, so the runner computes it for
        all time steps in one matrix multiplication.
        """
        return x

    def step(self, p_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step on a projected input ``p_t`` (B, P): returns h_t (B, H) and the state."""
        raise NotImplementedError(f"{type(self).__name__} must implement step(p_t, state)")

    def forward(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step on a raw input ``x_t`` (B, D): returns h_t (B, H) and the new state."""
        return self.step(self.project(x_t), state)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by initializer group: ``input``, ``recurrent`` and ``bias``.

        The default sorts by name: ``weight_ih*`` input, ``weight_hh*`` recurrent, ``bias*``
        bias. Override when your names differ; unlisted parameters keep their own init
        always (no ``init.*`` key reaches them).
        """
        groups: dict[str, list[nn.Parameter]] = {"input": [], "recurrent": [], "bias": []}
        for name, parameter in self.named_parameters(recurse=False):
            if name.startswith("weight_ih"):
                groups["input"].append(parameter)
            elif name.startswith("weight_hh"):
                groups["recurrent"].append(parameter)
            elif name.startswith("bias"):
                groups["bias"].append(parameter)
        return groups

    def own_init(self) -> Collection[str]:
        """Names of this cell's own parameters (``named_parameters(recurse=False)``) whose
        initial values ``__init__`` set and the group initializers must keep.

        A declared parameter stays in its group, and keeps its values unless the user chooses
        that group's initializer explicitly (``init.<group>`` other than its default, or
        ``init.options.<group>``). Declare what an option sets, e.g. an LSTM's
        ``forget_bias``; the default declares nothing. Any ``nn.Module`` of a task network
        may define the same method (see :func:`pipeline.initialization.declared_parameters`).
        """
        return ()


class Initializer(Protocol):
    """Fill ``tensor`` in place: ``fn(tensor, *, generator=None, **options) -> dict | None``.

    Use only ``generator`` for randomness, so the same seed gives the same weights. Options
    come from ``init.options.<group>`` in the config, which is checked against the keyword
    parameters (names, required ones, annotated types) before any data is read. Name a
    ``vocab`` keyword parameter to receive the token of each embedding row. Value checks that
    need no tensor go in an optional ``validate_options(**options)`` attribute (attach it with
    ``pipeline.component_options.validated_by``): the config calls it with every option
    (defaults filled in) and reports the ``ValueError`` or ``pipeline.errors.OptionError`` it
    raises; call it first in the initializer too. Return None, or a small dict of facts worth
    logging as run params (e.g. how many words pretrained vectors covered).
    """

    def __call__(
        self, tensor: Tensor, *, generator: torch.Generator | None = None, **options: Any
    ) -> dict[str, float] | None: ...


@dataclass
class StepResult:
    """What a task's step returns: the loss to back-propagate and the state to carry on."""

    loss: Tensor
    """Scalar mean loss of the batch."""
    carry: Any = None
    """State handed to the next batch of the same split and epoch (e.g. an LM's hidden state)."""


@dataclass
class DataFacts:
    """Facts a task reports after preparing its data; logged as run params."""

    sizes: dict[str, int] = field(default_factory=dict)
    """Examples (or tokens) per split, e.g. ``{"train": 9000, "validation": 500}``."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class NoPredictOptions:
    """``Task.PredictOptions`` of a task whose ``predict`` takes no options."""


class Task(ABC):
    """Everything task-specific: data to tensors, the network, the loss, metrics, prediction.

    One shared LightningModule drives every task; the core never branches on a task's name.
    A task is constructed as ``Task(cfg)`` with the resolved config; its own options are the
    dataclass ``Options`` and arrive as ``cfg.task.options`` (validated like any config key).

    Life cycle in ``train``: ``prepare_data`` (reads and tokenises, cached), ``save_artifacts``
    (tokenizer, label maps; logged with the run), ``build_network``, then per batch ``step``.
    For ``predict``/``evaluate`` on a finished run: ``load_artifacts`` then ``build_network``.

    The abstract methods are required (``pipeline plugins check`` names any that a task
    lacks); ``config_problems``, ``vocabulary``, ``embedding_vocabularies``, ``describe`` and
    ``write_reports`` have defaults.
    """

    Options: ClassVar[type] = object
    """Dataclass of the task's options (``task.<option>`` keys in the config)."""
    monitor: ClassVar[str] = "val_loss"
    """Metric that early stopping, best checkpoints and tuning watch."""
    monitor_mode: ClassVar[str] = "min"
    metric_names: ClassVar[Sequence[str]] = ("loss",)
    """Metrics logged per split as ``{split}_{name}`` (split in train, val, test)."""
    PredictOptions: ClassVar[type] = NoPredictOptions
    """Dataclass of the options of :meth:`predict` (``pipeline predict --option KEY=VALUE``):
    one typed field with a default each, ``metadata={"help": ...}`` for ``--help-options``."""
    uses_tokenizer: ClassVar[bool] = True
    """Whether the ``tokenizer`` config section applies; False: no ``tokenizer.*`` params."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.options = cfg.task.options

    @classmethod
    def config_problems(cls, cfg: Config) -> list[str]:
        """Problems with settings this task cannot use, each naming the key and the fix."""
        return []

    @abstractmethod
    def prepare_data(self, cache_dir: Path) -> DataFacts:
        """Read the splits, fit the tokenizer on train (unless loaded), tokenise (cached)."""

    @abstractmethod
    def save_artifacts(self, directory: Path) -> None:
        """Write what prediction needs besides weights (tokenizer, label maps) to directory."""

    @abstractmethod
    def load_artifacts(self, directory: Path) -> None:
        """Read back what :meth:`save_artifacts` wrote."""

    def vocabulary(self) -> Sequence[str] | None:
        """Token of each embedding row (for pretrained vectors), or None without a vocabulary."""
        return None

    def embedding_vocabularies(self) -> Mapping[str, Sequence[str]]:
        """Vocabularies of embeddings whose rows are not :meth:`vocabulary`'s, keyed by the
        embedding's module path in the network (e.g. ``decoder.embedding``); default none."""
        return {}

    @abstractmethod
    def build_network(self, components: Components) -> nn.Module:
        """The task's network, built from the registered cells via ``components``."""

    @abstractmethod
    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> Any:
        """Batches of split (train, val, test) for this process; each rank gets its own shard."""

    @abstractmethod
    def metrics(self) -> dict[str, Any]:
        """Fresh torchmetrics ``Metric`` objects keyed by ``metric_names`` (one set per split)."""

    @abstractmethod
    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        """Loss of one batch; update ``metrics`` in place. ``carry`` is None at epoch start."""

    @abstractmethod
    def predict(
        self, network: nn.Module, texts: Sequence[str], **options: Any
    ) -> list[dict[str, Any]]:
        """Predictions from raw text, one JSON-ready dict per input text.

        ``options``: every field of :attr:`PredictOptions`, checked, defaults filled in (none
        when the task declares none)."""

    def describe(self, prediction: dict[str, Any]) -> str:
        """One prediction as readable text for the terminal."""
        return str(prediction)

    def write_reports(self, network: nn.Module, directory: Path) -> None:
        """Optional: write report files (plots, tables) about the trained network.

        Called once on rank 0 after testing, with the best weights loaded; whatever lands in
        ``directory`` is logged under the run's ``reports/`` artifacts. Default: nothing.
        """
        return None


SPECIAL_TOKENS = ("<pad>", "<unk>", "<eos>")
PAD_ID, UNK_ID, EOS_ID = 0, 1, 2
"""Ids every tokenizer reserves for the ``SPECIAL_TOKENS`` ``<pad>``, ``<unk>``, ``<eos>``."""
TOKENIZER_FILE = "tokenizer.json"


class Tokenizer(ABC):
    """Text <-> token ids: fitted on the training text, saved with the run, loaded to predict.

    Construction: ``Tokenizer(**settings, **options)``, where ``settings`` are those of
    ``tokenizer.vocab_size``, ``min_frequency``, ``lowercase``, ``model_type`` and
    ``character_coverage`` that ``__init__`` names as parameters, and ``options`` is
    ``tokenizer.options``, checked against the other parameters of ``__init__`` (names,
    required ones, annotated types) before any data is read. Every tokenizer reserves
    ``<pad>`` = ``PAD_ID`` (0), ``<unk>`` = ``UNK_ID`` (1) and ``<eos>`` = ``EOS_ID`` (2);
    ``decode`` drops ``<pad>`` and ``<eos>``.

    Saving: :meth:`save` writes ``tokenizer.json`` holding ``kind`` and :meth:`state`, plus
    whatever :meth:`save_files` writes; ``pipeline.tokenizers.load_tokenizer(directory)``
    finds the plugin registered under that ``kind`` and calls its :meth:`from_state`.

    Class attributes:
        kind: the entry-point name (``tokenizer.kind``); it is saved, so keep it stable.
    """

    kind: ClassVar[str] = ""
    pad_id: ClassVar[int] = PAD_ID
    unk_id: ClassVar[int] = UNK_ID
    eos_id: ClassVar[int] = EOS_ID

    @abstractmethod
    def fit(self, lines: Iterable[str]) -> None:
        """Learn the vocabulary from training lines (replaces any earlier vocabulary)."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of one text, without an end marker."""

    @abstractmethod
    def tokens(self, text: str) -> list[str]:
        """The token strings ``encode`` produces ids for (for display)."""

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Text of a sequence of ids (``<pad>`` and ``<eos>`` are dropped)."""

    @abstractmethod
    def id_to_token(self, i: int) -> str:
        """Token string of an id; ``IndexError`` outside ``[0, len(self))``."""

    @abstractmethod
    def token_to_id(self, token: str) -> int:
        """Id of a token string; ``unk_id`` for tokens outside the vocabulary."""

    @property
    @abstractmethod
    def vocab(self) -> list[str]:
        """All token strings, the index being the id; empty before fitting."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """JSON-ready settings and learned state for ``tokenizer.json`` (without ``kind``)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> Tokenizer:
        """The fitted tokenizer that :meth:`state` and :meth:`save_files` describe."""

    def save_files(self, directory: Path) -> None:
        """Optional: write files besides ``tokenizer.json`` (e.g. a model). Default: none."""
        return None

    def encode_lines(
        self, lines: Sequence[str], eos: bool, progress: bool = False
    ) -> list[list[int]]:
        """Ids of each line, with ``eos_id`` appended when eos; a progress bar for big inputs."""
        show = progress and len(lines) > 50_000
        encoded: list[list[int]] = []
        with tqdm(total=len(lines), desc="tokenizing", unit="line", disable=not show) as bar:
            for start in range(0, len(lines), 10_000):
                chunk = self.encode_batch(lines[start : start + 10_000])
                encoded.extend([*ids, self.eos_id] if eos else ids for ids in chunk)
                bar.update(len(chunk))
        return encoded

    def encode_batch(self, lines: Sequence[str]) -> list[list[int]]:
        """Ids of several lines; override when the library encodes batches faster."""
        return [self.encode(line) for line in lines]

    def __len__(self) -> int:
        return len(self.vocab)

    def save(self, directory: Path) -> None:
        """Write ``tokenizer.json`` (and :meth:`save_files`) into directory, creating it."""
        if not self.vocab:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or load it")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.save_files(directory)
        text = json.dumps({"kind": self.kind, **self.state()}, ensure_ascii=False, indent=1)
        (directory / TOKENIZER_FILE).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Tokenizer:
        """The tokenizer saved in directory, of any kind (see ``pipeline.tokenizers``)."""
        from pipeline.tokenizers import load_tokenizer

        return load_tokenizer(directory)


CellFactory = Callable[[int, int], Cell]
"""``factory(input_size, hidden_size) -> Cell`` with the configured options bound."""
