#!/usr/bin/env python3
"""Load .grc flowgraphs with GNU Radio Companion's own GUI classes (the canvas Platform/FlowGraph
that GRC draws with), so that every block gets the size GRC gives it on screen, and then either
report what GRC sees or lay the flowgraph out.

Needs a display (GTK computes text sizes with Pango): run under Xvfb, e.g.
``xvfb-run -a venv/bin/python scripts/grc_canvas.py check examples/*.grc``, with
``GRC_BLOCKS_PATH`` pointing at the module's installed block YAML (``deepquant grc`` and the tests
set it).

Sub-commands
------------
check FILE...   print one JSON object per flowgraph (errors, missing blocks, unconnected ports,
                block rectangles, overlapping pairs) and a final line ``RESULT {json}``.
layout FILE...  move the blocks: the options block and the variables/parameters/imports in a row
                (wrapped) at the top, the signal flow in columns from left to right (a block's
                column = the longest path to it from a source, message connections included),
                then save the file with GRC's own writer.
render FILE...  also draw each flowgraph with GRC's drawing code into FILE.png (next to it).
"""

import json
import os
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("PangoCairo", "1.0")
from gi.repository import Gio, Gtk  # noqa: E402

from gnuradio import gr  # noqa: E402
from gnuradio.grc.core import Messages  # noqa: E402
from gnuradio.grc.gui.Platform import Platform  # noqa: E402
from gnuradio.grc.gui.canvas import flowgraph as _canvas_flowgraph  # noqa: E402

# The canvas FlowGraph attaches its right-click menu to GRC's main window; without one (we draw
# nothing) the menu is not needed.
_canvas_flowgraph._ContextMenu = lambda main_window: None

GAP_X = 48  # horizontal space between columns (connections need room for their arrows)
GAP_Y = 32  # vertical space between blocks of one column
TOP_WRAP = 1400  # wrap the top row of variables at this x
MARGIN = 8


def make_platform() -> Platform:
    Messages.register_messenger(lambda msg: None)  # keep stdout for our JSON
    Messages.MESSENGERS_LIST[:] = []
    p = Platform(
        version=gr.version(),
        version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()),
        prefs=gr.prefs(),
        install_prefix=gr.prefix(),
    )
    p.build_library()
    return p


def load(platform: Platform, path: str):
    """The canvas FlowGraph of ``path``, rewritten, validated and with labels/shapes made (as drawn)."""
    fg = platform.make_flow_graph(path)
    fg.grc_file_path = path
    fg.rewrite()
    fg.validate()
    # everything, whatever the View menu's "hide variables / disabled blocks" toggles say
    fg._elements_to_draw[:] = list(fg.get_elements())
    fg.create_labels()
    fg.create_shapes()
    return fg


def is_top_row(block) -> bool:
    """Blocks without stream/message ports that GRC draws as 'variables': options, variables,
    parameters, imports, QT widgets that are variables."""
    return not block.sinks and not block.sources


def rect(block):
    """(x0, y0, x1, y1) of the block body as GRC draws it (ports stick out of it)."""
    x, y = block.coordinate
    w, h = (block.width, block.height) if block.is_horizontal() else (block.height, block.width)
    return x, y, x + w, y + h


