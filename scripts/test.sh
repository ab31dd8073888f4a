#!/usr/bin/env bash
# Runs the test suite, installing what it needs first. CI runs it without arguments.
#   bash scripts/test.sh            the whole suite
#   bash scripts/test.sh --fast     the fast tier: no real SIP peers, no Vosk, no PostgreSQL
#   bash scripts/test.sh ARGS...    extra pytest arguments (a path, -x, -k, -n 0, ...)
# Tests run in parallel (pytest-xdist) because most of their time waits on real calls and
# timers, not on the CPU; HOTLINE_TEST_WORKERS overrides the number of worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."

tier=()
if [ "${1:-}" = "--fast" ]; then
    shift
    tier=(-m "not sip and not asr and not postgres")
fi

bash scripts/bootstrap.sh --test
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest -n "${HOTLINE_TEST_WORKERS:-5}" --dist loadgroup \
    "${tier[@]}" "$@"
