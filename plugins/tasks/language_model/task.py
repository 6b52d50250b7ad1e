"""Next-word language model: P(x_{t+1} | x_1..x_t) with softmax over the vocabulary.

The classic recipe (Zaremba et al. 2014): each split's token stream is cut into
``data.batch_size`` contiguous streams; training runs truncated back-propagation through time
over ``task.bptt`` steps and carries the (detached) hidden state from one batch to the next.

Under DDP (``W`` processes) the streams are sharded, never duplicated (``pipeline.streams``):

- train: ``data.batch_size`` is per device. The stream grid has ``batch_size * W`` rows and rank
  ``r`` trains on rows ``r*B .. (r+1)*B``; so 2 ranks with B/2 streams each see exactly the
  B-stream grid of one process (with DDP's gradient averaging, the same updates).
- val/test: ``data.eval_batch_size`` is the total number of streams, whatever W is; rank ``r``
  evaluates its contiguous share of the rows of that one grid. Every token is evaluated exactly
  once and the token-weighted metrics, reduced across ranks, equal a one-process evaluation
  (``pipeline evaluate``) of the same weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.data import Splits, load_text_splits
from pipeline.errors import UserError
from pipeline.interfaces import DataFacts, StepResult, Task
from pipeline.metrics import WeightedMean
from pipeline.preparation import Encoded, prepare_cached, task_cache_key
from pipeline.streams import StreamChunks, cut_streams, shard_streams
from pipeline.tokenizers import Tokenizer, build_tokenizer, load_tokenizer

if TYPE_CHECKING:
    from pipeline.components import Components
    from pipeline.config import Config
    from pipeline.recurrent import RecurrentEncoder


@dataclass
class LanguageModelOptions:
    bptt: int = field(default=35, metadata={"min": 1})
    """Time steps per batch for truncated back-propagation through time."""
    tie_weights: bool = False
    """Share the embedding and output matrices (Press & Wolf 2017); needs H == embedding size."""
    softmax: Literal["full", "adaptive"] = "full"
    """Output layer: ``full`` softmax over the vocabulary, or ``adaptive`` (Grave et al. 2017):
    a head over the frequent words and clusters of rarer ones, each with a smaller projection.
    The same exact distribution over every word, several times faster for large vocabularies
    (the word tokenizer numbers words by frequency, as it needs)."""
    adaptive_cutoffs: list[int] = field(default_factory=lambda: [2000, 10000])
    """adaptive: the head covers ids below the first cutoff; each cluster up to the next."""
    adaptive_div_value: float = field(default=4.0, metadata={"min": 1.0})
    """adaptive: cluster i projects the hidden state to H / div_value**(i+1) units."""


@dataclass
class LanguageModelPredictOptions:
    top_k: int = field(default=5, metadata={"help": "how many ranked next tokens"})
    sample: int = field(default=0, metadata={"help": "also sample a continuation of N tokens"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (> 0)"})
    seed: int = field(default=0, metadata={"help": "seed of the sampling"})

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if self.sample < 0:
            raise ValueError(f"sample must be 0 or more, got {self.sample}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")


class Perplexity(WeightedMean):
    """exp of the token-weighted mean cross-entropy; reduced correctly across DDP ranks."""

    def compute(self) -> Tensor:
        return torch.exp(super().compute())


class LanguageModelNetwork(nn.Module):
    """Embedding -> recurrent encoder -> full or adaptive softmax over the vocabulary."""

    def __init__(
        self,
        embedding: nn.Embedding,
        encoder: RecurrentEncoder,
        dropout: float,
        options: LanguageModelOptions,
    ) -> None:
        super().__init__()
        self.embedding, self.encoder = embedding, encoder
        self.dropout = nn.Dropout(dropout)
        self.output: nn.Linear | nn.AdaptiveLogSoftmaxWithLoss
        vocabulary, hidden = embedding.num_embeddings, encoder.output_size
        if options.softmax == "adaptive":
            self.output = nn.AdaptiveLogSoftmaxWithLoss(
                hidden,
                vocabulary,
                adaptive_cutoffs(options.adaptive_cutoffs, vocabulary),
                div_value=options.adaptive_div_value,
                head_bias=True,
            )
        else:
            self.output = nn.Linear(hidden, vocabulary)
            if options.tie_weights:
                self.output.weight = self.embedding.weight

    def features(
        self, tokens: Tensor, state: list[Tensor] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """tokens (B, T) -> the output layer's input (B, T, H), encoder state."""
        embedded = self.dropout(self.embedding(tokens))  # (B, T, E)
        hidden, state = self.encoder(embedded, state=state)  # (B, T, H)
        return self.dropout(hidden), state

    def loss(self, features: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy of targets (B, T) given features (B, T, H); adaptive: exact, and
        without scoring every word at every position."""
        if isinstance(self.output, nn.AdaptiveLogSoftmaxWithLoss):
            loss: Tensor = self.output(features.flatten(0, 1), targets.flatten()).loss
            return loss
        return F.cross_entropy(self.output(features).flatten(0, 1), targets.flatten())

    def forward(
        self, tokens: Tensor, state: list[Tensor] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """tokens (B, T) -> scores (B, T, V), encoder state. The scores are logits, or under the
        adaptive softmax log-probabilities: either gives the same distribution by a softmax."""
        features, state = self.features(tokens, state)
        if isinstance(self.output, nn.AdaptiveLogSoftmaxWithLoss):
            scores = self.output.log_prob(features.flatten(0, 1))  # (B*T, V)
            return scores.view(*features.shape[:2], -1), state
        return self.output(features), state


def adaptive_cutoffs(cutoffs: Sequence[int], vocabulary: int) -> list[int]:
    """The cutoffs, checked against the vocabulary size V (config_problems checked the rest)."""
    if cutoffs and cutoffs[-1] < vocabulary:
        return list(cutoffs)
    raise UserError(
        f"task.adaptive_cutoffs {list(cutoffs)} must end below the vocabulary size "
        f"({vocabulary}): lower them (e.g. [{vocabulary // 10}, {vocabulary // 3}]) or "
        "set task.softmax=full"
    )


def _softmax_problems(options: LanguageModelOptions) -> list[str]:
    """The adaptive softmax's options that cannot work, whatever the vocabulary."""
    if options.softmax != "adaptive":
        return []
    problems = []
    if options.tie_weights:
        problems.append(
            "task.tie_weights ties the embedding to a full softmax; with task.softmax=adaptive "
            "set task.tie_weights=false"
        )
    cutoffs = options.adaptive_cutoffs
    if not cutoffs or cutoffs[0] < 1 or any(a >= b for a, b in itertools.pairwise(cutoffs)):
        problems.append(
            f"task.adaptive_cutoffs {cutoffs} must be increasing positive token counts, "
            "e.g. [2000, 10000]"
        )
    return problems


class LanguageModelTask(Task):
    """Predict the next token; metrics loss (cross-entropy per token) and perplexity."""

    Options = LanguageModelOptions
    PredictOptions = LanguageModelPredictOptions
    monitor = "val_loss"
    monitor_mode = "min"
    metric_names = ("loss", "ppl")

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.tokenizer: Tokenizer | None = None
        self.tokens: dict[str, Tensor] = {}

    @property
    def fitted_tokenizer(self) -> Tokenizer:
        """The tokenizer once fitted in prepare_data or loaded with the run's artifacts."""
        if self.tokenizer is None:
            raise RuntimeError("language_model: prepare_data or load_artifacts must run first")
        return self.tokenizer

    @classmethod
    def config_problems(cls, cfg: Config) -> list[str]:
        problems = []
        if cfg.model.bidirectional:
            problems.append(
                "model.bidirectional: a next-word model must not see the future; set it false"
            )
        if cfg.task.options.tie_weights and cfg.model.hidden_size != cfg.model.embedding_size:
            problems.append(
                f"task.tie_weights needs model.hidden_size ({cfg.model.hidden_size}) == "
                f"model.embedding_size ({cfg.model.embedding_size})"
            )
        return problems + _softmax_problems(cfg.task.options)

    # ------------------------------------------------------------------------- data

    def prepare_data(self, cache_dir: Path) -> DataFacts:
        prepared = prepare_cached(self, cache_dir, loaded=self.tokenizer is not None)
        self.tokens = prepared.tensors
        return prepared.facts(vocabulary=len(self.fitted_tokenizer))

    def cache_key(self) -> dict[str, Any]:
        data = self.cfg.data
        fractions = [data.validation_fraction, data.test_fraction]
        return task_cache_key("language_model", self.cfg, fractions=fractions)

    def read_splits(self) -> Splits[str]:
        return load_text_splits(self.cfg.data, self.cfg.seed)

    def fit(self, splits: Splits[str]) -> None:
        """The tokenizer, fitted on the train lines (unless one was loaded)."""
        if self.tokenizer is None:
            self.tokenizer = build_tokenizer(self.cfg.tokenizer)
            self.tokenizer.fit(splits.examples["train"])

    def encode(self, split: str, examples: list[str]) -> Encoded:
        """Lines -> one (N,) stream of token ids, ``<eos>`` after each line."""
        ids = self.fitted_tokenizer.encode_lines(examples, eos=True, progress=True)
        stream = torch.tensor([i for line in ids for i in line], dtype=torch.long)
        return Encoded(stream, {f"{split}_tokens": stream.numel()})

    def save_artifacts(self, directory: Path) -> None:
        self.fitted_tokenizer.save(directory / "tokenizer")

    def load_artifacts(self, directory: Path) -> None:
        self.tokenizer = load_tokenizer(directory / "tokenizer")

    def vocabulary(self) -> Sequence[str]:
        return self.fitted_tokenizer.vocab

    def dataloader(self, split: str, rank: int = 0, world_size: int = 1) -> Any:
        data = self.cfg.data
        if split == "train":  # per-device batch: the grid grows with the number of ranks
            streams = cut_streams(self.tokens[split], data.batch_size, rank, world_size)
        else:  # the same grid for any number of ranks: each token evaluated exactly once
            streams = shard_streams(self.tokens[split], data.eval_batch_size, rank, world_size)
        chunks = StreamChunks(streams, self.options.bptt)
        return torch.utils.data.DataLoader(chunks, batch_size=None, shuffle=False)

    # ------------------------------------------------------------------------- model

    def build_network(self, components: Components) -> nn.Module:
        model = self.cfg.model
        return LanguageModelNetwork(
            components.embedding(len(self.fitted_tokenizer)),
            components.encoder(model.embedding_size),
            model.dropout,
            self.options,
        )

    def metrics(self) -> dict[str, Any]:
        return {"loss": WeightedMean(), "ppl": Perplexity()}

    def step(
        self, network: nn.Module, batch: Any, carry: Any, metrics: dict[str, Any]
    ) -> StepResult:
        inputs, targets = batch  # (B, T) each
        lm = cast(LanguageModelNetwork, network)
        features, state = lm.features(inputs, carry)  # (B, T, H)
        loss = lm.loss(features, targets)
        for metric in metrics.values():
            metric.update(loss.detach(), targets.numel())
        return StepResult(loss, [s.detach() for s in state])

    # ------------------------------------------------------------------------- prediction

    @torch.no_grad()
    def predict(
        self,
        network: nn.Module,
        texts: Sequence[str],
        top_k: int = 5,
        sample: int = 0,
        temperature: float = 1.0,
        seed: int = 0,
        **unknown: Any,
    ) -> list[dict[str, Any]]:
        """Top-k next tokens of each text, and optionally a sampled continuation of N tokens."""
        if unknown:
            raise UserError(
                f"language_model cannot predict with {', '.join(sorted(unknown))}; its options "
                "are top_k, sample, temperature and seed"
            )
        network.eval()
        generator = torch.Generator().manual_seed(seed)
        return [
            self._predict_one(network, text, top_k, sample, temperature, generator)
            for text in texts
        ]

    def _predict_one(
        self,
        network: nn.Module,
        text: str,
        top_k: int,
        sample: int,
        temperature: float,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        tokenizer = self.fitted_tokenizer
        device = next(network.parameters()).device
        ids = [tokenizer.eos_id, *tokenizer.encode(text)]  # a line starts after <eos>
        logits, state = network(torch.tensor([ids], device=device))
        probabilities = F.softmax(logits[0, -1], dim=-1)
        best = probabilities.topk(min(top_k, probabilities.numel()))
        result: dict[str, Any] = {
            "text": text,
            "tokens": tokenizer.tokens(text),
            "next": [
                {"token": tokenizer.id_to_token(int(i)), "probability": float(p)}
                for p, i in zip(best.values, best.indices, strict=True)
            ],
        }
        if sample > 0:
            result["continuation"] = self._sample(
                network, logits[0, -1], state, sample, temperature, generator
            )
        return result

    def _sample(
        self,
        network: nn.Module,
        logits: Tensor,
        state: list[Tensor],
        steps: int,
        temperature: float,
        generator: torch.Generator,
    ) -> str:
        """Draw tokens from softmax(logits / temperature), feeding each back in."""
        drawn: list[int] = []
        for _ in range(steps):
            weights = F.softmax(logits.float().cpu() / max(temperature, 1e-6), dim=-1)
            token = int(torch.multinomial(weights, 1, generator=generator))
            if token == self.fitted_tokenizer.eos_id:
                break
            drawn.append(token)
            step_logits, state = network(torch.tensor([[token]], device=logits.device), state)
            logits = step_logits[0, -1]
        return self.fitted_tokenizer.decode(drawn)

    def describe(self, prediction: dict[str, Any]) -> str:
        lines = [f"{prediction['text']} ..."]
        for rank, item in enumerate(prediction["next"], 1):
            bar = "#" * max(1, round(30 * item["probability"]))
            lines.append(f"  {rank}. {item['token']:<16} {item['probability']:.4f} {bar}")
        if "continuation" in prediction:
            lines.append(f"  sampled: {prediction['text']} {prediction['continuation']}")
        lines.append(
            f"  (a uniform guess over the {len(self.fitted_tokenizer)} tokens: "
            f"{1 / len(self.fitted_tokenizer):.4f} each)"
        )
        return "\n".join(lines)
