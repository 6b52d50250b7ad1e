"""The errors every user-facing problem derives from (no heavy imports: the CLI loads them).

Each family subclasses :class:`UserError` (and ``ValueError`` where code already caught that),
so the CLI reports it as one line and exits 2; anything else is a bug and keeps its traceback.
Families that belong to one module live there: ``ConfigError`` (pipeline.config),
``PluginError`` (pipeline.plugins), ``RunNotFound`` (pipeline.tracking).
"""


class UserError(Exception):
    """Bad input (config, data, plugin, run id): the CLI prints it on one line and exits 2."""


class DataError(UserError, ValueError):
    """A data problem, naming the config key or file at fault and how to fix it."""


class OptionError(UserError, ValueError):
    """A component option (``model.cell_options``, ``init.options.<group>``) has a bad value.

    Cells and initializers, built-in or third-party, raise it (or a plain ``ValueError``) with
    a message naming the component, the option and what is allowed.
    """


class TokenizerError(UserError, ValueError):
    """A tokenizer cannot be built, trained or read back (settings, training text, files)."""