def extents(block):
    """(x0, y0, x1, y1) with the ports and the comment below the block (GRC shows comments by
    default), as GRC's get_extents / get_extents_comment."""
    x0, y0, x1, y1 = block.get_extents()
    if block.comment:
        c = block.get_extents_comment()
        x0, y0, x1, y1 = min(x0, c[0]), min(y0, c[1]), max(x1, c[2]), max(y1, c[3])
    return x0, y0, x1, y1


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check(fg) -> dict:
    blocks = list(fg.blocks)  # disabled ones too: GRC draws them (greyed)
    missing = sorted(b.name for b in blocks if b.is_dummy_block)
    errors = []
    for elem, msg in fg.iter_error_messages():
        name = getattr(elem, "name", None) or str(elem)
        errors.append(f"{name}: {msg}")
    unconnected = []
    for b in blocks:
        if not b.enabled:
            continue
        for port in list(b.sinks) + list(b.sources):
            if port.hidden or port.optional:
                continue
            if not port.connections(enabled=True):
                unconnected.append(f"{b.name}:{port.key}")
    rects = {b.name: extents(b) for b in blocks}
    names = sorted(rects)
    pairs = []
    for i, a in enumerate(names):
        for c in names[i + 1 :]:
            if overlaps(rects[a], rects[c]):
                pairs.append([a, c])
    negative = sorted(n for n, r in rects.items() if r[0] < 0 or r[1] < 0)
    return {
        "file": fg.grc_file_path,
        "blocks": len(blocks),
        "missing_blocks": missing,
        "errors": errors,
        "unconnected_ports": unconnected,
        "overlapping": pairs,
        "off_canvas": negative,
        "bad_enum_values": bad_enum_values(fg),
        "rects": {n: [int(v) for v in r] for n, r in rects.items()},
    }


def bad_enum_values(fg) -> list:
    """Enum parameters whose value in the file is not one of the block's options: GRC silently
    replaces such a value with the default when it loads the file, so the flowgraph would run
    with a setting its author did not choose."""
    import yaml

    with open(fg.grc_file_path) as f:
        data = yaml.safe_load(f)
    by_name = {b.name: b for b in fg.blocks}
    bad = []
    for entry in data.get("blocks", []):
        blk = by_name.get(entry.get("name"))
        if blk is None or blk.is_dummy_block:
            continue
        for key, value in (entry.get("parameters") or {}).items():
            param = blk.params.get(key)
            if param is not None and param.is_enum() and str(value) not in param.options:
                bad.append(f"{blk.name}.{key}={value!r} (options: {', '.join(param.options)})")
    return bad


def _graph(fg):
    blocks = [b for b in fg.blocks if not is_top_row(b)]
    succ = {b: [] for b in blocks}
    pred = {b: [] for b in blocks}
    for c in fg.connections:
        s, d = c.source_block, c.sink_block
        if s in succ and d in succ and s is not d:
            succ[s].append(d)
            pred[d].append(s)
    return blocks, succ, pred


def _columns(blocks, succ, pred):
    """Longest-path layering on the graph with back edges (found by DFS from sources) removed."""
    order = {b: i for i, b in enumerate(blocks)}
    state, back = {}, set()

    def dfs(u):
        state[u] = 1
        for v in sorted(succ[u], key=order.get):
            if state.get(v) == 1:
                back.add((u, v))
            elif v not in state:
                dfs(v)
        state[u] = 2

    roots = [b for b in blocks if not pred[b]] + blocks
    for r in roots:
        if r not in state:
            dfs(r)
    col = {}

    def depth(u, seen=()):
        if u in col:
            return col[u]
        ps = [p for p in pred[u] if (p, u) not in back]
        col[u] = 0 if not ps else 1 + max(depth(p) for p in ps)
        return col[u]

    for b in blocks:
        depth(b)
    # Pull every block that feeds later columns right up to its first consumer (sources of side
    # inputs then sit next to the block they feed instead of far left with long wires).
    changed = True
    while changed:
        changed = False
        for u in blocks:
            nxt = [col[v] for v in succ[u] if (u, v) not in back]
            if nxt and min(nxt) - 1 > col[u]:
                col[u] = min(nxt) - 1
                changed = True
    return col, back


def _place(block, x, y) -> None:
    """Move a block (GRC file coordinates, integers like the ones GRC writes)."""
    block.states["coordinate"] = (int(x), int(y))


