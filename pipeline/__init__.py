"""rnn-pipeline core: config, plugins, recurrent runner, training, tracking and the CLI."""
