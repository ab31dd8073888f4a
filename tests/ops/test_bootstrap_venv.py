"""scripts/bootstrap.sh on a fresh Debian machine, where python3 has no ensurepip (Debian
ships it in python3-venv, not installed by default) and `python3 -m venv` fails: the
first run installs python3-venv with the other packages; with ensurepip, or a venv
already made, it does not. apt-get, dpkg-query and the Python are recorders on PATH."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ops.test_bootstrap import REPO, _bootstrap, _exe


def fresh_checkout(tmp_path: Path, *, ensurepip: bool, pip: bool = False) -> Path:
    """No .venv yet; PYTHON is a stand-in that answers ``-c "import ensurepip"`` and the
    check for a pip of its own (``-c "import pip, ..."``) as told, notes what it is asked
    in python.log, and makes a venv of stand-ins (python, pip) when asked to: with
    ``--without-pip`` the venv's pip only once its own pip installs one there."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts/bootstrap.sh", root / "scripts/bootstrap.sh")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, root / name)
    venv_pip = ("printf '#!/bin/sh\\necho \"$*\" >> pip.log\\n' > .venv/bin/pip; "
                "chmod +x .venv/bin/pip")
    _exe(tmp_path / "python3", f"""echo "$*" >> python.log
case "$*" in
  "-c import ensurepip") exit {0 if ensurepip else 1} ;;
  "-c import pip"*) exit {0 if pip else 1} ;;
  "-m venv .venv"|"-m venv --without-pip .venv") mkdir -p .venv/bin
    printf '#!/bin/sh\\nexit 0\\n' > .venv/bin/python
    chmod +x .venv/bin/python
    [ "$3" = .venv ] && {{ {venv_pip}; }} ;;
  "-m pip --python .venv/bin/python install"*) {venv_pip} ;;
esac
exit 0
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


@pytest.mark.parametrize("pip", [False, True], ids=["no-pip", "with-pip"])
def test_a_pip_of_the_interpreters_puts_the_current_pip_into_a_venv_made_without_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pip: bool) -> None:
    """venv's ensurepip installs the bundled pip only for the upgrade to replace it (~2-3
    CPU-s before anything else can start, docs/suite.md, thirty-second round); an
    interpreter without a pip that can install elsewhere (a fresh Debian python3) makes the
    venv with it as before. Either way the project is installed by the venv's own pip."""
    root = fresh_checkout(tmp_path, ensurepip=True, pip=pip)
    monkeypatch.setenv("PYTHON", str(tmp_path / "python3"))
    _bootstrap(root, installed={"espeak-ng", "sox"})
    asked = (root / "python.log").read_text().splitlines()
    venv_pip = (root / "pip.log").read_text().splitlines()
    if pip:
        assert "-m venv --without-pip .venv" in asked and "-m venv .venv" not in asked
        assert "-m pip --python .venv/bin/python install -q --upgrade pip" in asked
        assert not any("--upgrade pip" in line for line in venv_pip)
    else:
        assert "-m venv .venv" in asked and not any("--without-pip" in a for a in asked)
        assert "install -q --upgrade pip" in venv_pip
    installs = [line for line in venv_pip if "-e" in line.split()]
    assert len(installs) == 1  # the project, by the venv's pip
