"""The error every user-facing problem derives from (no heavy imports: the CLI loads it)."""


class UserError(Exception):
    """Bad input (config, data, plugin, run id): the CLI prints it on one line and exits 2."""
