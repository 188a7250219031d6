#!/usr/bin/env bash
# Prepares a fresh Debian machine (or a clean clone) for streamqc: ffmpeg, PostgreSQL and chromium from
# Debian's packages when they are missing, npm packages when they are missing or stale, and the build.
# Safe to run again: it does only what is not done yet.
set -euo pipefail
cd "$(dirname "$0")/.."

need_ffmpeg() {
  command -v "${STREAMQC_FFMPEG:-ffmpeg}" >/dev/null 2>&1 || return 0
  return 1
}

if need_ffmpeg; then
  echo "setup: installing ffmpeg from Debian's packages" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends ffmpeg >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends ffmpeg >/dev/null; }
fi

# PostgreSQL (the fleet backend and its tests): Debian's server package, whose binaries the
# test cluster runs from /usr/lib/postgresql/<version>/bin (scripts/pg-test-cluster.sh). The
# package may also create and start Debian's own `main` cluster on 5432; nothing here uses it.
need_postgres() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 1
  [ -n "${STREAMQC_PG_BIN:-}" ] && [ -x "${STREAMQC_PG_BIN}/initdb" ] && return 1
  return 0
}

if need_postgres; then
  echo "setup: installing postgresql from Debian's packages" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends postgresql >/dev/null; }
fi

# Chromium from Debian's packages: the dashboard's tests and the wall bench drive it through
# playwright-core (never a browser download; monitoring networks are often closed).
if [ ! -x "${STREAMQC_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "setup: installing chromium from Debian's packages" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends chromium >/dev/null; }
fi

# Real speech for `eval --false-alarms`: Debian's alsa-utils ships spoken test words in
# /usr/share/sounds/alsa (about 1 MB). Optional: the run says so and goes on without them.
if [ ! -f /usr/share/sounds/alsa/Front_Center.wav ]; then
  echo "setup: installing alsa-utils (spoken test words) from Debian's packages" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends alsa-utils >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends alsa-utils >/dev/null; } \
    || echo "setup: alsa-utils not installed; eval --false-alarms runs without speech" >&2
fi

# libfaketime (Debian's faketime): the fleet's clock-skew test runs a worker whose wall clock is
# an hour off (LD_PRELOAD, monotonic clock left alone). The test skips with a message without it.
if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
  echo "setup: installing faketime from Debian's packages" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends faketime >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends faketime >/dev/null; }
fi

# npm packages: install when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

# Build when any source is newer than the build.
if [ ! -f dist/cli/main.js ] || [ ! -f dist/web/index.html ] \
  || [ -n "$(find src -newer dist/cli/main.js \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.html' \) -print -quit)" ]; then
  echo "setup: building" >&2
  npm run --silent build >&2
  chmod +x dist/cli/main.js
fi