def layout(fg) -> None:
    # 1. signal flow: columns by longest path, rows ordered by the mean row of the predecessors
    blocks, succ, pred = _graph(fg)
    col, back = _columns(blocks, succ, pred)
    ncol = 1 + max(col.values(), default=-1)
    by_col = [[b for b in blocks if col[b] == c] for c in range(ncol)]
    pos = {}
    for bs in by_col:

        def key(b):
            ps = [pos[p] for p in pred[b] if p in pos]
            return (sum(ps) / len(ps) if ps else float(b.coordinate[1]), b.coordinate[1], b.name)

        bs.sort(key=key)
        for i, b in enumerate(bs):
            pos[b] = i
    x = MARGIN + 16
    for bs in by_col:
        widths = []
        y = 0
        for b in bs:
            x0, y0, x1, y1 = extents(b)
            bx, by = b.coordinate
            _place(b, x + (bx - x0), y + (by - y0))  # the extents (ports included) start at (x, y)
            y += (y1 - y0) + GAP_Y
            widths.append(x1 - x0)
        x += max(widths, default=0) + GAP_X
    wrap = max(TOP_WRAP, x)
    # 2. top row: options first, then variables etc. in their current left-to-right order
    top = [b for b in fg.blocks if is_top_row(b)]
    top.sort(key=lambda b: (b.key != "options", b.coordinate[1] > 200, b.coordinate[0], b.name))
    x, y, row_h = MARGIN, MARGIN, 0
    for b in top:
        x0, y0, x1, y1 = extents(b)
        w, h = x1 - x0, y1 - y0
        if x > MARGIN and x + w > wrap:
            x, y = MARGIN, y + row_h + GAP_Y // 2
            row_h = 0
        _place(b, x + (b.coordinate[0] - x0), y + (b.coordinate[1] - y0))
        x += w + GAP_Y // 2
        row_h = max(row_h, h)
    y_flow = y + row_h + GAP_Y + 16
    for b in blocks:
        _place(b, b.coordinate[0], b.coordinate[1] + y_flow)
    # GRC snaps to a grid of 8 when the user drags; do the same so that the file looks hand-made
    for b in fg.blocks:
        bx, by = b.coordinate
        _place(b, round(bx / 8.0) * 8, round(by / 8.0) * 8)


def render(fg, png: str) -> None:
    """Draw the flowgraph with GRC's own drawing code into a PNG (white canvas, as GRC shows it)."""
    import cairo

    x0, y0, x1, y1 = fg.get_extents()
    w, h = int(x1) + 16, int(y1) + 16
    surf = cairo.ImageSurface(cairo.FORMAT_ARGB32, w, h)
    cr = cairo.Context(surf)
    cr.set_source_rgb(1, 1, 1)
    cr.paint()
    fg.create_labels(cr)
    fg.create_shapes()
    fg.draw(cr)
    surf.write_to_png(png)


def main(argv):
    if len(argv) < 2 or argv[0] not in ("check", "layout", "render"):
        print(__doc__, file=sys.stderr)
        return 2
    app = Gtk.Application(application_id="org.deepquant.grccanvas", flags=Gio.ApplicationFlags.NON_UNIQUE)
    app.register(None)
    app.set_default()
    platform = make_platform()
    results = []
    for path in argv[1:]:
        path = os.path.abspath(path)
        fg = load(platform, path)
        if argv[0] == "layout":
            bad = bad_enum_values(fg)
            if bad:  # saving would silently replace them with defaults
                print(f"{path}: not laid out, fix these enum values first: {bad}", file=sys.stderr)
                return 1
            layout(fg)
            fg.create_shapes()
            platform.save_flow_graph(path, fg)
            fg = load(platform, path)
        if argv[0] == "render":
            render(fg, os.path.splitext(path)[0] + ".png")
        r = check(fg)
        results.append(r)
        print(json.dumps(r))
    bad = sum(
        bool(
            r["missing_blocks"]
            or r["errors"]
            or r["unconnected_ports"]
            or r["overlapping"]
            or r["off_canvas"]
            or r["bad_enum_values"]
        )
        for r in results
    )
    print("RESULT " + json.dumps({"flowgraphs": len(results), "flowgraphs_with_problems": bad}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
