"""Plugins used only by rnn-pipeline's tests; see the entry points in pyproject.toml."""
