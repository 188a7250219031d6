#!/usr/bin/env bash
# The main job on the embedded default. Until `serve` lands, this generates a clip with
# injected defects and analyzes it, printing the incidents found beside the ground truth.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
mkdir -p tmp
node dist/cli/main.js gen tmp/demo.ts --duration 45 --defects freeze@8:4,black@18:3,silence@26:3,clipping@34:2
node dist/cli/main.js analyze tmp/demo.ts
