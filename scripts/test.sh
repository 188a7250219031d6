#!/usr/bin/env bash
# The test command: sets up what it needs, then runs the type check, lint, format check,
# circular-import check, build and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
npm test
