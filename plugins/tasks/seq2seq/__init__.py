"""Sequence to sequence: translation and summarisation with an attention encoder-decoder.

A recurrent encoder (any registered cell, layers, one or two directions) reads the source; an
attention decoder (:mod:`pipeline.decoding`) writes the target one token at a time, trained
with teacher forcing and scored with sacrebleu's BLEU and chrF on greedy (validation) and
beam-search (test) translations.

Modules, in reading order:

- :mod:`.readers`: (source, target) pairs from aligned files, TSV/CSV, JSON lines, datasets;
- :mod:`.options`: the ``task.*`` options and the checks made before any data is read;
- :mod:`.data`: tokenizers of both sides, encoded splits, padded batches;
- :mod:`.network`: the encoder-decoder network;
- :mod:`.translate`: greedy and beam-search translation of batches;
- :mod:`.metrics`: loss, perplexity, BLEU, chrF;
- :mod:`.reports`: test hypotheses, sample translations, attention heatmaps;
- :mod:`.task`: :class:`Seq2SeqTask`, the ``seq2seq`` entry point.
"""

from plugins.tasks.seq2seq.network import Seq2SeqNetwork
from plugins.tasks.seq2seq.options import Seq2SeqOptions, Seq2SeqPredictOptions
from plugins.tasks.seq2seq.task import Seq2SeqTask

__all__ = ["Seq2SeqNetwork", "Seq2SeqOptions", "Seq2SeqPredictOptions", "Seq2SeqTask"]
