"""Built-in plugins of the rnn-pipeline."""
