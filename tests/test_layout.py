"""The test tree must not shadow the packages it tests.

With ``tests`` on pytest's ``pythonpath`` and no repository root on ``sys.path`` (CI runs the
``pytest`` script of an installed environment), a test folder ``tests/pipeline/decoding``
was imported as the namespace package ``pipeline.decoding`` in place of the real one.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def test_no_test_folder_mirrors_a_subpackage() -> None:
    shadowing = [
        str(folder.relative_to(ROOT))
        for folder in TESTS.rglob("*")
        if folder.is_dir()
        and len(folder.relative_to(TESTS).parts) > 1
        and (ROOT / folder.relative_to(TESTS) / "__init__.py").exists()
    ]
    assert shadowing == [], f"rename these test folders, they shadow packages: {shadowing}"
