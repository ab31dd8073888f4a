"""`python -m hotline` is the installed `hotline` command, for a checkout run in place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_python_dash_m_hotline_runs_the_cli() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "hotline", "asr", "--help"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage: hotline asr" in done.stdout
    assert "ensure" in done.stdout
