#!/usr/bin/env bash
# The whole test suite: the Python linter (ruff, rules in ruff.toml), the formatters' check
# (scripts/format.sh --check: ruff format, clang-format, binding header hashes), the C++ unit tests
# (ctest), then the Python tests (pytest) against the module installed in the venv. Called by
# `./dq test` after setup; extra args go to pytest.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DQ_VENV:-$repo/venv}"
build="${DQ_BUILD:-$repo/build}"
export DQ_VENV="$venv" DQ_BUILD="$build"
"$venv/bin/ruff" check "$repo" || { echo "ruff found problems (fix them, or 'venv/bin/ruff check --fix .')" >&2; exit 1; }
"$repo/scripts/format.sh" --check || { echo "the tree is not formatted (apply with './dq fmt')" >&2; exit 1; }
ctest --test-dir "$build" --output-on-failure
cd "$repo"
exec "$venv/bin/python" -m pytest "$@"
