"""`pipeline ui` with a real MLflow server: link once it answers, nothing left after SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.tracking import Tracker
from pipeline.ui import experiment_link


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every live process below pid (from /proc: pid -> parent pid)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def ui_command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "ui", *argv]


def read_link(process: subprocess.Popen, timeout: float) -> str:
    """The first http link the UI prints on stdout."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines and lines[0], f"no link within {timeout} s (exit status {process.poll()})"
    return re.search(r"http://\S+", lines[0]).group(0)


@pytest.mark.slow
def test_ui_prints_a_working_link_and_sigterm_stops_every_process(workdir: Path) -> None:
    tracker = Tracker()
    tracker.create_run("tests", "one", {})
    experiment_id = tracker.experiment_id("tests")
    port = free_port()
    ui = subprocess.Popen(
        ui_command("--port", str(port), "--experiment", "tests"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        link = read_link(ui, timeout=240)
        assert link == (
            f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs"
            "?workflowType=machine_learning"
        )
        with urllib.request.urlopen(link, timeout=30) as response:
            assert response.status == 200
        started = descendants(ui.pid)
        assert started, "the server runs in child processes"
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=60) == 0
    finally:
        if ui.poll() is None:  # SIGTERM (not SIGKILL): the UI must not leave its server behind
            ui.terminate()
            ui.wait(timeout=60)
    time.sleep(0.5)
    assert not [pid for pid in started if alive(pid)]
    with socket.socket() as probe:  # nothing listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        probe.bind(("127.0.0.1", port))
        probe.listen()


def test_a_taken_port_exits_2_naming_it(workdir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            ui_command("--port", str(port)),
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ},
            check=False,
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_link_opens_the_runs_table_of_the_latest_run_by_default(workdir: Path) -> None:
    tracker = Tracker()
    assert experiment_link("127.0.0.1", 5000, tracker, None) == "http://127.0.0.1:5000/"
    tracker.create_run("first", "a", {})
    time.sleep(0.01)  # start times are in ms: the second run is the latest
    tracker.create_run("second", "b", {})
    latest = tracker.experiment_id("second")
    assert experiment_link("0.0.0.0", 5000, tracker, None) == (
        f"http://127.0.0.1:5000/#/experiments/{latest}/runs?workflowType=machine_learning"
    )
    first = experiment_link("127.0.0.1", 5000, tracker, "first")
    assert f"#/experiments/{tracker.experiment_id('first')}/runs" in first
    with pytest.raises(UserError, match=r"no experiment 'thrid'.*one of: Default, first, second"):
        experiment_link("127.0.0.1", 5000, tracker, "thrid")
