#!/usr/bin/env bash
# Install what the tests need, run ruff and mypy, then the whole suite (SQLite and a real PostgreSQL).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test
# Static checks first, each failing the run: lint, formatting, types (configured in
# pyproject.toml and setup.cfg).
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m mypy
# The layer contracts (.importlinter): the core below the features, no import cycles.
.venv/bin/lint-imports --no-cache
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
fi
exit "$status"
