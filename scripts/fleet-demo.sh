#!/usr/bin/env bash
# A fleet on this machine, for a newcomer to watch streams move (docs/fleet.md):
# a throwaway PostgreSQL, the API with the demo channels (serve --db --no-monitor --demo),
# four more streams on the demo's HLS channel, and 3 workers. Then kill one:
#
#   kill -9 <pid of worker-2>        its streams are owned again within about 10 s
#   kill <pid of worker-3>           SIGTERM drains: its streams move within about 1 s
#   curl -s localhost:8080/api/v1/workers
#
# Ctrl-C stops everything and removes the database.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PORT="${PORT:-8080}"
eval "$(scripts/pg-test-cluster.sh start)"
DATA="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg-test-cluster.sh stop "$STREAMQC_PG_DIR" || true
  rm -rf "$DATA"
}
trap cleanup EXIT INT TERM
export STREAMQC_DATABASE_URL="$STREAMQC_PG_URL"
echo "{\"dataDir\": \"$DATA\", \"allowFileInputs\": false}" >"$DATA/config.json"
node dist/cli/main.js serve --no-monitor --demo --port "$PORT" --config "$DATA/config.json" >"$DATA/api.log" 2>&1 &
PIDS+=($!)
API="http://127.0.0.1:$PORT/api/v1"
for _ in $(seq 1 60); do curl -sf "$API/streams" >/dev/null 2>&1 && break; sleep 1; done
HLS="$(curl -s "$API/streams" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const i=JSON.parse(s).items.find(x=>x.url.startsWith("http"));process.stdout.write(i?i.url:"")})')"
if [ -n "$HLS" ]; then
  for n in 2 3 4 5; do
    curl -s -X POST "$API/streams" -H 'content-type: application/json' \
      -d "{\"name\":\"demo-hls-$n\",\"url\":\"$HLS\"}" >/dev/null
  done
fi
for n in 1 2 3; do
  node dist/cli/main.js worker --name "worker-$n" --config "$DATA/config.json" >"$DATA/worker-$n.log" 2>&1 &
  PIDS+=($!)
  echo "worker-$n: pid $! (log $DATA/worker-$n.log)"
done
echo "API and dashboard: http://127.0.0.1:$PORT/   workers: $API/workers"
echo "Kill a worker (kill -9 PID) and watch its streams move:  watch -n1 curl -s $API/workers"
while sleep 2; do
  curl -s "$API/workers" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const w=JSON.parse(s).items;console.log(new Date().toISOString().slice(11,19),w.map(x=>`${x.name}:${x.streams}`).join("  "))}catch{}})'
done
