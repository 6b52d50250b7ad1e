"""Sessions: tests, lint, typecheck, distributed, e2e, demo, bench.
``python3 -m pip install nox && nox -s tests``.

torch is installed first as torch==2.13.0 (the CPU wheel); set RNN_PIPELINE_TORCH to another
pip spec for GPUs, e.g. RNN_PIPELINE_TORCH="torch==2.13.0 --index-url https://.../cu128".
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
TORCH = shlex.split(os.environ.get("RNN_PIPELINE_TORCH", "torch==2.13.0"))


def install(session: nox.Session, extras: str = "") -> None:
    """torch first (so nothing pulls a CUDA build), then the project and the test plugins."""
    session.install(*TORCH)
    session.install("-e", f".[{extras}]" if extras else ".")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (real torch, Lightning, MLflow; no GPU or data download needed)."""
    install(session, "test")
    session.install("./tests/plugin_dist")
    session.install("./examples/rnn-pipeline-extras")  # the example dist, installed for real
    session.run("pytest", *session.posargs)
    if not session.posargs:  # the example distribution's own tests, as its author runs them
        session.run("pytest", "examples/rnn-pipeline-extras/tests")


@nox.session
def distributed(session: nox.Session) -> None:
    """Tuning across machines: 3 `pipeline tune` workers on a real PostgreSQL (started here,
    installed with apt-get when missing) and a real `mlflow server`, both on 127.0.0.1."""
    ensure_postgres(session)
    install(session, "test,postgres")
    session.run("pytest", "-m", "cluster", "tests/cluster", *session.posargs)


def ensure_postgres(session: nox.Session) -> None:
    """Debian's PostgreSQL server binaries (initdb, pg_ctl), installed when missing."""
    if any(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return
    apt_install(session, "postgresql", "sudo apt-get install postgresql")


@nox.session
def e2e(session: nox.Session) -> None:
    """The MLflow UI in a real browser: Debian's Chromium (installed with apt-get when missing)
    driven by Playwright (no browser download) against `pipeline ui`; screenshots land in
    .nox/e2e/screenshots."""
    chromium = ensure_chromium(session)
    install(session, "test,e2e")
    screenshots = Path(session.virtualenv.location) / "screenshots"
    env = {"RNN_PIPELINE_CHROMIUM": chromium, "RNN_PIPELINE_SCREENSHOTS": str(screenshots)}
    session.run("pytest", "-m", "browser", "tests/browser", *session.posargs, env=env)


def ensure_chromium(session: nox.Session) -> str:
    """Path of Debian's chromium, installed when missing (as ensure_postgres does)."""
    found = shutil.which("chromium")
    if found:
        return found
    apt_install(session, "chromium", "sudo apt-get install chromium")
    return shutil.which("chromium") or session.error("chromium is still missing after apt-get")


def apt_install(session: nox.Session, package: str, hint: str) -> None:
    """apt-get install package as root (CI), else stop with the command to run."""
    if os.geteuid() != 0:
        session.error(f"{package} is missing: `{hint}`, then rerun")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run(
        "apt-get", "install", "-y", "-qq", "--no-install-recommends", package,
        external=True, env=env,
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy, close to strict, over pipeline/ and plugins/ (settings in pyproject.toml)."""
    install(session, "test,typecheck")
    session.run("mypy", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Train the demo model (about a minute), print the next words of 'El gobierno aprobó un'."""
    install(session)
    session.run("pipeline", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The pipeline against a plain PyTorch loop (prints figures): `nox -s bench` runs
    benchmarks/cli_epoch.py; `nox -s bench -- SCRIPT.py ARGS` runs another benchmark."""
    install(session)
    script, *args = session.posargs or ["cli_epoch.py"]
    if not script.endswith(".py"):  # options only: they are cli_epoch.py's
        script, args = "cli_epoch.py", list(session.posargs)
    session.run("python", f"benchmarks/{script}", *args)
