"""The browser tests' project, `pipeline ui` on it, and Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from project import make_project, screenshots

LINK = re.compile(r"MLflow UI: (\S+)")
UI_START_S = 120  # the lean server answers in ~15 s alone; 2 shared cores can triple it


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    make_project(folder)
    return folder


@pytest.fixture(scope="session")
def ui_link(project: Path) -> Iterator[str]:
    """`pipeline ui` started as a user does, the link it prints; stopped whatever happens."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "ui", "--port", "5787"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        started = time.monotonic()
        line = server.stdout.readline() if server.stdout else ""  # printed once it answers
        found = LINK.search(line)
        assert found, f"pipeline ui printed {line!r} (exit status {server.poll()})"
        print(f"pipeline ui answered after {time.monotonic() - started:.1f} s", file=sys.stderr)
        yield found.group(1)
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C: `pipeline ui` stops its whole group
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium (RNN_PIPELINE_CHROMIUM, else `chromium` on PATH): no download."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("RNN_PIPELINE_CHROMIUM") or shutil.which("chromium")
    assert chromium, "no chromium: run `nox -s e2e`, which installs it"
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; a screenshot of it is saved when the test ends, passed or failed."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    page.screenshot(path=str(screenshots() / f"{request.node.name}.png"))
    context.close()
