#!/usr/bin/env bash
# Screenshot of GNU Radio Companion showing an example flowgraph, taken headless under Xvfb (the
# README's picture). Needs what ./dq setup installs (xvfb, GTK's GObject data); uses ImageMagick's
# `import -window root` when it is installed, else GDK from the venv's python.
#   scripts/grc_screenshot.sh [FLOWGRAPH.grc] [OUT.png] [WIDTHxHEIGHT]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DQ_VENV:-$repo/venv}"
grc="$(realpath "${1:-$repo/examples/ofdm_siso_loopback.grc}")"
out="$(realpath -m "${2:-$repo/docs/images/grc_ofdm_siso_loopback.png}")"
size="${3:-2350x760}"
w="${size%x*}"; h="${size#*x}"

home="$(mktemp -d)"
cleanup() { [ -n "${gpid:-}" ] && kill "$gpid" 2>/dev/null; [ -n "${xpid:-}" ] && kill "$xpid" 2>/dev/null; rm -rf "$home"; }
trap cleanup EXIT
mkdir -p "$home/.gnuradio"
printf '[grc]\nxterm_executable = no-terminal\n' > "$home/.gnuradio/config.conf"
# GRC's own window size and panel positions (its preferences file), so the flowgraph fills the shot
printf '[main]\nmain_window_width = %s\nmain_window_height = %s\nblocks_window_position = %s\nconsole_window_position = %s\n' \
  "$w" "$h" "$((w - 330))" "$((h - 170))" > "$home/.gnuradio/grc.conf"

disp=97
while [ -e "/tmp/.X${disp}-lock" ]; do disp=$((disp + 1)); done
Xvfb ":$disp" -screen 0 "${w}x${h}x24" -nolisten tcp > "$home/xvfb.log" 2>&1 &
xpid=$!
sleep 1
HOME="$home" DISPLAY=":$disp" GRC_BLOCKS_PATH="$venv/share/gnuradio/grc/blocks" \
  "$venv/bin/python" /usr/bin/gnuradio-companion "$grc" > "$home/grc.log" 2>&1 &
gpid=$!
for _ in $(seq 240); do grep -q ">>> Done" "$home/grc.log" && break; sleep 0.5; done
grep -q ">>> Done" "$home/grc.log" || { cat "$home/grc.log" >&2; echo "GRC did not load $grc" >&2; exit 1; }
sleep 3  # let it draw
if grep -qE "Error|Traceback" "$home/grc.log"; then cat "$home/grc.log" >&2; exit 1; fi
mkdir -p "$(dirname "$out")"
if command -v import >/dev/null; then
  DISPLAY=":$disp" import -window root "$out"
else
  DISPLAY=":$disp" "$venv/bin/python" - "$out" <<'EOF'
import sys
import gi
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk
root = Gdk.get_default_root_window()
pb = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
pb.savev(sys.argv[1], "png", [], [])
EOF
fi
echo "wrote $out"
