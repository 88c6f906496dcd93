#!/usr/bin/env bash
# Install what the tests need and run the whole suite (SQLite and a real PostgreSQL).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test
# The layer contracts (.importlinter) first: a broken one fails the script.
.venv/bin/lint-imports --no-cache
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
fi
exit "$status"
