"""Text classification: one label per text, from a pooled recurrent encoding.

embedding -> recurrent encoder (one or two directions) -> pooling over time -> dropout ->
linear layer over the classes, trained with cross-entropy; loss, accuracy and macro-F1 are
logged, and the test split gets a confusion matrix and per-class scores as reports.

Modules, in reading order:

- :mod:`.readers`: labelled examples from CSV/TSV/JSON-lines, SST-2, TREC or regex files,
  or a dataset;
- :mod:`.data`: label ids, token ids and padded batches;
- :mod:`.network`: the classifier network (pooling, word dropout);
- :mod:`.metrics`: the logged metrics and the report's per-class ones (torchmetrics);
- :mod:`.reports`: confusion_matrix.png and per_class.csv/.md of the test split;
- :mod:`.task`: :class:`ClassificationTask`, the ``classification`` entry point.
"""

from plugins.tasks.classification.data import (
    EncodedTexts,
    Padder,
    encode_texts,
    label_ids,
    label_order,
)
from plugins.tasks.classification.metrics import class_scores, logged_metrics, report_metrics
from plugins.tasks.classification.network import ClassifierNetwork, drop_words, pool
from plugins.tasks.classification.readers import (
    Example,
    ReadSettings,
    dataset_examples,
    read_examples,
)
from plugins.tasks.classification.reports import per_class_rows
from plugins.tasks.classification.task import ClassificationOptions, ClassificationTask

__all__ = [
    "ClassificationOptions",
    "ClassificationTask",
    "ClassifierNetwork",
    "EncodedTexts",
    "Example",
    "Padder",
    "ReadSettings",
    "class_scores",
    "dataset_examples",
    "drop_words",
    "encode_texts",
    "label_ids",
    "label_order",
    "logged_metrics",
    "per_class_rows",
    "pool",
    "read_examples",
    "report_metrics",
]
