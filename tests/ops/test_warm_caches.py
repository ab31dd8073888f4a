"""scripts/test.sh's collect-only pass with tests/support/warm_caches.py: each test module is
imported through pytest's assertion rewrite, whose cached pyc the xdist workers then read,
and no test item is made (the workers make their own)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _pytest.assertion.rewrite import PYC_TAIL


def test_the_pass_caches_each_rewritten_module_and_makes_no_item(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"test_warm_{tmp_path.name.replace('-', '_')}"  # unique: imported in this process
    (tmp_path / f"{name}.py").write_text(
        "import pathlib\n"
        "pathlib.Path(__file__).with_suffix('.imported').touch()\n"
        "def test_one():\n    assert 1\n"
        "class TestMore:\n    def test_two(self):\n        assert 2\n", encoding="utf-8")
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.chdir(tmp_path)
    try:
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
                            "--rootdir", str(tmp_path), "-p", "tests.support.warm_caches",
                            str(tmp_path)])
    finally:
        sys.modules.pop(name, None)
    assert code == pytest.ExitCode.NO_TESTS_COLLECTED  # no item made
    assert (tmp_path / f"{name}.imported").exists()  # the module was imported
    assert (tmp_path / "__pycache__" / f"{name}{PYC_TAIL}").exists()  # its rewrite cached
