"""Session fixtures of the cluster tests: one PostgreSQL and one ``mlflow server`` on it.

Run with ``nox -s distributed`` (installs PostgreSQL and the driver) or, where both are
there, ``pytest -m cluster tests/cluster``; the default test run deselects them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from servers import mlflow_server, postgres


@dataclass(frozen=True)
class Servers:
    optuna_storage: str  # postgresql://... for `pipeline tune --storage`
    tracking_uri: str  # http://127.0.0.1:PORT of `mlflow server`, backed by PostgreSQL


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """Started once; stopped and their folders removed at the end, whatever the outcome
    (a SIGTERM, e.g. from a CI timeout, is turned into KeyboardInterrupt so teardown runs)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with postgres(("optuna", "mlflow")) as urls, mlflow_server(urls["mlflow"]) as tracking:
            yield Servers(urls["optuna"], tracking)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
