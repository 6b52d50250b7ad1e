"""Reports of a trained seq2seq run: the test hypotheses, sample translations, attention maps.

- ``test_hypotheses.txt``: the beam-search translation of every test source, one a line, in
  the order of the test data (ready for ``sacrebleu REF < test_hypotheses.txt``);
- ``samples.csv`` / ``samples.md``: source, reference and hypothesis of the first test pairs;
- ``attention_<i>.png``: the greedy decoder's attention weights over the source tokens for a
  few validation sentences (none with ``task.attention=none``, which has no weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from pipeline.reports import write_table
from plugins.tasks.seq2seq.data import Collate, EncodedPairs, Sides
from plugins.tasks.seq2seq.network import Seq2SeqNetwork
from plugins.tasks.seq2seq.translate import Search, text, translate

__all__ = ["SAMPLES", "HEATMAPS", "plot_attention", "test_hypotheses", "write_reports"]

SAMPLES = 20
HEATMAPS = 4


def write_reports(
    network: Seq2SeqNetwork,
    sides: Sides,
    data: dict[str, EncodedPairs],
    search: Search,
    directory: Path,
    batch_size: int,
    attention: bool = True,
) -> None:
    """Every report of the module docstring into directory (heatmaps only with attention)."""
    network.eval()
    directory.mkdir(parents=True, exist_ok=True)
    test = data["test"]
    hypotheses = test_hypotheses(network, sides, test, search, batch_size)
    lines = "".join(f"{line}\n" for line in hypotheses)
    (directory / "test_hypotheses.txt").write_text(lines, encoding="utf-8")
    rows = [
        {"source": source, "reference": reference, "hypothesis": hypothesis}
        for source, reference, hypothesis in zip(
            test.sources[:SAMPLES], test.references[:SAMPLES], hypotheses[:SAMPLES], strict=False
        )
    ]
    write_table(rows, directory / "samples", title="Sample test translations (beam search).")
    if attention:
        write_heatmaps(network, sides, data["val"], directory)


def test_hypotheses(
    network: Seq2SeqNetwork, sides: Sides, pairs: EncodedPairs, search: Search, batch_size: int
) -> list[str]:
    """The best translation of every source of pairs, in order."""
    collate = Collate(sides.source.pad_id)
    hypotheses: list[str] = []
    for start in range(0, len(pairs), batch_size):
        batch = collate([pairs[i] for i in range(start, min(start + batch_size, len(pairs)))])
        found = translate(network, batch.source, batch.source_lengths, search)
        hypotheses += [text(sides.target, best[0]) for best in found]
    return hypotheses


def write_heatmaps(
    network: Seq2SeqNetwork, sides: Sides, pairs: EncodedPairs, directory: Path
) -> None:
    """attention_<i>.png for the first HEATMAPS validation sentences (greedy decoding)."""
    count = min(HEATMAPS, len(pairs))
    batch = Collate(sides.source.pad_id)([pairs[i] for i in range(count)])
    found = translate(network, batch.source, batch.source_lengths, Search())
    for i, best in enumerate(found):
        hypothesis = best[0]
        length = int(batch.source_lengths[i])
        source_tokens = [sides.source.id_to_token(int(t)) for t in batch.source[i, :length]]
        target_tokens = [sides.target.id_to_token(t) for t in hypothesis.tokens] + ["<eos>"]
        weights = hypothesis.attention[: len(target_tokens), :length]
        plot_attention(weights, source_tokens, target_tokens, directory / f"attention_{i}.png")


def plot_attention(
    weights: Tensor, source: Sequence[str], target: Sequence[str], path: Path
) -> None:
    """A heatmap of weights (target tokens x source tokens), rows summing to one."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    values = weights.detach().float().cpu().numpy()
    figure, axes = plt.subplots(
        figsize=(max(4.0, 0.45 * len(source) + 1.5), max(3.0, 0.4 * len(target) + 1.5))
    )
    image = axes.imshow(values, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    axes.set_xticks(range(len(source)), list(source), rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(values.shape[0]), list(target)[: values.shape[0]], fontsize=8)
    axes.set_xlabel("source")
    axes.set_ylabel("generated")
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
