"""The tiny model and trainer settings that the tests train with (seconds per run)."""

TINY_CONFIG = {
    "task": {"name": "language_model", "bptt": 10},
    "data": {"batch_size": 8, "eval_batch_size": 4},
    "tokenizer": {"vocab_size": 400},
    "model": {
        "cell": "lstm",
        "embedding_size": 16,
        "hidden_size": 16,
        "num_layers": 1,
        "dropout": 0.0,
    },
    "optim": {"name": "adam", "lr": 0.01},
    "trainer": {
        "max_epochs": 2,
        "progress_bar": False,
        "accelerator": "cpu",
        "devices": 1,
        "early_stopping_patience": 0,
        "threads": 1,  # one torch thread: on 2 shared cores, 2 threads ran ~10x slower
    },
    "tracking": {"experiment": "tests"},
}
