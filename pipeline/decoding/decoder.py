"""The attention decoder shared by seq2seq and captioning: one token per step, input feeding.

Shapes: B batch, S memory positions, M memory size, M_s summary size, E embedding size,
H hidden size (also the size of the attentional vector), V vocabulary size, L layers.

One step (Luong et al. 2015, with input feeding; the score is any of ``attention.py``)::

    x_t   = [dropout(E y_{t-1}) ; h~_{t-1}]              (B, E + H)  input feeding
    h_t   = stacked cells(x_t, state_{t-1})               (B, H)      dropout between layers
    c_t, a_t = attention(h_t, memory)                     (B, M), (B, S)
    h~_t  = dropout(tanh(W_c [c_t ; h_t]))                (B, H)      the attentional vector
    logits = W_o h~_t + b_o                               (B, V)

The output layer is outside the step: teacher-forced ``forward`` applies it once to every
step's h~_t (one (B*T, H) x (H, V) product and one gradient of W_o, not T of each), ``step``
(search) to the one step.

The initial state is the bridge ``tanh(W_b summary + b_b)``, split into every layer's
``cell.state_size`` tensors, and h~_0 = 0. With ``attention="none"`` the context is zero and the
decoder is the plain encoder-decoder (Sutskever et al. 2014; Cho et al. 2014).

Runners, as in ``pipeline.recurrent``: ``compiled`` runs the step through ``torch.compile``
(for any batch size and memory length), ``eager`` in Python; a
step that fails to compile falls back to eager with one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from pipeline.config import ConfigError
from pipeline.decoding.attention import build_attention
from pipeline.interfaces import Cell, CellFactory

__all__ = ["DECODER_RUNNERS", "AttentionDecoder", "DecoderState", "Memory", "unaliased"]

DECODER_RUNNERS = ("compiled", "eager")
"""The decoder's runners; ``model.runner``'s ``auto`` and ``fused`` mean ``compiled`` here,
since a decoder with input feeding cannot run a whole sequence in one fused kernel."""

StepOutput = tuple[Tensor, list[Tensor], Tensor]
"""The compiled step's outputs: h~_t (B, H), the cells' new states, attention weights (B, S)."""


@dataclass
class Memory:
    """What the decoder reads: encoder outputs (seq2seq) or an image's grid features."""

    values: Tensor
    """(B, S, M) the attended vectors."""
    mask: Tensor
    """(B, S) bool, True at real positions (False: padding)."""
    summary: Tensor
    """(B, M_s) what the bridge maps to the initial state (seq2seq: the top layer's final
    states of both directions concatenated; captioning: the pooled image vector)."""

    def repeat(self, k: int) -> Memory:
        """Each example k times in a row: (B * k, ...), rows ``b * k + j``."""
        return Memory(*(t.repeat_interleave(k, dim=0) for t in self._tensors()))

    def select(self, index: Tensor) -> Memory:
        """The rows ``index`` (B',) of every tensor."""
        return Memory(*(t.index_select(0, index) for t in self._tensors()))

    def _tensors(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.values, self.mask, self.summary


@dataclass
class DecoderState:
    """What the decoder carries from one step to the next (all rows are examples)."""

    cells: list[list[Tensor]]
    """Per layer, the cell's ``state_size`` tensors (B, H)."""
    feed: Tensor
    """(B, H) the previous attentional vector h~_{t-1} (input feeding)."""
    keys: Tensor
    """(B, S, K) the attention's projection of ``memory.values``, computed once by start()."""

    def select(self, index: Tensor) -> DecoderState:
        """The rows ``index`` (B',), e.g. to follow beam search's back-pointers."""
        return DecoderState(
            [[t.index_select(0, index) for t in layer] for layer in self.cells],
            self.feed.index_select(0, index),
            self.keys.index_select(0, index),
        )


class AttentionDecoder(nn.Module):
    """Target embedding -> stacked cells with input feeding -> attention -> logits.

    ``embedding`` (V, E) is the target side's (an ``nn.Embedding``, initializer group
    ``embedding``); with ``tie_embeddings`` the output layer reuses its weight (Press & Wolf
    2017), which needs E == H.
    """

    def __init__(
        self,
        cell_factory: CellFactory,
        embedding: nn.Embedding,
        hidden_size: int,
        num_layers: int,
        memory_size: int,
        summary_size: int,
        *,
        attention: str = "bahdanau",
        attention_score: str = "general",
        dropout: float = 0.0,
        tie_embeddings: bool = False,
        runner: str = "compiled",
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ConfigError([f"model.num_layers: {num_layers}; the decoder needs at least 1"])
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.vocab_size: int = embedding.num_embeddings
        self.embedding = embedding
        inputs = embedding.embedding_dim + hidden_size  # input feeding
        self.cells = nn.ModuleList(
            cell_factory(inputs if layer == 0 else hidden_size, hidden_size)
            for layer in range(num_layers)
        )
        self.state_size: int = self.cell(0).state_size
        self.bridge = nn.Linear(summary_size, num_layers * self.state_size * hidden_size)
        self.attention = build_attention(attention, attention_score, hidden_size, memory_size)
        self.combine = nn.Linear(memory_size + hidden_size, hidden_size, bias=False)  # W_c
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, self.vocab_size)
        if tie_embeddings:
            self._tie(embedding)
        self.runner = _decoder_runner(runner)
        self._compiled: Callable[..., StepOutput] | None = None

    def cell(self, layer: int) -> Cell:
        return cast(Cell, self.cells[layer])

    def _tie(self, embedding: nn.Embedding) -> None:
        if embedding.embedding_dim != self.hidden_size:
            raise ConfigError(
                [
                    f"task.tie_embeddings: the target embedding size "
                    f"({embedding.embedding_dim}) must equal the decoder's hidden size "
                    f"({self.hidden_size}), the size of the vector the output layer reads; "
                    "set them equal or tie_embeddings: false"
                ]
            )
        self.output.weight = embedding.weight

    # ------------------------------------------------------------------------- public steps

    def start(self, memory: Memory) -> DecoderState:
        """Initial state from ``memory.summary`` (the bridge), zero h~_0, attention keys."""
        batch = memory.summary.size(0)
        bridged = torch.tanh(self.bridge(memory.summary))  # (B, L * state_size * H)
        # (L * state_size) tensors (B, H), each its own (not a view), as the compiled step
        # returns them: it would be compiled again for views
        tensors = [t.clone() for t in bridged.view(batch, -1, self.hidden_size).unbind(1)]
        size = self.state_size
        cells = [tensors[i * size : (i + 1) * size] for i in range(self.num_layers)]
        # h~_0 = 0 requires grad like the h~_t that follow, or training would compile twice
        feed = bridged.new_zeros(batch, self.hidden_size).requires_grad_(bridged.requires_grad)
        return DecoderState(cells, feed, self.attention.prepare(memory.values))

    def step(
        self, tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState, Tensor]:
        """tokens (B,) -> logits (B, V), the next state, attention weights (B, S)."""
        attentional, state, weights = self._advance(tokens, state, memory)
        return self.output(attentional), state, weights

    def forward(
        self, inputs: Tensor, memory: Memory, teacher_forcing: float = 1.0
    ) -> tuple[Tensor, Tensor]:
        """inputs (B, T), start token first -> logits (B, T, V), attention (B, T, S).

        With ``teacher_forcing`` < 1 each example feeds back its own argmax instead of the
        next input token with probability ``1 - teacher_forcing`` at every step (training).
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ConfigError([f"teacher forcing ratio {teacher_forcing}: must be in [0, 1]"])
        memory = unaliased(memory)
        state = self.start(memory)
        tokens = inputs[:, 0]
        attentional, weights = [], []
        for t in range(inputs.size(1)):
            step_attentional, state, step_weights = self._advance(tokens, state, memory)
            attentional.append(step_attentional)
            weights.append(step_weights)
            if t + 1 < inputs.size(1):
                tokens = self._next_input(inputs[:, t + 1], step_attentional, teacher_forcing)
        return self.output(torch.stack(attentional, 1)), torch.stack(weights, 1)

    def _advance(
        self, tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState, Tensor]:
        """tokens (B,) -> h~_t (B, H), the next state, attention weights (B, S)."""
        flat = [t for layer in state.cells for t in layer]
        # one memory layout for every caller (a column of a batch is strided), so the
        # compiled step is not specialised again on strides
        attentional, flat, weights = self._run(
            tokens.contiguous(), state.feed, flat, memory.values, state.keys, memory.mask
        )
        size = self.state_size
        cells = [flat[i * size : (i + 1) * size] for i in range(self.num_layers)]
        return attentional, DecoderState(cells, attentional, state.keys), weights

    def _next_input(self, gold: Tensor, attentional: Tensor, teacher_forcing: float) -> Tensor:
        """The next step's tokens (B,): gold, or where sampled, the argmax of h~_t (B, H)."""
        if teacher_forcing >= 1.0:
            return gold
        keep = torch.rand(gold.shape, device=gold.device) < teacher_forcing
        with torch.no_grad():
            predicted = self.output(attentional).argmax(1)
        return torch.where(keep, gold, predicted)

    # ------------------------------------------------------------------------- the step

    def _step(
        self,
        tokens: Tensor,
        feed: Tensor,
        states: list[Tensor],
        values: Tensor,
        keys: Tensor,
        mask: Tensor,
    ) -> StepOutput:
        """One step on flat tensors (what gets compiled): see the module docstring."""
        x = torch.cat([self.dropout(self.embedding(tokens)), feed], 1)
        size, new_states = self.state_size, []
        for layer in range(self.num_layers):
            if layer > 0:
                x = self.dropout(x)
            x, layer_state = self.cell(layer)(x, states[layer * size : (layer + 1) * size])
            new_states.extend(layer_state)
        context, weights = self.attention(x, keys, values, mask)
        attentional = self.dropout(torch.tanh(self.combine(torch.cat([context, x], 1))))
        return attentional, new_states, weights

    def _run(self, *args: Any) -> StepOutput:
        if self.runner == "eager":
            return self._step(*args)
        if self._compiled is None:
            # Batch and memory length change from batch to batch: compile for any sizes at
            # once rather than once for the first sizes and again for symbolic ones.
            self._compiled = torch.compile(self._step, dynamic=True)
        try:
            return self._compiled(*args)
        except Exception as error:  # compile errors come in many types
            # The caller's own mistakes raise here again, unchanged.
            result = self._step(*args)
            warnings.warn(
                f"torch.compile failed for the decoder step with "
                f"{type(self.cell(0)).__name__} ({type(error).__name__}: "
                f"{(str(error).splitlines() or [''])[0]}); using the eager loop",
                stacklevel=3,
            )
            self.runner = "eager"
            return result

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the compiled step (it does not pickle); rebuilt on first use."""
        return {**self.__dict__, "_compiled": None}


def unaliased(memory: Memory) -> Memory:
    """The memory in tensors of its own: the compiled step is compiled again for inputs that
    are views of other tensors (e.g. a slice of the encoder's outputs). One copy per batch."""
    return Memory(memory.values.clone(), memory.mask.clone(), memory.summary)


def _decoder_runner(runner: str) -> str:
    if runner == "eager":
        return "eager"
    if runner in ("compiled", "auto", "fused"):
        return "compiled"
    raise ConfigError([f"model.runner: {runner!r}; allowed: auto, fused, compiled, eager"])
