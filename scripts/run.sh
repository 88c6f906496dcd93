#!/usr/bin/env bash
# Install, prepare the database (idempotent) and run the service on its embedded defaults:
# SQLite in ./var, HTTP on 127.0.0.1:8080 (/healthz, /metrics), FastAGI on 127.0.0.1:4573;
# no Asterisk needed to start (point Asterisk at the FastAGI port when there is one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/hotline init --no-input
exec .venv/bin/hotline serve "$@"
