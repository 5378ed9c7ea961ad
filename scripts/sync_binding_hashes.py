#!/usr/bin/env python3
"""Keep the header hashes of the committed pybind11 bindings in sync with the public headers.

Each ``python/deepquant/bindings/<name>_python.cc`` names its header in
``BINDTOOL_HEADER_FILE(<header>.h)`` and records ``BINDTOOL_HEADER_FILE_HASH(<md5>)``. GNU Radio's
``GR_PYBIND_MAKE_OOT`` (GrPybind.cmake) compares that hash with ``file(MD5 ...)`` of
``include/gnuradio/deepquant/<header>.h`` when CMake configures, and stops with "Python bindings for
<header>.h are out of sync" when they differ. A change that does not touch the declarations
(clang-format, comments) needs only the new hash, which this script writes; a changed declaration
needs the binding itself regenerated (``gr_modtool bind``).

    scripts/sync_binding_hashes.py           rewrite stale hashes in place, list what changed
    scripts/sync_binding_hashes.py --check   exit 1 and list the stale bindings, change nothing

A hash of ``0`` (GNU Radio's "do not check") is left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BINDINGS = REPO / "python" / "deepquant" / "bindings"
HEADERS = REPO / "include" / "gnuradio" / "deepquant"
_FILE = re.compile(r"BINDTOOL_HEADER_FILE\(([^\s]*)\)")
_HASH = re.compile(r"BINDTOOL_HEADER_FILE_HASH\(([^\s]*)\)")


def stale_bindings(bindings: Path = BINDINGS, headers: Path = HEADERS):
    """(binding path, header name, recorded hash, MD5 of the header) for every binding whose hash
    differs from its header's."""
    out = []
    for cc in sorted(bindings.glob("*_python.cc")):
        text = cc.read_text()
        f, h = _FILE.search(text), _HASH.search(text)
        if not f or not h or f.group(1) in ("", "None") or h.group(1) == "0":
            continue
        header = headers / f.group(1)
        if not header.exists():
            raise SystemExit(f"{cc.name}: names {f.group(1)}, which is not in {headers}")
        md5 = hashlib.md5(header.read_bytes()).hexdigest()
        if md5 != h.group(1):
            out.append((cc, f.group(1), h.group(1), md5))
    return out


def sync(bindings: Path = BINDINGS, headers: Path = HEADERS, check: bool = False) -> list:
    """Rewrite every stale hash (or with ``check`` only list them); returns the messages."""
    msgs = []
    for cc, name, old, new in stale_bindings(bindings, headers):
        if check:
            msgs.append(f"{cc.name}: BINDTOOL_HEADER_FILE_HASH {old} but MD5 of {name} is {new}")
            continue
        text = cc.read_text()
        # the new hash has the length of the old one (32 hex digits): the comment box keeps its width
        cc.write_text(text.replace(f"BINDTOOL_HEADER_FILE_HASH({old})", f"BINDTOOL_HEADER_FILE_HASH({new})", 1))
        msgs.append(f"{cc.name}: hash of {name} updated {old} -> {new}")
    return msgs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report stale hashes (exit 1 if any)")
    a = ap.parse_args(argv)
    msgs = sync(check=a.check)
    for m in msgs:
        print(m, file=sys.stderr if a.check else sys.stdout)
    if a.check and msgs:
        print("header hashes out of sync: run scripts/sync_binding_hashes.py (or ./dq fmt)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
