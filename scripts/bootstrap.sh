#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine: a venv with the
# package and the Debian packages the service needs at run time (espeak-ng, sox),
# and with --test the Debian packages the test suite drives for real.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# The service itself renders its voice prompts with espeak-ng + sox: without them the
# IVR never answers, so the plain run installs them too. --test adds the peers the
# suite drives for real.
debs=(espeak-ng sox)
PY="${PYTHON:-python3}"
# Debian keeps venv's ensurepip in python3-venv, which a fresh machine lacks: without it
# `python3 -m venv` below stops the first run.
if [ ! -x .venv/bin/python ] && ! "$PY" -c "import ensurepip" >/dev/null 2>&1; then
    debs+=(python3-venv)
fi
if [ "$want_test" = 1 ]; then
    debs+=(postgresql sip-tester kamailio baresip linphone-cli chromium fonts-wqy-microhei)
fi
missing=()
for d in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" != 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    # venv's ensurepip already installed a pip (23.2.1 with Python 3.11.7), new enough for
    # what we ask of it (an editable install from pyproject.toml needs >= 21.3), so the
    # upgrade installs pip a second time. Kept on purpose (twenty-first round,
    # docs/suite.md): the install below then costs ~9 CPU-s less (13.4-15.0 CPU-s with
    # pip 26.3 against 21.9-25.8 with the bundled 23.2.1, two runs each, alternated) for the
    # upgrade's ~1.3 CPU-s.
    .venv/bin/pip install -q --upgrade pip
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-$want_test
if [ ! -f "$stamp" ]; then
    extra=""
    compile=()
    # pip byte-compiles every module it installs: 43.5 of the 74.8 CPU-s of this install in a
    # clean clone (7,598 files). The suite imports about a fifth of them, which test.sh's
    # collect-only pass compiles once (collecting everything, 19.1 CPU-s without their
    # bytecode, 9.8 with it). The service's install keeps them compiled: a process run with
    # PYTHONDONTWRITEBYTECODE would compile what it imports at every start.
    if [ "$want_test" = 1 ]; then
        extra="[test]"
        compile=(--no-compile)
    fi
    # constraints.txt: the versions the suite passed with (a release since can break a fresh
    # machine that nothing here changed).
    .venv/bin/pip install -q "${compile[@]}" -c constraints.txt -e ".${extra}"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
