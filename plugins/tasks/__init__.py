"""Built-in tasks, registered as entry points in ``rnn_pipeline.tasks``."""
