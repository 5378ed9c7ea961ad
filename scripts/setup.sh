#!/usr/bin/env bash
# Idempotent setup of gr-deepquant on Debian bookworm: apt packages, a venv on Debian's python with
# system site-packages (GNU Radio's bindings live there), pinned pip packages, CMake build + install of
# the module into the venv. A second run with nothing changed takes a few seconds and rebuilds only
# what changed. Usage: scripts/setup.sh [--then demo|test|fmt|<deepquant subcommand> ARGS...]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DQ_VENV:-$repo/venv}"
build="${DQ_BUILD:-$repo/build}"
jobs="${DQ_JOBS:-2}"
say() { echo "[deepquant setup] $*" >&2; }
die() { echo "[deepquant setup] ERROR: $*" >&2; exit 1; }

# ---- 1. Debian packages -------------------------------------------------------------------------
# GNU Radio Companion (the GUI) also needs GTK's GObject introspection data and cairo bindings, which the
# gnuradio package does not pull in (without them: "Namespace Gtk not available"); xvfb + xauth run it
# headless (the tests start it under Xvfb). clang-format checks and applies the C++ formatting
# (scripts/format.sh, .clang-format).
apt_pkgs=(gnuradio gnuradio-dev pybind11-dev python3-pybind11 cmake g++ python3-venv pkg-config
          gir1.2-gtk-3.0 python3-gi-cairo xvfb xauth clang-format)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing Debian packages (${missing[*]}) and no apt-get: this module needs Debian bookworm (GNU Radio 3.10)."
  if [ "$(id -u)" -eq 0 ]; then asroot=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then asroot=(sudo -n);
  else die "missing Debian packages: ${missing[*]}. Installing them needs root: run 'sudo apt-get install -y ${missing[*]}' or run this script as root."; fi
  say "installing Debian packages: ${missing[*]}"
  "${asroot[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
    || die "apt-get update failed (no network to the Debian mirror?)"
  "${asroot[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 (Debian's python, the only one GNU Radio's bindings import under) is missing"

# ---- 2. venv ------------------------------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
  say "creating venv $venv (from /usr/bin/python3, --system-site-packages)"
  /usr/bin/python3 -m venv --system-site-packages "$venv" || die "could not create the venv at $venv"
fi
"$venv/bin/python" -c "from gnuradio import gr" 2>/dev/null \
  || die "'from gnuradio import gr' fails in $venv: it must be made from /usr/bin/python3 with --system-site-packages and numpy must be 1.x. Remove $venv and run again."

# ---- 3. pinned pip packages (re-run only when requirements.txt changes) ---------------------------
req="$repo/requirements.txt"
stamp="$venv/.deepquant-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing pinned Python packages from requirements.txt"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" \
    || die "pip install -r requirements.txt failed (is PyPI reachable? torch==2.13.0 must come from the local CPU wheel)"
  echo "$want" > "$stamp"
fi

# ---- 4. CMake configure / build / install into the venv -----------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  say "configuring the module (build dir $build, install prefix $venv)"
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$venv" \
        -DPYTHON_EXECUTABLE="$venv/bin/python" -DCMAKE_INSTALL_RPATH="$venv/lib/x86_64-linux-gnu" >/dev/null \
    || die "cmake configure failed (see the messages above)"
fi
if ! cmake --build "$build" -j"$jobs" > "$build/last_build.log" 2>&1; then
  grep -E 'error|Error' -A3 "$build/last_build.log" | head -60 >&2
  die "build failed (full log: $build/last_build.log)"
fi
cmake --install "$build" >/dev/null || die "cmake --install failed"

# ---- 5. what to run next --------------------------------------------------------------------------
if [ "${1:-}" = "--then" ]; then
  shift
  cmd="${1:-setup}"; [ $# -gt 0 ] && shift
  export PATH="$venv/bin:$PATH"
  case "$cmd" in
    setup) say "ready: $venv/bin/deepquant" ;;
    test)  exec "$repo/scripts/run_tests.sh" "$@" ;;
    fmt)   exec "$repo/scripts/format.sh" "$@" ;;
    *)     exec "$venv/bin/deepquant" "$cmd" "$@" ;;
  esac
fi
