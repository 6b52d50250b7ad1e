"""Extra rnn-pipeline plugins; each is an entry point declared in pyproject.toml."""
