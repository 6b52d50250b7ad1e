"""Measurements on trained (or freshly initialised) networks that the claims judge.

Language-model networks are :class:`~plugins.tasks.language_model.task.LanguageModelNetwork`:
``embedding`` (V, E), ``encoder`` (B, T, E) -> (B, T, H), ``output`` H -> V.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pipeline.components import Components
from pipeline.config import Config
from pipeline.initialization import initialize, parameter_groups
from pipeline.plugins import Registries
from pipeline.runs import TrainedRun, local_dir


def embedding_of(network: nn.Module) -> nn.Embedding:
    """A language-model network's embedding matrix E (V, E)."""
    return cast(nn.Embedding, network.embedding)


def lm_token_ids(trained: TrainedRun, lines: list[str]) -> Tensor:
    """(B, T) ids of lines cut to the shortest, each after ``<eos>`` like in training."""
    tokenizer = trained.task.fitted_tokenizer  # type: ignore[attr-defined]
    encoded = [[tokenizer.eos_id, *tokenizer.encode(line)] for line in lines]
    length = min(len(ids) for ids in encoded)
    return torch.tensor([ids[:length] for ids in encoded])


@torch.no_grad()
def one_hot_error(network: nn.Module) -> tuple[float, int]:
    """max |one_hot(x) @ E - E[x]| over every token x, and |V|."""
    embedding = embedding_of(network)
    ids = torch.arange(embedding.num_embeddings)
    product = F.one_hot(ids, embedding.num_embeddings).float() @ embedding.weight  # (V, E)
    return float((product - embedding(ids)).abs().max()), embedding.num_embeddings


@torch.no_grad()
def softmax_sums(network: nn.Module, tokens: Tensor) -> tuple[int, float]:
    """The softmax's size and max |sum_v p(v | context) - 1| over every position of tokens."""
    network.eval()
    logits, _ = network(tokens)  # (B, T, V)
    sums = F.softmax(logits, dim=-1).sum(-1)  # (B, T)
    return logits.size(-1), float((sums - 1).abs().max())


@torch.no_grad()
def hidden_spread(network: nn.Module, tokens: Tensor) -> float:
    """max over positions of (largest - smallest) hidden unit of h_t: 0 when all are equal."""
    network.eval()
    encoder = cast(nn.Module, network.encoder)
    hidden, _ = encoder(embedding_of(network)(tokens))  # (B, T, H)
    return float((hidden.max(-1).values - hidden.min(-1).values).max())


def step0_stats(cfg: Config, registries: Registries) -> dict[str, float]:
    """Freshly initialised network, one training batch: std of the encoder's outputs and
    the gradient norm of the loss (all parameters)."""
    task = registries.tasks.get(cfg.task.name)(cfg)
    task.prepare_data(Path(cfg.data.cache_dir))
    network = task.build_network(Components(cfg.model, registries.cells))
    initialize(network, cfg.init, registries.initializers, cfg.seed, task.vocabulary())
    outputs: list[Tensor] = []
    hook = network.encoder.register_forward_hook(lambda m, i, o: outputs.append(o[0].detach()))
    batch = next(iter(task.dataloader("train")))
    try:
        loss = task.step(network.train(), batch, None, task.metrics()).loss
    finally:
        hook.remove()
    parameters = [p for p in network.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, parameters, materialize_grads=True)
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    return {"activation_std": float(outputs[0].std()), "gradient_norm": float(norm)}


def gates(network: nn.Module, hidden: int) -> int:
    """Gates of the network's cell: rows of its recurrent matrix / H, minus the candidate."""
    recurrent = parameter_groups(network)["recurrent"][0]
    return recurrent.size(0) // hidden - 1


def multiply_adds_per_token(network: nn.Module) -> int:
    """Multiply-adds of the recurrent layer per token: the entries of its input and
    recurrent matrices (gates x H x (E + H) for one layer and direction)."""
    groups = parameter_groups(network)
    return sum(p.numel() for p in groups["input"] + groups["recurrent"])


def tokens_per_second(network: nn.Module, batches: int, repeats: int = 3) -> float:
    """Median over repeats of tokens/s through the recurrent layer alone (forward + backward
    of (20, 20, E) random embeddings): the cell's cost, without the output softmax's."""
    encoder = cast(nn.Module, network.encoder)
    width = embedding_of(network).embedding_dim
    inputs = torch.randn(20, 20, width, generator=torch.Generator().manual_seed(0))
    encoder.train()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batches):
            hidden, _ = encoder(inputs)  # (20, 20, H)
            hidden.pow(2).mean().backward()
        rates.append(batches * 20 * 20 / (time.perf_counter() - start))
    network.zero_grad()
    return statistics.median(rates)


def flow_profile(run_id: str) -> list[float]:
    """The last epoch's ||dL/dh_t|| / ||dL/dh_T|| per step t of layer 0 (the diagnostics
    callback's ``gradient_flow.json``); [] when the run measured none."""
    path = local_dir(run_id) / "diagnostics" / "gradient_flow.json"
    if not path.is_file():
        return []
    history: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    epochs = history.get("l0", [])
    return list(epochs[-1]) if epochs else []


def derivative_maxima(points: int = 200001) -> dict[str, float]:
    """max over x in [-10, 10] of sigmoid'(x) and tanh'(x), by autograd on a fine grid."""
    x = torch.linspace(-10, 10, points, dtype=torch.float64, requires_grad=True)
    (dsigmoid,) = torch.autograd.grad(torch.sigmoid(x).sum(), x)
    (dtanh,) = torch.autograd.grad(torch.tanh(x).sum(), x)
    return {"max_dsigmoid": float(dsigmoid.max()), "max_dtanh": float(dtanh.max())}


def sigmoid_derivative(x: float) -> float:
    s = 1 / (1 + math.exp(-x))
    return s * (1 - s)


def tanh_derivative(x: float) -> float:
    return 1 - math.tanh(x) ** 2
