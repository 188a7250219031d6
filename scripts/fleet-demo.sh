#!/usr/bin/env bash
# A fleet on this machine, for a newcomer to watch streams move (docs/fleet.md):
# a throwaway PostgreSQL (scripts/pg-test-cluster.sh), the API with the demo channels
# (serve --db --no-monitor --demo), four more streams on the demo's HLS channel, and 3 workers.
# It prints which worker holds how many streams every 2 s; kill one and watch them move:
#
#   kill -9 <pid of worker-2>        its streams are owned again within about 10 s (the lease)
#   kill <pid of worker-3>           SIGTERM drains: its streams move within about 1 s
#
# Ctrl-C stops everything and removes the database. PORT=8080 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PORT="${PORT:-8080}"
case "$PORT" in '' | *[!0-9]*) echo "fleet-demo: PORT must be a number" >&2 && exit 2 ;; esac

PG_DIR=""
DATA="$(mktemp -d "${TMPDIR:-/tmp}/streamqc-fleet-demo.XXXXXX")"
PIDS=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$PG_DIR" ]; then scripts/pg-test-cluster.sh stop "$PG_DIR" || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

# The cluster prints two KEY=value lines; read them without eval.
while IFS='=' read -r key value; do
  case "$key" in
    STREAMQC_PG_URL) export STREAMQC_DATABASE_URL="$value" ;;
    STREAMQC_PG_DIR) PG_DIR="$value" ;;
  esac
done < <(scripts/pg-test-cluster.sh start)
[ -n "$PG_DIR" ] && [ -n "${STREAMQC_DATABASE_URL:-}" ] || {
  echo "fleet-demo: PostgreSQL did not start" >&2
  exit 1
}

# JSON from argv by node: no path or URL is ever spliced into JSON or a shell command.
node -e 'const [dir, file] = process.argv.slice(1); require("node:fs").writeFileSync(file, JSON.stringify({ dataDir: dir }))' \
  "$DATA/data" "$DATA/config.json"

node --max-semi-space-size=2 dist/cli/main.js serve --no-monitor --demo --port "$PORT" --config "$DATA/config.json" >"$DATA/api.log" 2>&1 &
PIDS+=("$!")
API="http://127.0.0.1:$PORT/api/v1"
for _ in $(seq 1 60); do
  curl -sf "$API/streams" >/dev/null 2>&1 && break
  sleep 1
done
curl -sf "$API/streams" >/dev/null || {
  echo "fleet-demo: the API did not start; its log:" >&2
  tail -n 20 "$DATA/api.log" >&2
  exit 1
}

# Four more streams on the demo's HLS channel, so there is something to move.
HLS="$(curl -s "$API/streams" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const i=JSON.parse(s).items.find(x=>x.url.startsWith("http"));process.stdout.write(i?i.url:"")})')"
if [ -n "$HLS" ]; then
  for n in 2 3 4 5; do
    node -e 'process.stdout.write(JSON.stringify({ name: process.argv[1], url: process.argv[2] }))' "demo-hls-$n" "$HLS" |
      curl -sf -X POST "$API/streams" -H 'content-type: application/json' --data-binary @- >/dev/null
  done
fi

for n in 1 2 3; do
  node --max-semi-space-size=2 dist/cli/main.js worker --name "worker-$n" --config "$DATA/config.json" >"$DATA/worker-$n.log" 2>&1 &
  PIDS+=("$!")
  echo "worker-$n: pid $! (log $DATA/worker-$n.log)"
done
echo
echo "API and dashboard: http://127.0.0.1:$PORT/      workers: curl -s $API/workers"
echo "Kill one and watch its streams move:  kill -9 <pid>   (or kill <pid> to drain it)"
echo "Ctrl-C stops everything."
echo
while sleep 2; do
  curl -s "$API/workers" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const w=JSON.parse(s).items;console.log(new Date().toISOString().slice(11,19),w.map(x=>`${x.name}:${x.streams}`).join("  ")||"(no worker yet)")}catch{console.log("(API not answering)")}})'
done
