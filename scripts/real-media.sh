#!/usr/bin/env bash
# Real recordings from Debian's packages, for eval's second real source and its false-alarm run
# (src/eval/extra-media.ts): a real camera (OpenCV's vtest.avi, people walking, no sound), a
# film trailer with its own AC-3 mix (OpenCV's Megamind.avi) and real music (ASC's
# frontiers.mp3, GPL-2+), and animation with its own sound effects and music: Planet Blupi's
# 14 cut-scenes (planetblupi-common, GPL-3+; 12 fps cartoons, one a dance under flashing lights
# on a steady beat), joined into one 127 s programme, blupi.mkv (25 fps H.264 at a high
# quality, 48 kHz PCM). The packages are downloaded and unpacked into a temporary folder,
# never installed; only those files are kept, in .media/ (git-ignored).
# With --music, also the music channel's pieces for `eval --music` (src/eval/music-channel.ts):
# every piece of ASC's, Battle for Wesnoth's and Drascula's soundtracks (GPL-2+), into
# .media/music/ (about 200 MB more).
# Usage: scripts/real-media.sh [--music]   (downloaded once; nothing is done when present)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.media"
mkdir -p "$dest"

want() { [ -s "$dest/$1" ] || return 0; return 1; }
music=false
case "${1:-}" in
  --music) music=true ;;
  "") ;;
  *) echo "usage: scripts/real-media.sh [--music]" >&2; exit 2 ;;
esac
have_music() { compgen -G "$dest/music/*.ogg" >/dev/null; }
if ! want vtest.avi && ! want Megamind.avi && ! want frontiers.mp3 && ! want blupi.mkv &&
  { ! $music || have_music; }; then
  echo "real-media: .media/ already holds vtest.avi, Megamind.avi, frontiers.mp3 and blupi.mkv" >&2
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# fetch PACKAGE PATH-IN-PACKAGE...: downloads PACKAGE's .deb, copies the files into .media/.
fetch() {
  local pkg=$1
  shift
  echo "real-media: downloading Debian's $pkg" >&2
  (cd "$tmp" && { apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$pkg" >/dev/null; }; })
  mkdir -p "$tmp/$pkg"
  dpkg-deb -x "$tmp/${pkg}"_*.deb "$tmp/$pkg"
  for f in "$@"; do cp "$tmp/$pkg/$f" "$dest/"; done
  rm -rf "${tmp:?}/$pkg" "$tmp/${pkg}"_*.deb
}

if want vtest.avi || want Megamind.avi; then
  fetch opencv-doc usr/share/doc/opencv-doc/examples/data/vtest.avi \
    usr/share/doc/opencv-doc/examples/data/Megamind.avi
fi
if want frontiers.mp3; then
  fetch asc-music usr/share/games/asc/music/frontiers.mp3
fi
if want blupi.mkv; then
  echo "real-media: downloading Debian's planetblupi-common" >&2
  (cd "$tmp" && { apt-get download planetblupi-common >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download planetblupi-common >/dev/null; }; })
  mkdir -p "$tmp/blupi/norm"
  dpkg-deb -x "$tmp"/planetblupi-common_*.deb "$tmp/blupi"
  # Each cut-scene to one format (they mix Cinepak and MS Video 1), its sound padded with
  # silence or cut to its pictures' length (some end up to 0.9 s short, some 0.5 s long: holes
  # at the joins that a playout would not have), then joined in name order.
  : >"$tmp/blupi/list.txt"
  for f in "$tmp"/blupi/usr/share/planetblupi/movie/*.mkv; do
    n=$(basename "$f")
    # The pictures' end: the last one's time and duration.
    end=$(ffprobe -v error -select_streams v -show_entries packet=pts_time,duration_time -of csv=p=0 "$f" |
      awk -F, '$1 != "N/A" { e = $1 + ($2 == "N/A" ? 0 : $2) } END { printf "%.3f", e }')
    ffmpeg -nostdin -v error -y -i "$f" -vf "scale=320:240,fps=25,format=yuv420p" -af apad -t "$end" \
      -c:v libx264 -preset veryfast -crf 14 -c:a pcm_s16le -ar 48000 -ac 2 "$tmp/blupi/norm/$n" 2>/dev/null
    echo "file '$tmp/blupi/norm/$n'" >>"$tmp/blupi/list.txt"
  done
  ffmpeg -nostdin -v error -y -f concat -safe 0 -i "$tmp/blupi/list.txt" -c copy "$dest/blupi.mkv"
  rm -rf "${tmp:?}/blupi" "$tmp"/planetblupi-common_*.deb
fi
# fetch_dir PACKAGE DIR-IN-PACKAGE: every .ogg and .mp3 of DIR into .media/music/.
fetch_dir() {
  local pkg=$1 dir=$2
  echo "real-media: downloading Debian's $pkg" >&2
  (cd "$tmp" && { apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$pkg" >/dev/null; }; })
  mkdir -p "$tmp/$pkg" "$dest/music"
  dpkg-deb -x "$tmp/${pkg}"_*.deb "$tmp/$pkg"
  find "$tmp/$pkg/$dir" -maxdepth 1 -type f \( -name '*.ogg' -o -name '*.mp3' \) -exec cp {} "$dest/music/" \;
  rm -rf "${tmp:?}/$pkg" "$tmp/${pkg}"_*.deb
}
if $music && ! have_music; then
  fetch_dir asc-music usr/share/games/asc/music
  fetch_dir wesnoth-1.16-music usr/share/games/wesnoth/1.16/data/core/music
  fetch_dir drascula-music usr/share/scummvm/drascula/audio
fi
ls -l "$dest" >&2
