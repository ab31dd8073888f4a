#!/usr/bin/env bash
# Runs the test suite, installing what it needs first. CI runs it without arguments.
#   bash scripts/test.sh            the whole suite
#   bash scripts/test.sh --fast     the fast tier: no real SIP peers, no Vosk, no PostgreSQL,
#                                   no browser or service processes (marker "external"), no
#                                   OpenAPI fuzz (marker "fuzz": ~70 CPU-s, a sixth more), no
#                                   test heavy by nature (marker "slow": training, whole-corpus
#                                   checks, extra interpreters; ~60 CPU-s, docs/suite.md)
#   bash scripts/test.sh ARGS...    extra pytest arguments (a path, -x, -k, -n 0, ...)
# Tests run in parallel (pytest-xdist). The whole suite is CPU-bound now (a clean-clone CI
# run: ~1,420 CPU-s in 14 min 21 s on 2 cores), so a worker more overlaps little waiting
# but pays its own collection (~10 CPU-s warm) and session fixtures (the Vosk model,
# PostgreSQL, templates, prompts: ~7 CPU-s). 6 workers instead of 8, one full profiled
# run each at load 6-13: 1,298 → 1,197 CPU-s of pytest (with this round's test cuts;
# ~40 of it the two workers fewer), the workers ending within 11 s of each other.
# HOTLINE_TEST_WORKERS overrides the number.
# Ninth round, one full profiled run at load ~15 before: 1,305 CPU-s of pytest (user+sys);
# the fuzz's four tests were 114 of it, now one test of 71 (tests/api); and a
# clean clone's pip install 75 → ~31 CPU-s (+9 in the collect-only pass below; bootstrap.sh).
# The fast tier (eighteenth round, docs/suite.md): 2,997 tests (with the round's new ones);
# on two idle cores (the lead, alternated, load 1.7-2.4 from the runs themselves), pytest's
# wall with -n 3 was 89.9 and 89.1 s (161.8 and 161.5 CPU-s) against 94.6-104 s with -n 2
# (143-164 CPU-s): the tier still waits on real time here and there (a dialogue's no-speech
# limit 8 s, SIP race and dialer tests, Twilio retries), and with two workers each wait left
# a core idle (a utilisation timeline, -n 2: ~1.6 of 2 cores on average). Under load a third
# worker costs its collection (~8-25 CPU-s) for little; HOTLINE_TEST_WORKERS=2 then. A
# module that builds much when imported costs it once per worker: tests/api/test_openapi_fuzz.py builds its schema when it runs.
# Tenth round: the knowledge index is shared by databases with the same entries (each test's
# clone of the FAQ template built it again, ~0.5 CPU-s), the forked crash/lock holders, one
# classification per training text. A fast-tier section before/after, -n 2, warm bytecode
# (tests/knowledge tests/ivr tests/intake tests/asr tests/ticketing/test_intake_speed.py,
# ~425 tests): 96.9 -> 64.6 CPU-s of pytest (user+sys), 76.8 -> 45.4 in tests, load 7-14.
set -euo pipefail
cd "$(dirname "$0")/.."

tier=()
workers=6
if [ "${1:-}" = "--fast" ]; then
    shift
    tier=(-m "not sip and not asr and not postgres and not external and not fuzz and not slow")
    workers=3
fi

# Every xdist worker imports the whole project and rewrites every test module's asserts:
# with PYTHONDONTWRITEBYTECODE set (as it is on our shared test machines) none of that was
# kept, and each worker paid ~12 s of CPU to collect instead of ~6 (gitignored __pycache__
# dirs). Compiling the sources once up front saves the workers doing it side by side on a
# fresh clone; the test modules' rewritten asserts are pytest's own and kept on first use.
unset PYTHONDONTWRITEBYTECODE
sources=(asr config hotline ivr knowledge outbound telephony ticketing tests)
# Twentieth round: on a fresh clone the byte-compile needs no venv, so it runs beside the
# bootstrap's pip install (one core busy for ~25 s) with the interpreter the venv is made
# from (bootstrap.sh's PYTHON) instead of after it (~4 s of wall, docs/suite.md).
compiled=""
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m compileall -q -j 2 "${sources[@]}" >/dev/null & compiled=$!
fi
bash scripts/bootstrap.sh --test
if [ -n "$compiled" ]; then
    wait "$compiled"
