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
    # The install below runs a current pip: ~9 CPU-s less than the 23.2.1 that venv's
    # ensurepip bundles with Python 3.11.7 (13.4-15.0 CPU-s against 21.9-25.8, two runs
    # each, alternated; twenty-first round, docs/suite.md). Where the interpreter has a pip
    # that can install into another environment (--python, pip >= 22.3) that pip puts the
    # current one into a venv made without one: ensurepip's install of the bundled pip
    # (~2.3-3.4 CPU-s, one core, before anything else can start) was only ever replaced.
    # Thirty-second round: venv and pip 4.5-5.1 → 2.8-3.0 CPU-s at load 10-14.
    if "$PY" -c 'import pip, sys; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' \
            >/dev/null 2>&1; then
        "$PY" -m venv --without-pip .venv
        "$PY" -m pip --python .venv/bin/python install -q --upgrade pip \
            || { rm -rf .venv; exit 1; }  # a venv with no pip would be taken as made
    else
        "$PY" -m venv .venv
        .venv/bin/pip install -q --upgrade pip
    fi
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
