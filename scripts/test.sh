#!/usr/bin/env bash
# The full test suite: installs what it needs, then lint, type checks and every test (e2e included).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
python3 -m ruff check kybernetes tests bench
python3 -m mypy
python3 -m pytest -q -p no:cacheprovider "$@"
