"""Sequence tagging (named entities and the like): one tag per word, scored by entity F1.

Data: CoNLL column files (``task.word_column``, ``task.tag_column``; blank lines between
sentences, ``-DOCSTART-`` skipped, ``data.encoding``) or a dataset with a tokens and a tags
column (``task.tokens_field``, ``task.tags_field``; integer tags are named by the dataset's
``ClassLabel`` feature). Tags in ``task.scheme`` (iob1, iob2, iobes) are converted to IOBES for
the network and back to ``task.scheme`` in predictions.

Modules, in the order data flows through them:

- ``conll``: sentences and tags read from CoNLL files or a dataset;
- ``schemes``: the IOB1/IOB2/IOBES tag schemes and the entity spans tags mark;
- ``data``: characters, encoding into tensors, padded batches;
- ``network``: the tagger (embedding [+ character features] -> recurrent encoder -> tag
  scores), with ``crf`` its conditional random field output layer;
- ``metrics``: entity-level precision, recall and F1 (exact span and type, as CoNLL counts);
- ``task``: the ``Task`` plugin that puts them together.

Splitting and carving the data, decoding files, caching the tensors, DDP loaders and report
tables come from the core's toolkit for tasks (``docs/plugins.md``).
"""

from plugins.tasks.tagging.options import TaggingOptions
from plugins.tasks.tagging.task import TaggingTask

__all__ = ["TaggingOptions", "TaggingTask"]
