"""Run a grcc-generated QT flowgraph offscreen for a while and report whether its counters moved.

Usage: run_qt_flowgraph.py FLOWGRAPH.grc GENERATED_DIR MIN_SECONDS MAX_SECONDS
(set QT_QPA_PLATFORM=offscreen). Every ``Message Pair to Var`` target variable gets a counting
setter; the run stops once each target was set at least once and MIN_SECONDS passed, or at
MAX_SECONDS. Prints ``RESULT {json}``: updates per variable, items consumed by each QT GUI sink.
"""

import collections
import importlib
import json
import sys
import time

import yaml


def main(grc, gen_dir, t_min, t_max):
    fg = yaml.safe_load(open(grc))
    fid = fg["options"]["parameters"]["id"]
    targets = [b["parameters"]["target"] for b in fg["blocks"] if b["id"] == "blocks_msgpair_to_var"]
    qt_sinks = [
        b["name"]
        for b in fg["blocks"]
        if b["id"].startswith("qtgui_")
        and b["id"].endswith(("_sink_x", "_sink_c", "_sink_f", "sink"))
        and b["states"].get("state", "enabled") == "enabled"
    ]
    sys.path.insert(0, gen_dir)
    mod = importlib.import_module(fid)
    base = getattr(mod, fid)
    updates = collections.Counter({t: 0 for t in targets})

    def counting(name):
        def setter(self, value):
            updates[name] += 1
            return getattr(base, "set_" + name)(self, value)

        return setter

    probe = type("Probe", (base,), {"set_" + t: counting(t) for t in targets})
    from PyQt5 import Qt

    qapp = Qt.QApplication(sys.argv)
    tb = probe()
    tb.start()
    tb.show()
    t0 = time.time()

    def tick():
        el = time.time() - t0
        if el >= t_max or (el >= t_min and all(updates[t] > 0 for t in targets)):
            qapp.quit()

    timer = Qt.QTimer()
    timer.timeout.connect(tick)
    timer.start(200)
    qapp.exec_()
    fed = {}
    for name in qt_sinks:
        blk = getattr(tb, name, None)
        try:
            fed[name] = int(blk.nitems_read(0))
        except Exception:  # not a sync block with an input (e.g. a message-only sink)
            continue
    tb.stop()
    tb.wait()
    print(
        "RESULT "
        + json.dumps({"seconds": round(time.time() - t0, 1), "variable_updates": dict(updates), "qt_sinks_fed": fed}),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
