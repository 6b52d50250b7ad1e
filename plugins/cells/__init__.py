"""Built-in recurrent cells, registered as entry points in ``rnn_pipeline.cells``."""
