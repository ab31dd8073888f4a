"""scripts/bootstrap.sh installs the Debian packages the service needs to answer calls on
the plain run (espeak-ng, sox), and the test peers only with --test. apt-get and dpkg-query
are replaced on PATH by recorders: the machine's real packages are never touched."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _exe(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the scripts with a venv already in place, so only the Debian step runs."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts/bootstrap.sh", root / "scripts/bootstrap.sh")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, root / name)
    (root / ".venv/bin").mkdir(parents=True)
    _exe(root / ".venv/bin/python", "exit 0\n")
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()
                            + (root / "constraints.txt").read_bytes()).hexdigest()[:16]
    for mode in ("0", "1"):
        (root / f".venv/.installed-{digest}-{mode}").touch()
    return root


def _bootstrap(root: Path, *args: str, installed: set[str]) -> list[str]:
    shims = root.parent / "shims"
    shims.mkdir(exist_ok=True)
    log = root.parent / "apt.log"
    log.unlink(missing_ok=True)
    listed = " ".join(sorted(installed))
    # dpkg-query -W -f=FORMAT NAME: installed only when NAME is in the list.
    _exe(shims / "dpkg-query", f'for p in {listed}; do [ "$p" = "$3" ] && '
         'printf "install ok installed" && exit 0; done; exit 1\n')
    _exe(shims / "apt-get", f'echo "$*" >> {log}\n')
    _exe(shims / "sudo", '"$@"\n')
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(root / "scripts/bootstrap.sh"), *args], env=env, check=True,
                   capture_output=True, timeout=60)
    return log.read_text().splitlines() if log.exists() else []


def test_plain_run_installs_the_runtime_packages(checkout: Path) -> None:
    calls = _bootstrap(checkout, installed=set())
    assert calls[0].startswith("update")
    install = calls[1].split()
    assert install[:2] == ["install", "-y"]
    assert {"espeak-ng", "sox"} <= set(install)
    assert not {"postgresql", "sip-tester", "kamailio", "baresip"} & set(install)


def test_test_run_installs_runtime_and_test_packages(checkout: Path) -> None:
    calls = _bootstrap(checkout, "--test", installed={"sox"})
    install = set(calls[1].split())
    assert {"espeak-ng", "postgresql", "sip-tester", "kamailio", "baresip"} <= install
    assert "sox" not in install


def test_nothing_installed_when_present(checkout: Path) -> None:
    assert _bootstrap(checkout, installed={"espeak-ng", "sox"}) == []
