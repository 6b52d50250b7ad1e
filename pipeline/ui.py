"""``pipeline ui``: a lean MLflow server on the project's store, stopped whole on Ctrl-C/SIGTERM.

``mlflow ui`` as shipped starts 4 web workers, a job runner and its consumers, which take many
times the start-up time and memory (PITFALLS.md); one worker with job execution off serves the
runs table, compare view and artifacts the same. The link is printed once the server answers
HTTP, and opens the experiment's runs table (not MLflow 3's GenAI overview).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline.errors import UserError

if TYPE_CHECKING:
    from pipeline.tracking import Tracker

START_TIMEOUT_S = 180.0  # generous: on a busy small machine the server takes tens of seconds
STOP_TIMEOUT_S = 10.0  # after SIGTERM, the group gets this long before SIGKILL
LEAN_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job runner, no consumers
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5000


def serve(host: str, port: int, experiment: str | None, open_browser: bool, uri: str | None) -> int:
    """Run the server until Ctrl-C/SIGTERM; returns 0 then, else the server's exit status."""
    check_port_free(host, port)
    command, link = planned_server(host, port, experiment, uri)
    # Its own process group, so that stopping it reaches every process it starts.
    server = subprocess.Popen(  # its stdout too on stderr: stdout holds only the link
        command, env={**os.environ, **LEAN_ENV}, stdout=sys.stderr, start_new_session=True
    )
    previous = {number: signal.signal(number, _interrupt) for number in STOP_SIGNALS}
    try:
        return _run_until_stopped(server, f"http://{_link_host(host)}:{port}", link, open_browser)
    except KeyboardInterrupt:
        return 0
    finally:
        for number in STOP_SIGNALS:  # a second Ctrl-C must not cut the stopping short
            signal.signal(number, signal.SIG_IGN)
        stop_group(server)
        for number, handler in previous.items():
            signal.signal(number, handler)


def planned_server(
    host: str, port: int, experiment: str | None, uri: str | None
) -> tuple[list[str], str]:
    """:func:`plan_server` in a short-lived process: the ~200 MB that importing MLflow costs
    leave with it, so the process that watches the server for hours stays small."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(plan_server, host, port, experiment, uri).result()


def plan_server(
    host: str, port: int, experiment: str | None, uri: str | None
) -> tuple[list[str], str]:
    """The store made ready (created or repaired), the server's command and the UI link."""
    from pipeline.tracking import Tracker, default_artifact_root

    tracker = Tracker(uri)
    link = experiment_link(host, port, tracker, experiment)
    return server_command(tracker.uri, host, port, default_artifact_root(tracker.uri)), link


def _run_until_stopped(server: subprocess.Popen[bytes], base: str, link: str, browse: bool) -> int:
    if not wait_until_answers(f"{base}/health", server):
        print(f"error: the MLflow server for {base} did not answer", file=sys.stderr)
        return server.poll() or 1
    print(f"MLflow UI: {link} (Ctrl-C to stop)", flush=True)
    if browse:
        import webbrowser

        webbrowser.open(link)
    return server.wait()


def check_port_free(host: str, port: int) -> None:
    """A UserError naming the port when something already listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise UserError(f"cannot listen on {host}:{port}: {error.strerror}") from error
            raise UserError(
                f"port {port} on {host} is already in use (another `pipeline ui` or MLflow "
                "server?); stop it or pick another with --port"
            ) from error


def experiment_link(host: str, port: int, tracker: Tracker, name: str | None) -> str:
    """The runs table of experiment name (default: the latest run's), else the home page."""
    from pipeline.run_tables import find_experiment

    experiment = find_experiment(tracker, name)
    experiment_id = None if experiment is None else str(experiment.experiment_id)
    root = f"http://{_link_host(host)}:{port}/"
    return root if experiment_id is None else runs_table_link(root, experiment_id)


def ui_root(uri: str) -> str:
    """Where the UI of store uri answers: a tracking server itself, else `pipeline ui`'s."""
    if uri.startswith(("http://", "https://")):
        return uri.rstrip("/") + "/"
    return f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/"


def runs_table_link(root: str, experiment_id: str) -> str:
    """The experiment's runs table (model training view, not MLflow 3's GenAI overview)."""
    return f"{root}#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def run_link(root: str, experiment_id: str, run_id: str) -> str:
    return f"{root}#/experiments/{experiment_id}/runs/{run_id}"


def compare_link(root: str, experiment_id: str, run_ids: Sequence[str]) -> str:
    """The compare view of run_ids, side by side (the UI reads JSON lists from the query)."""
    runs = urllib.parse.quote(json.dumps(list(run_ids)), safe="")
    experiments = urllib.parse.quote(json.dumps([experiment_id]), safe="")
    return f"{root}#/compare-runs?runs={runs}&experiments={experiments}"


def tracked_run_link(tracker: Tracker, run_id: str) -> str:
    """The run's page in the UI of tracker's store (``pipeline ui``'s default address)."""
    experiment_id = tracker.get_run(run_id).info.experiment_id
    return run_link(ui_root(tracker.uri), experiment_id, run_id)


def server_command(uri: str, host: str, port: int, artifact_root: str | None) -> list[str]:
    """The lean ``mlflow server``: one web worker (the rest is switched off by LEAN_ENV)."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    command += ["--host", host, "--port", str(port), "--workers", "1"]
    if artifact_root:
        command += ["--default-artifact-root", artifact_root]
    return command


def wait_until_answers(
    url: str, server: subprocess.Popen[bytes], timeout: float = START_TIMEOUT_S
) -> bool:
    """True once url answers HTTP 200; False if the server ends first or timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        # refused or reset while it starts (HTTPError, URLError are OSErrors)
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return True
        time.sleep(0.2)
    return False


def stop_group(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's whole process group, SIGKILL to whatever outlives the grace."""
    group = server.pid  # start_new_session: the server leads its own group
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _group_alive(group, server):
        time.sleep(0.1)
    _signal_group(group, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=STOP_TIMEOUT_S)


def _group_alive(group: int, server: subprocess.Popen[bytes]) -> bool:
    server.poll()  # reap the leader, or it counts as alive
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_group(group: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, number)


def _link_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM and SIGHUP stop the UI like Ctrl-C (SIGINT too, even if it was ignored)."""
    raise KeyboardInterrupt(f"signal {signum}")