else
    .venv/bin/python -m compileall -q -j 2 "${sources[@]}" >/dev/null
fi
# ruff and lint-imports run beside the collect-only pass below (each mostly starts up;
# together a few seconds of wall before any test ran); either failing still stops the run
# here.
checks=$(mktemp -d)
.venv/bin/ruff check . >"$checks/ruff" 2>&1 & ruff=$!
.venv/bin/lint-imports --no-cache >"$checks/imports" 2>&1 & imports=$!
# The test modules' rewritten asserts are cached by pytest only once some process has
# rewritten them: on a fresh clone every xdist worker started cold, side by side, and paid
# ~7.5 CPU-s more to collect (measured in a clean clone, 2 workers collecting everything
# and running nothing: 37.0 CPU-s cold, 22.0 with the cache filled). One collect-only pass
# here (~17 CPU-s) fills it first: with 6 workers ~45 CPU-s of collection saved for 17. A
# checkout that has a cached rewrite for every test module already skips it.
workers=${HOTLINE_TEST_WORKERS:-$workers}
modules=$(find tests -name 'test_*.py' -o -name conftest.py | wc -l)
cached=$(find tests -path '*/__pycache__/*' -name '*-pytest-*.pyc' | wc -l)
# Twentieth round: the pass was one process on one core (~18 s of wall in a clean clone);
# when the run collects every test directory (no argument names a path) it is two, over
# halves of the test modules by size (ticketing, telephony and intake: half the bytes),
# side by side.
# Thirty-second round: the pass imports each test module and makes no test item
# (tests/support/warm_caches.py): the items were the workers' own work, thrown away here
# (~1.1-1.4 CPU-s of the pass, docs/suite.md).
collect() {
    .venv/bin/python -m pytest --collect-only -q -p no:cacheprovider \
        -p tests.support.warm_caches "$@" \
        >/dev/null 2>&1 || true  # a collection error is reported by the run below
}
if [ "$workers" -gt 1 ] && [ "$cached" -lt "$modules" ]; then
    whole=1
    for a in "$@"; do [ -e "${a%%::*}" ] && whole=0; done
    if [ "$whole" = 1 ]; then
        # Twenty-second round: a fresh venv (bootstrap.sh's --no-compile) has no bytecode
        # for the site-packages the suite imports, and both halves compiled them side by
        # side. One process loads the plugins and tests/conftest.py first (it collects
        # nothing) beside ruff and lint-imports; two alternated pairs in fresh clones at
        # load 4-11: 31.5 / 30.2 CPU-s and 42.6 / 49.5 s of wall without it, 27.3 / 25.8
        # CPU-s and 39.6 / 42.9 s with it (docs/suite.md).
        if [ -n "$compiled" ]; then
            collect "${tier[@]}" "$@" tests/support
        fi
        half=() rest=()
        for d in tests/*/; do
            case "${d%/}" in
                tests/ticketing|tests/telephony|tests/intake) half+=("${d%/}") ;;
                *) rest+=("${d%/}") ;;
            esac
        done
        collect "${tier[@]}" "$@" "${half[@]}" & first=$!
        collect "${tier[@]}" "$@" "${rest[@]}"
        wait "$first"
    else
        collect "${tier[@]}" "$@"
    fi
fi
failed=0
wait "$ruff" || failed=1
cat "$checks/ruff"
wait "$imports" || failed=1
cat "$checks/imports"
rm -rf "$checks"
[ "$failed" = 0 ] || exit 1
exec .venv/bin/python -m pytest -n "$workers" --dist loadgroup \
    "${tier[@]}" "$@"
