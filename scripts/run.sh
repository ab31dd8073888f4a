#!/usr/bin/env bash
# Runs the service with embedded defaults: SQLite and files under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/hotline db upgrade
# The first start downloads the pinned Mandarin model (43 MB). Offline, the service still
# answers and records every call; the backlog is transcribed once a model is installed.
.venv/bin/hotline asr ensure \
  || echo "run.sh: no speech model yet (see above); calls are recorded and transcribed later" >&2
exec .venv/bin/hotline serve "$@"
