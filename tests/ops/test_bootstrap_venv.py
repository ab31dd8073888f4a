"""scripts/bootstrap.sh on a fresh Debian machine, where python3 has no ensurepip (Debian
ships it in python3-venv, not installed by default) and `python3 -m venv` fails: the
first run installs python3-venv with the other packages; with ensurepip, or a venv
already made, it does not. apt-get, dpkg-query and the Python are recorders on PATH."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ops.test_bootstrap import REPO, _bootstrap, _exe


def fresh_checkout(tmp_path: Path, *, ensurepip: bool) -> Path:
    """No .venv yet; PYTHON is a stand-in that answers ``-c "import ensurepip"`` as told
    and makes a venv of stand-ins (python, pip) when asked to."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts/bootstrap.sh", root / "scripts/bootstrap.sh")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, root / name)
    _exe(tmp_path / "python3", f"""case "$*" in
  "-c import ensurepip") exit {0 if ensurepip else 1} ;;
  "-m venv .venv") mkdir -p .venv/bin
    printf '#!/bin/sh\\nexit 0\\n' > .venv/bin/python
    printf '#!/bin/sh\\necho "$*" >> pip.log\\n' > .venv/bin/pip
    chmod +x .venv/bin/python .venv/bin/pip ;;
esac
""")
    return root


@pytest.mark.parametrize("ensurepip", [False, True], ids=["debian-fresh", "with-ensurepip"])
def test_first_run_installs_python3_venv_only_when_venv_cannot_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ensurepip: bool) -> None:
    root = fresh_checkout(tmp_path, ensurepip=ensurepip)
    monkeypatch.setenv("PYTHON", str(tmp_path / "python3"))
    calls = _bootstrap(root, installed={"espeak-ng", "sox"})
    install = set(calls[1].split()) if calls else set()
    assert ("python3-venv" in install) is not ensurepip
    assert (root / ".venv/bin/python").exists()  # the run went on to make the venv


@pytest.mark.parametrize("mode", [(), ("--test",)], ids=["plain", "test"])
def test_only_the_test_install_leaves_byte_compiling_to_first_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: tuple[str, ...]) -> None:
    """pip byte-compiles every module it installs; the suite imports about a fifth of them,
    and scripts/test.sh's collect-only pass compiles those once. The service's install keeps
    them compiled: a process with PYTHONDONTWRITEBYTECODE would compile at every start."""
    root = fresh_checkout(tmp_path, ensurepip=True)
    monkeypatch.setenv("PYTHON", str(tmp_path / "python3"))
    _bootstrap(root, *mode, installed={"espeak-ng", "sox", "postgresql", "sip-tester",
                                       "kamailio", "baresip", "linphone-cli", "chromium",
                                       "fonts-wqy-microhei"})
    installs = [line.split() for line in (root / "pip.log").read_text().splitlines()
                if "-e" in line.split()]
    assert len(installs) == 1
    assert ("--no-compile" in installs[0]) is bool(mode)
    # Both installs take the tested versions, not whatever was released since.
    assert installs[0][installs[0].index("-c") + 1] == "constraints.txt"
