"""Recorded IQ with SigMF metadata for the OFDM flowgraphs (the SDR plug-in path).

A recording is ``NAME.sigmf-data`` (complex64 interleaved, ``cf32_le``) plus ``NAME.sigmf-meta``
(JSON: ``core:sample_rate``, ``core:frequency`` of the capture, ``core:datatype``, ...), as
SigMF 1.0 specifies; the receive flowgraph reads its sample rate from the metadata exactly as
it would configure an SDR source.
"""
from __future__ import annotations

import json
from pathlib import Path


def meta_path(data_path) -> Path:
    p = Path(data_path)
    return p.with_suffix(".sigmf-meta")


def write_meta(data_path, samp_rate: float, center_freq: float, description: str = "") -> str:
    """Write the ``.sigmf-meta`` next to ``data_path``; returns its path."""
    meta = {
        "global": {"core:datatype": "cf32_le", "core:sample_rate": float(samp_rate), "core:version": "1.0.0",
                   "core:description": description or "gr-deepquant OFDM transmitter (ofdm_tx)",
                   "core:recorder": "gr-deepquant"},
        "captures": [{"core:sample_start": 0, "core:frequency": float(center_freq)}],
        "annotations": [],
    }
    mp = meta_path(data_path)
    mp.parent.mkdir(parents=True, exist_ok=True)
    mp.write_text(json.dumps(meta, indent=2))
    return str(mp)


def read_meta(data_path) -> dict:
    """``{'samp_rate', 'center_freq', 'datatype'}`` from the ``.sigmf-meta`` of ``data_path``.

    Raises ValueError when the datatype is not ``cf32_le`` (what GNU Radio's complex file source reads)."""
    mp = meta_path(data_path)
    if not mp.exists():
        raise ValueError(f"no SigMF metadata {mp}: record with examples/ofdm_sdr_a_tx_to_file.grc first")
    m = json.loads(mp.read_text())
    g = m["global"]
    if g.get("core:datatype") != "cf32_le":
        raise ValueError(f"{mp}: datatype {g.get('core:datatype')!r}; the receiver reads cf32_le")
    caps = m.get("captures") or [{}]
    return {"samp_rate": float(g["core:sample_rate"]), "center_freq": float(caps[0].get("core:frequency", 0.0)),
            "datatype": g["core:datatype"]}


def record_if_missing(data_path, n_packets: int = 100, samp_rate: float = 20e6, center_freq: float = 2.45e9) -> str:
    """Make a recording with ``ofdm_tx`` (reference payloads, seed 1, period 16) when
    ``data_path`` does not exist yet; returns ``data_path``."""
    p = Path(data_path)
    if not (p.exists() and meta_path(p).exists()):
        import numpy as np

        from .ofdm_flowgraphs import transmit

        iq, _ = transmit(int(n_packets))
        p.parent.mkdir(parents=True, exist_ok=True)
        np.concatenate([np.zeros(1024, np.complex64), iq, np.zeros(4096, np.complex64)]).tofile(p)
        write_meta(p, samp_rate, center_freq)
    return str(p)
