#!/usr/bin/env bash
# Install, prepare the database (idempotent) and run the service on its embedded defaults:
# SQLite in ./var, HTTP on 127.0.0.1:8080 (/healthz, /metrics), FastAGI on 127.0.0.1:4573;
# no Asterisk needed to start (point Asterisk at the FastAGI port when there is one).
# `scripts/run.sh --demo`: the same with a simulated Asterisk placing calls (docs/demo.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# `run.sh --demo` leaves the real database alone: the demo prepares its own (docs/demo.md).
if [[ " $* " != *" --demo "* ]]; then
    .venv/bin/hotline init --no-input
fi
exec .venv/bin/hotline serve "$@"
