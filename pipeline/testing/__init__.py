"""Conformance checks for plugin authors: run them in your own test suite.

Public and stable::

    from pipeline.testing import check_cell, check_initializer, check_task, check_tokenizer

    def test_my_cell():
        check_cell(MyCell)                      # or functools.partial(MyCell, option=...)

    def test_my_initializer():
        check_initializer(my_init, options={"scale": 2.0})

    def test_my_task(tmp_path):
        check_task(MyTask, cfg, texts=["some raw input"])

    def test_my_tokenizer():
        check_tokenizer(MyTokenizer, options={"alphabet": "abc"})

    def test_my_image_encoder():
        check_image_encoder(MyEncoder, image_size=32)   # the encoder's options

Each check runs the component the way the pipeline does (through
:class:`pipeline.recurrent.RecurrentEncoder`, :func:`pipeline.initialization.initialize`'s
calling convention, and the task life cycle of ``train``/``predict``) and raises one
``AssertionError`` that names the contract clause broken, with the expected and actual values.
On success each returns a list of notes (things it could not check and why).

One module per contract (``cells``, ``initializers``, ``tasks``, ``tokenizers``,
``image_encoders``) plus ``ddp``,
the harness of ``check_task``'s DDP clause, and ``fixtures``, the generated data that checks
the built-ins (``pipeline plugins check --deep`` runs these checks on installed plugins).
Importing this package imports torch but not Lightning or MLflow; heavier imports happen
inside the checks that need them.
"""

from pipeline.testing.cells import check_cell
from pipeline.testing.image_encoders import check_image_encoder
from pipeline.testing.initializers import check_initializer
from pipeline.testing.tasks import check_task
from pipeline.testing.tokenizers import check_tokenizer

__all__ = [
    "check_cell",
    "check_image_encoder",
    "check_initializer",
    "check_task",
    "check_tokenizer",
]
