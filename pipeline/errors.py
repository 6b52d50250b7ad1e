"""The errors every user-facing problem derives from (no heavy imports: the CLI loads it)."""


class UserError(Exception):
    """Bad input (config, data, plugin, run id): the CLI prints it on one line and exits 2."""


class DataError(UserError, ValueError):
    """A data problem, naming the config key or file at fault and how to fix it."""
