#!/usr/bin/env bash
# The main job on the embedded default: the monitoring service with SQLite in ./data, the
# HTTP API and dashboard on http://127.0.0.1:8080, and two demo channels (UDP and HLS,
# published on loopback from a generated clip with defects every minute). Incidents appear
# within a minute. Ctrl-C stops it. Extra arguments go to `streamqc serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Node with the flags the streamqc command starts it with (src/cli/node-flags.ts).
exec node --max-semi-space-size=2 dist/cli/main.js serve --demo "$@"
