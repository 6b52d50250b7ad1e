"""How long ``pipeline ui`` takes to answer, and the memory of everything it started.

Usage::

    python benchmarks/ui_start.py [--repeats 3] [--port 5077]

Each repeat starts ``pipeline ui --port PORT`` as a user does, in a fresh temporary folder
(its SQLite store is created on the way), and times the wall clock from the start of the
process to the printed ``MLflow UI: <link>`` line, which ``pipeline ui`` prints only once the
server answers HTTP. It then sums the resident memory (VmRSS) of the command's process tree
(the CLI and the server processes it started), stops it with SIGTERM and checks that the port
is free again. Target (issue 14): answer <= 15 s, memory <= 0.7 GB, on an idle
2-core machine. This is a benchmark: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lm_common import load, log

TARGET_S, TARGET_GB = 15.0, 0.7


def status_fields(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict (empty when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def tree_rss_bytes(root: int) -> int:
    """Sum of VmRSS over root and all its descendants (the server runs in its own session)."""
    parents = {
        int(entry.name): int(status_fields(int(entry.name)).get("PPid", "0").strip() or 0)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
    }
    tree, grown = {root}, True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grown = bool(children)
    sizes = (status_fields(pid).get("VmRSS", "0 kB").split()[0] for pid in tree)
    return sum(int(size) * 1024 for size in sizes)


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def one_start(port: int) -> tuple[float, int]:
    """Seconds until the link line, and the process tree's memory then (bytes)."""
    pipeline = Path(sys.executable).with_name("pipeline")
    with tempfile.TemporaryDirectory(prefix="ui-start-") as folder:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(pipeline), "ui", "--port", str(port)],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        seconds = time.perf_counter() - start
        if not line.startswith("MLflow UI:"):
            process.kill()
            raise SystemExit(f"pipeline ui printed {line!r} instead of its link")
        memory = tree_rss_bytes(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if not port_free(port):
            raise SystemExit(f"port {port} still taken after SIGTERM")
        return seconds, memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=5077)
    args = parser.parse_args()
    log(f"ui_start: {os.cpu_count()} cores; {load()}")
    seconds, memory = [], []
    for repeat in range(1, args.repeats + 1):
        answer, rss = one_start(args.port)
        seconds.append(answer)
        memory.append(rss / 2**30)
        log(f"  repeat {repeat}: answered in {answer:.1f} s, {memory[-1]:.3f} GB; {load()}")
    median_s, median_gb = statistics.median(seconds), statistics.median(memory)
    log(
        f"median answer {median_s:.1f} s (target <= {TARGET_S:g}: "
        f"{'met' if median_s <= TARGET_S else 'NOT met'}), median memory {median_gb:.3f} GB "
        f"(target <= {TARGET_GB}: {'met' if median_gb <= TARGET_GB else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
