#!/usr/bin/env bash
# Formatting of the whole tree (./dq fmt):
#   Python  ruff format, settings in ruff.toml ([format]; the files ruff lints, the same excludes);
#   C++     clang-format with .clang-format on lib/*.cc, lib/*.h and include/gnuradio/deepquant/*.h,
#           then the header hashes of the committed pybind11 bindings re-synced
#           (scripts/sync_binding_hashes.py: GNU Radio's CMake refuses to configure when a header's
#           MD5 differs from its binding's BINDTOOL_HEADER_FILE_HASH).
#
#   scripts/format.sh           apply (rewrites files in place)
#   scripts/format.sh --check   change nothing; exit 1 listing what would change (run by run_tests.sh)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DQ_VENV:-$repo/venv}"
cd "$repo"
check=0
[ "${1:-}" = "--check" ] && check=1
ruff="$venv/bin/ruff"
[ -x "$ruff" ] || ruff="$(command -v ruff || true)"
[ -n "$ruff" ] || { echo "format: ruff not found (./dq setup installs it into the venv)" >&2; exit 1; }
command -v clang-format >/dev/null \
  || { echo "format: clang-format not found (Debian package clang-format; ./dq setup installs it)" >&2; exit 1; }
cxx=(lib/*.cc lib/*.h include/gnuradio/deepquant/*.h)
status=0
if [ $check = 1 ]; then
  "$ruff" format --check --output-format concise . || status=1  # (ruff format --diff . shows the changes)
  bad=()
  for f in "${cxx[@]}"; do clang-format --dry-run --Werror "$f" 2>/dev/null || bad+=("$f"); done
  if [ ${#bad[@]} -gt 0 ]; then
    printf 'clang-format would reformat %s\n' "${bad[@]}" >&2
    status=1
  fi
  python3 scripts/sync_binding_hashes.py --check || status=1
  [ $status = 0 ] || echo "format: run ./dq fmt (scripts/format.sh) to apply" >&2
  exit $status
fi
"$ruff" format .
clang-format -i "${cxx[@]}"
python3 scripts/sync_binding_hashes.py
