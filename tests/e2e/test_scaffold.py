"""``pipeline plugins new``: the written distribution installs, passes its own tests (which
call pipeline.testing) and is listed by ``pipeline plugins list``."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main

pytestmark = pytest.mark.slow
NAME = "rnn-pipeline-scaffold-probe"
COMPONENT = "rnn_pipeline_scaffold_probe"


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
    )


def test_new_plugin_installs_passes_its_tests_and_is_listed(tmp_path: Path, capsys) -> None:
    root = tmp_path / NAME
    assert main(["plugins", "new", NAME, "--directory", str(root)]) == 0
    package = root / COMPONENT
    assert {p.name for p in package.iterdir()} >= {"cell.py", "initializer.py", "task.py"}
    assert '"rnn_pipeline.cells"' in (root / "pyproject.toml").read_text()
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    installed = pip("install", "--no-deps", *isolation, str(root))
    assert installed.returncode == 0, installed.stderr
    try:
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            cwd=root,
            capture_output=True,
            text=True,
        )
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert "3 passed" in tests.stdout
        capsys.readouterr()
        assert main(["plugins", "list", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)["plugins"]
        ours = {(row["name"], row["group"]) for row in rows if row["distribution"] == NAME}
        assert ours == {
            (COMPONENT, "rnn_pipeline.cells"),
            (COMPONENT, "rnn_pipeline.initializers"),
            (COMPONENT, "rnn_pipeline.tasks"),
        }
    finally:
        pip("uninstall", "-y", NAME)


def test_only_the_asked_kinds_and_refuses_a_non_empty_directory(tmp_path: Path, capsys) -> None:
    root = tmp_path / "cells-only"
    assert main(["plugins", "new", "cells-only", "--cell", "--directory", str(root)]) == 0
    install_line = f"next: pip install -e '{root}[test]' && (cd {root} && pytest)"
    assert install_line in capsys.readouterr().out  # the test extra brings this env's pytest
    assert "pip install -e '.[test]'" in (root / "README.md").read_text()
    assert {p.name for p in (root / "cells_only").iterdir()} == {"__init__.py", "cell.py"}
    assert "rnn_pipeline.tasks" not in (root / "pyproject.toml").read_text()
    assert main(["plugins", "new", "cells-only", "--directory", str(root)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["plugins", "new", "9bad name", "--directory", str(tmp_path / "x")]) == 2


def test_new_image_encoder_passes_its_tests_and_is_listed(tmp_path: Path) -> None:
    root = tmp_path / "picture-encoders"
    argv = ["plugins", "new", "picture-encoders", "--image-encoder", "--directory", str(root)]
    assert main(argv) == 0
    assert {p.name for p in (root / "picture_encoders").iterdir()} == {
        "__init__.py",
        "image_encoder.py",
    }
    # Installed into a folder of its own, not this environment, which other runs share.
    site = tmp_path / "site"
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    installed = pip("install", "--no-deps", *isolation, "--target", str(site), str(root))
    assert installed.returncode == 0, installed.stderr
    repository = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(repository)])}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed" in tests.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "plugins", "check", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    rows = json.loads(listing.stdout)["plugins"]
    ours = [(r["name"], r["group"], r["status"]) for r in rows if r["distribution"] == root.name]
    assert ours == [("picture_encoders", "rnn_pipeline.image_encoders", "loaded")]
