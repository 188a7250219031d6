#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and demos, from Debian's `postgresql` binaries.
#
#   scripts/pg-test-cluster.sh start        prints shell assignments (eval-able):
#                                           STREAMQC_PG_URL=postgres://...  STREAMQC_PG_DIR=/tmp/...
#   scripts/pg-test-cluster.sh stop DIR     stops the cluster in DIR and removes DIR
#
# The cluster is new each time (initdb into a fresh temp dir), listens on 127.0.0.1 only on a
# free port, keeps its socket in its own dir (never /var/run/postgresql, never Debian's `main`
# cluster on 5432), asks for a random password (scram), and runs with fsync off: its data is
# disposable, speed matters more. As root it runs as the unprivileged `postgres` user (the
# package creates it; `nobody` otherwise), since the server refuses to run as root.
#
# Binaries: $STREAMQC_PG_BIN, else /usr/lib/postgresql/15/bin, else the newest version found.
set -euo pipefail

die() {
  echo "pg-test-cluster: $*" >&2
  exit 1
}

find_bin() {
  if [ -n "${STREAMQC_PG_BIN:-}" ]; then
    echo "$STREAMQC_PG_BIN"
    return
  fi
  if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
    echo /usr/lib/postgresql/15/bin
    return
  fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$newest" ] && [ -x "$newest/initdb" ] || die "no PostgreSQL binaries (install Debian's postgresql package: scripts/setup.sh)"
  echo "$newest"
}

# Runs a command as the cluster's owner: itself when not root.
as_owner() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local bin dir port password i
  bin=$(find_bin)
  OWNER=$(id -un)
  if [ "$(id -u)" = "0" ]; then
    if id postgres >/dev/null 2>&1; then OWNER=postgres; else OWNER=nobody; fi
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/streamqc-pg.XXXXXX")
  chmod 700 "$dir"
  [ "$(id -u)" = "0" ] && chown "$OWNER" "$dir"
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '%s\n' "$password" >"$dir/pwfile")
  [ "$(id -u)" = "0" ] && chown "$OWNER" "$dir/pwfile"

  # --no-sync: nothing here needs to survive a power cut; saves seconds on a busy disk.
  if ! as_owner "$bin/initdb" -D "$dir/data" -U streamqc --pwfile="$dir/pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
    --no-sync --no-instructions >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    die "initdb failed"
  fi
  rm -f "$dir/pwfile"

  # A port picked free may be taken before the server binds it: try a few.
  for i in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -s start -o \
      "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB" \
      >/dev/null 2>&1; then
      printf "STREAMQC_PG_URL=postgres://streamqc:%s@127.0.0.1:%s/postgres\n" "$password" "$port"
      printf "STREAMQC_PG_DIR=%s\n" "$dir"
      return 0
    fi
  done
  tail -n 20 "$dir/server.log" >&2 || true
  rm -rf "$dir"
  die "the server did not start"
}

stop() {
  local dir=${1:-} bin
  [ -n "$dir" ] || die "usage: $0 stop DIR"
  case "$dir" in
    */streamqc-pg.*) ;;
    *) die "refusing to remove $dir: not a streamqc-pg dir" ;;
  esac
  if [ -f "$dir/data/postmaster.pid" ]; then
    bin=$(find_bin)
    OWNER=$(stat -c %U "$dir/data")
    # immediate: the data is thrown away, no checkpoint needed.
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -s stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) die "usage: $0 start | stop DIR" ;;
esac
