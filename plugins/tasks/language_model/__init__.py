"""The next-word language model task (``task.py``) and its demo data (``demo_corpus.py``)."""

from plugins.tasks.language_model.task import (
    LanguageModelNetwork,
    LanguageModelOptions,
    LanguageModelTask,
    Perplexity,
)

__all__ = [
    "LanguageModelNetwork",
    "LanguageModelOptions",
    "LanguageModelTask",
    "Perplexity",
]
