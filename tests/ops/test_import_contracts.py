"""The import-linter contracts in pyproject.toml (run by scripts/test.sh) really catch a
step against the dependency direction: a copy of the tree with one planted import fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("ticketing", "asr", "ivr", "outbound", "telephony", "config", "hotline")
LINT = Path(sys.executable).with_name("lint-imports")
# A copy of the tree and a lint-imports process per test (~0.35 CPU-s each): the whole suite
# only (marker "slow"). `scripts/test.sh --fast` still runs lint-imports on the shipped tree
# before any test.
pytestmark = pytest.mark.slow


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, tmp_path / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_shipped_tree_keeps_the_contracts(tree: Path) -> None:
    r = _lint(tree)
    assert r.returncode == 0, r.stdout[-3000:]


@pytest.mark.parametrize(("module", "planted", "contract"), [
    ("telephony/__init__.py", "import ticketing.states", "telephony imports only config BROKEN"),
    ("ticketing/service.py", "import ivr.intake", "nothing above it BROKEN"),
    ("outbound/sms.py", "import hotline.app", "no package imports it BROKEN"),
])
def test_a_planted_import_breaks_a_contract(tree: Path, module: str, planted: str,
                                            contract: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{planted}  # noqa\n")
    r = _lint(tree)
    assert r.returncode != 0
    assert contract in r.stdout
