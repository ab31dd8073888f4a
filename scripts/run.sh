#!/usr/bin/env bash
# Runs the service with embedded defaults: SQLite and files under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/hotline db upgrade
exec .venv/bin/hotline serve "$@"
