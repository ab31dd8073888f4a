"""`python -m hotline` is the installed `hotline` command, for a checkout run in place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# A fresh interpreter importing the CLI (~2.5 CPU-s), its subject: the whole suite only
# (marker "slow", not `scripts/test.sh --fast`); the fast tier runs the CLI's commands through
# CliRunner (tests/ticketing/test_cli.py and others).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_python_dash_m_hotline_runs_the_cli() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # -X importtime: which modules the command imported, on stderr.
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "hotline", "asr", "--help"],
                          cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage: hotline asr" in done.stdout
    assert "ensure" in done.stdout
    # jieba's part-of-speech tables are 5.6 MB of Python source (~3 CPU-s to compile where
    # their bytecode is not kept, as in the test venv): a command that tags no question
    # does not import them (knowledge.search imports them when first used).
    assert "jieba.posseg" not in done.stderr
    # Twenty-fifth round: the CLI's import no longer brings what only some commands use
    # (~2.0 -> ~0.8 CPU-s, paid by every `hotline` command, each `hotline serve` and each of
    # its API workers): the knowledge search (jieba, pypinyin, rank_bm25), Alembic, the
    # app (a headless role or a workers' supervisor never builds it).
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert not imported & {"knowledge.search", "jieba", "pypinyin", "alembic", "hotline.app",
                           "hotline.observability", "jinja2"}
