"""Recorded IQ with SigMF metadata for the OFDM flowgraphs (the SDR plug-in path).

A recording is ``NAME.sigmf-data`` (complex64 interleaved, ``cf32_le``) plus ``NAME.sigmf-meta``
(JSON: ``core:sample_rate``, ``core:frequency`` of the capture, ``core:datatype``, ...), as
SigMF 1.0 specifies; the receive flowgraph reads its sample rate from the metadata exactly as
it would configure an SDR source.
"""

from __future__ import annotations

import json
import math
from pathlib import Path


def meta_path(data_path) -> Path:
    p = Path(data_path)
    return p.with_suffix(".sigmf-meta")


def _meta_dict(samp_rate: float, center_freq: float, description: str) -> dict:
    return {
        "global": {
            "core:datatype": "cf32_le",
            "core:sample_rate": float(samp_rate),
            "core:version": "1.0.0",
            "core:description": description or "gr-deepquant OFDM transmitter (ofdm_tx)",
            "core:recorder": "gr-deepquant",
        },
        "captures": [{"core:sample_start": 0, "core:frequency": float(center_freq)}],
        "annotations": [],
    }


def write_meta(data_path, samp_rate: float, center_freq: float, description: str = "") -> str:
    """Write the ``.sigmf-meta`` next to ``data_path``; returns its path."""
    meta = _meta_dict(samp_rate, center_freq, description)
    mp = meta_path(data_path)
    mp.parent.mkdir(parents=True, exist_ok=True)
    mp.write_text(json.dumps(meta, indent=2))
    return str(mp)


def read_meta(data_path) -> dict:
    """``{'samp_rate', 'center_freq', 'datatype'}`` from the ``.sigmf-meta`` of ``data_path``.

    Raises ValueError naming the metadata file when it is missing, not JSON, lacks
    ``global``/``core:sample_rate``, has a datatype other than ``cf32_le`` (what GNU Radio's complex
    file source reads), a sample rate that is not a finite positive number, or a non-finite
    centre frequency."""
    mp = meta_path(data_path)
    if not mp.exists():
        raise ValueError(f"no SigMF metadata {mp}: record with examples/ofdm_sdr_a_tx_to_file.grc first")
    try:
        m = json.loads(mp.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{mp}: not readable SigMF metadata (JSON): {e}") from None
    g = m.get("global") if isinstance(m, dict) else None
    if not isinstance(g, dict):
        raise ValueError(f"{mp}: SigMF metadata needs a 'global' object")
    if g.get("core:datatype") != "cf32_le":
        raise ValueError(f"{mp}: datatype {g.get('core:datatype')!r}; the receiver reads cf32_le")
    rate = _number(g.get("core:sample_rate"), mp, "global core:sample_rate")
    if not rate > 0:
        raise ValueError(f"{mp}: core:sample_rate {rate!r} must be a finite positive number of samples/s")
    caps = m.get("captures") or [{}]
    if not isinstance(caps, list) or not isinstance(caps[0], dict):
        raise ValueError(f"{mp}: 'captures' must be a list of objects")
    freq = _number(caps[0].get("core:frequency", 0.0), mp, "captures[0] core:frequency")
    return {"samp_rate": rate, "center_freq": freq, "datatype": g["core:datatype"]}


def _number(v, mp, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{mp}: {what} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{mp}: {what} must be finite, got {v!r}")
    return f


def record_if_missing(data_path, n_packets: int = 100, samp_rate: float = 20e6, center_freq: float = 2.45e9) -> str:
    """Make a recording with ``ofdm_tx`` (reference payloads, seed 1, period 16) when neither
    ``data_path`` nor its ``.sigmf-meta`` exists yet; returns ``data_path``.

    Never modifies an existing file: when both files exist they are used as they are; when only
    one of them exists (a capture without metadata, or metadata without its capture) this raises
    ValueError naming the file and the fix instead of writing over it. Both files are created
    exclusively (``open(..., 'x')``), so a file appearing meanwhile is not overwritten either."""
    p = Path(data_path)
    mp = meta_path(p)
    if p.exists() and mp.exists():
        return str(p)
    if p.exists():
        raise ValueError(
            f"{p} exists but has no SigMF metadata {mp}: it is left untouched. Write its metadata "
            "(sigmf_io.write_meta(data_file, samp_rate, center_freq)) or choose another data_file"
        )
    if mp.exists():
        raise ValueError(
            f"{mp} exists but its recording {p} does not: it is left untouched. Restore the "
            "recording or choose another data_file"
        )
    import numpy as np

    from .ofdm_flowgraphs import transmit

    iq, _ = transmit(int(n_packets))
    p.parent.mkdir(parents=True, exist_ok=True)
    samples = np.concatenate([np.zeros(1024, np.complex64), iq, np.zeros(4096, np.complex64)])
    try:
        with open(p, "xb") as f:
            samples.tofile(f)
    except FileExistsError:
        raise ValueError(f"{p} appeared while recording; left untouched, choose another data_file") from None
    try:
        with open(mp, "x") as f:
            f.write(json.dumps(_meta_dict(samp_rate, center_freq, ""), indent=2))
    except FileExistsError:
        raise ValueError(f"{mp} appeared while recording; left untouched, choose another data_file") from None
    return str(p)
