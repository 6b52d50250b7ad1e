"""Real servers for the cluster tests: a throw-away PostgreSQL and an ``mlflow server``.

Both bind 127.0.0.1 on a free port, keep every file in a temporary folder, and are stopped
(and the folder removed) when their context ends, also when a test failed.
PostgreSQL refuses to run as root, so under root its commands run as the ``postgres`` user
that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

USER = "rnn"  # the database superuser initdb creates (trust authentication on 127.0.0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path:
    """The folder holding initdb and pg_ctl (Debian keeps them off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major_version)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError(
        "PostgreSQL is not installed: `apt-get install postgresql` (nox -s distributed does)"
    )


def _major_version(initdb: Path) -> int:
    return int(initdb.parent.parent.name) if initdb.parent.parent.name.isdigit() else 0


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL's server refuses root: run its commands as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def _server_folder(prefix: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def postgres(databases: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """A running PostgreSQL holding databases; yields {name: SQLAlchemy URL}."""
    binaries, port = postgres_bin(), free_port()
    with _server_folder("rnn-postgres-") as folder:
        data = folder / "data"
        _run(_as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", USER, "-A", "trust"]))
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-w"]
        _run(_as_postgres([*pg_ctl, "-l", str(folder / "server.log"), "-o", options, "start"]))
        try:
            for name in databases:
                _run(
                    [
                        str(binaries / "createdb"),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "-U",
                        USER,
                        name,
                    ]
                )
            yield {name: f"postgresql://{USER}@127.0.0.1:{port}/{name}" for name in databases}
        finally:
            _run(_as_postgres([*pg_ctl, "-m", "fast", "stop"]))


@contextlib.contextmanager
def mlflow_server(backend_store_uri: str, timeout: float = 120.0) -> Iterator[str]:
    """A running ``mlflow server`` on backend_store_uri; yields its http URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rnn-mlflow-") as folder:
        log = open(Path(folder) / "server.log", "wb")  # noqa: SIM115 (closed below)
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", "1"]
        command += ["--backend-store-uri", backend_store_uri]
        command += ["--artifacts-destination", str(Path(folder) / "artifacts")]
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(server, url, timeout, Path(folder) / "server.log")
            yield url
        finally:
            _stop(server)
            log.close()


def _wait_healthy(server: subprocess.Popen, url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited ({server.returncode}):\n{log.read_text()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/health", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"mlflow server not healthy after {timeout:.0f} s:\n{log.read_text()}")


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM the server's process group (uvicorn's workers too), SIGKILL after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
