"""The ``pipeline`` command groups that live outside ``pipeline.cli``, one module each."""
