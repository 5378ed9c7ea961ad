"""Link-level BLER/BER evaluation (``deepquant eval``): detectors (and, later, LLR compressors)
on the scenarios the papers use, with the 802.11n (648, 324) LDPC code.

One codeword's chain: 324 random info bits -> systematic LDPC encoder -> seeded bit interleaver
-> 38.211 QAM -> channel -> soft detector (LLR ``L = ln P(b=1)/P(b=0)``) -> [LLR compressor]
-> de-interleaver -> belief-propagation decoder -> block error if any info bit differs.

Scenarios (name -> setup):

* ``2x2-64qam-rayleigh``, ``4x4-16qam-rayleigh``: i.i.d. Rayleigh MIMO, a new H every channel
  use (fast fading, as in the EQ-Net paper). SNR = E||H||_F^2 / sigma^2 = Nr Nt / sigma^2.
  Codeword bits are concatenated over channel uses (a channel use may straddle two codewords:
  4x4 16-QAM carries 16 bits, 648/16 is not an integer).
* ``2x2-64qam-cdla``: 3GPP CDL-A MIMO (316 ns delay spread), one realisation per codeword,
  consecutive channel uses on consecutive 15 kHz subcarriers. Same SNR definition.
* ``siso-epa-64qam``, ``siso-epa-256qam``: LTE EPA OFDM, one realisation per codeword,
  consecutive symbols on consecutive 15 kHz subcarriers, SNR = 1 / sigma^2 (E|h|^2 = 1); the
  detector is the exact/max-log demapper with the per-subcarrier gain (any MIMO detector with
  Nr = Nt = 1 is the same).

A point stops after ``min_errors`` block errors or ``max_codewords`` codewords; the sweep stops at
the first SNR with no block error or with BLER below ``stop_bler`` (default 1e-3).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import numpy as np

N_CODE, K_INFO = 648, 324


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    nr: int
    nt: int
    bits_per_symbol: int
    channel: str  # 'rayleigh' | 'cdla' | 'epa'

    @property
    def bits_per_use(self) -> int:
        return self.nt * self.bits_per_symbol

    def noise_var(self, snr_db: float) -> float:
        """sigma^2 for an SNR in dB: E||H||_F^2 / sigma^2 with unit-power entries."""
        return self.nr * self.nt / 10 ** (snr_db / 10)


SCENARIOS: Dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("2x2-64qam-rayleigh", 2, 2, 6, "rayleigh"),
        Scenario("4x4-16qam-rayleigh", 4, 4, 4, "rayleigh"),
        Scenario("2x2-64qam-cdla", 2, 2, 6, "cdla"),
        Scenario("siso-epa-64qam", 1, 1, 6, "epa"),
        Scenario("siso-epa-256qam", 1, 1, 8, "epa"),
    ]
}

# Default SNR grids (dB), spanning BLER ~1 to below 1e-3 for the classical detectors.
DEFAULT_SNR_DB: Dict[str, list] = {
    "2x2-64qam-rayleigh": [float(v) for v in range(14, 31)],
    "4x4-16qam-rayleigh": [float(v) for v in range(10, 27)],
    "2x2-64qam-cdla": [float(v) for v in range(14, 33)],
    "siso-epa-64qam": [float(v) for v in range(10, 29)],
    "siso-epa-256qam": [float(v) for v in range(16, 35)],
}


def get_compressor(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The LLR compressor ``name`` applied between detection and decoding (``none``,
    ``softbit-<method>-<K>``, ``eqnet-q5`` / ``eqnet-q6``, ...): :func:`registry.compressor`."""
    from . import registry

    return registry.compressor(name)


class Link:
    """Simulates batches of codewords through one scenario (torch/numpy; no GNU Radio flowgraph;
    decoding uses GNU Radio's LDPC decoder through :func:`gnuradio.deepquant.phy.ldpc.decode_batch`)."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int = 0,
        interleaver_seed: int = 1234,
        max_iter: int = 50,
        workers: int = 2,
        csi_error_var: float = 0.0,
    ):
        from .phy import interleaver, ldpc

        self.sc = scenario
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.ldpc = ldpc
        self.max_iter = max_iter
        self.workers = workers
        self.interleaver = interleaver.BitInterleaver(N_CODE, seed=interleaver_seed)
        self._batch_counter = 0
        # imperfect CSI: the detector sees H_hat = H + E, E i.i.d. CN(0, csi_error_var) (0 = genie CSI)
        self.csi_error_var = float(csi_error_var)
        self._csi_rng = np.random.default_rng(seed + 99991)

    # ---- channel -------------------------------------------------------------------------------
    def _channels(self, n_uses: int, n_codewords: int):
        import torch

        from .phy import channels

        sc = self.sc
        g = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
        if sc.channel == "rayleigh":
            return channels.rayleigh_mimo(n_uses, sc.nr, sc.nt, generator=g).numpy()
        uses_per_cw = int(math.ceil(N_CODE / sc.bits_per_use))
        if sc.channel == "cdla":
            h = channels.cdl_a_channel(n_codewords, uses_per_cw, sc.nr, sc.nt, generator=g).numpy()
        elif sc.channel == "epa":
            h = (
                channels.epa_channel(n_codewords, uses_per_cw, generator=g)
                .numpy()
                .reshape(n_codewords, uses_per_cw, 1, 1)
            )
        else:
            raise ValueError(f"unknown channel {sc.channel!r}")
        return h.reshape(-1, sc.nr, sc.nt)[:n_uses]

    # ---- one batch -----------------------------------------------------------------------------
    def run_batch(self, detector: str, snr_db: float, n_codewords: int, compressor: str = "none"):
        """Simulate ``n_codewords`` codewords. Returns a dict of counts."""
        from . import registry
        from .phy import mapping

        sc = self.sc
        info = self.rng.integers(0, 2, (n_codewords, K_INFO), dtype=np.uint8)
        cw = np.asarray(self.ldpc.encode(info), dtype=np.uint8)
        tx_bits = self.interleaver.interleave(cw).reshape(-1)
        per_use = sc.bits_per_use
        if sc.channel == "rayleigh":
            pad = (-tx_bits.size) % per_use
            stream = np.concatenate([tx_bits, self.rng.integers(0, 2, pad, dtype=np.uint8)])
            n_uses = stream.size // per_use
            use_bits = stream.reshape(n_uses, per_use)
        else:  # one channel realisation per codeword: pad every codeword to whole channel uses
            uses_per_cw = int(math.ceil(N_CODE / per_use))
            padded = np.zeros((n_codewords, uses_per_cw * per_use), dtype=np.uint8)
            padded[:, :N_CODE] = tx_bits.reshape(n_codewords, N_CODE)
            padded[:, N_CODE:] = self.rng.integers(0, 2, padded[:, N_CODE:].shape, dtype=np.uint8)
            n_uses = n_codewords * uses_per_cw
            use_bits = padded.reshape(n_uses, per_use)
        x = np.asarray(
            mapping.map_bits(use_bits.reshape(n_uses * sc.nt, sc.bits_per_symbol), sc.bits_per_symbol),
            dtype=np.complex64,
        ).reshape(n_uses, sc.nt)
        h = self._channels(n_uses, n_codewords).astype(np.complex64)
        nv = sc.noise_var(snr_db)
        noise = self.rng.standard_normal((n_uses, sc.nr)) + 1j * self.rng.standard_normal((n_uses, sc.nr))
        y = (np.einsum("bij,bj->bi", h, x) + np.sqrt(nv / 2) * noise).astype(np.complex64)
        if self.csi_error_var > 0:  # separate generator: the link itself is unchanged (paired runs)
            e = self._csi_rng.standard_normal(h.shape + (2,)) @ np.array([1.0, 1j])
            h = (h + np.sqrt(self.csi_error_var / 2) * e).astype(np.complex64)
        llr = np.asarray(
            registry.detect(detector, y, h, np.full(n_uses, nv, np.float32), bits_per_symbol=sc.bits_per_symbol),
            dtype=np.float32,
        )
        uncoded_err = int(np.sum((llr > 0).astype(np.uint8) != use_bits))
        llr = get_compressor(compressor)(llr)
        if sc.channel == "rayleigh":
            cw_llr = llr.reshape(-1)[: n_codewords * N_CODE].reshape(n_codewords, N_CODE)
        else:
            cw_llr = llr.reshape(n_codewords, -1)[:, :N_CODE]
        dec = np.asarray(
            self.ldpc.decode_batch(self.interleaver.deinterleave(cw_llr), max_iter=self.max_iter, workers=self.workers),
            dtype=np.uint8,
        )
        bit_err = dec != info
        return {
            "codewords": n_codewords,
            "block_errors": int(bit_err.any(axis=1).sum()),
            "bit_errors": int(bit_err.sum()),
            "uncoded_bit_errors": uncoded_err,
            "uncoded_bits": int(use_bits.size),
        }


def required_snr(snr_db: Sequence[float], bler: Sequence[float], target: float = 1e-2) -> Optional[float]:
    """SNR (dB) where the BLER curve crosses ``target``: linear interpolation of log10(BLER) between
    the two measured points around it; None if the curve never crosses within the measured range."""
    pts = [(s, b) for s, b in zip(snr_db, bler) if b is not None]
    for (s0, b0), (s1, b1) in zip(pts, pts[1:]):
        if b0 >= target > b1:
            if b1 <= 0:  # zero errors at s1: bound by the last nonzero point's slope is unknown
                return float(s1)
            l0, l1, lt = math.log10(b0), math.log10(b1), math.log10(target)
            return float(s0 + (lt - l0) * (s1 - s0) / (l1 - l0))
    return None


def sweep(
    scenario: str,
    detector: str,
    snr_db: Sequence[float],
    min_errors: int = 100,
    max_codewords: int = 20000,
    batch: int = 500,
    seed: int = 0,
    compressor: str = "none",
    progress: bool = True,
    stop_bler: float = 1e-3,
    csi_error_var: float = 0.0,
) -> dict:
    """BLER/BER vs SNR for one detector on one scenario (see the module docstring).

    The sweep ends after the first point with no block error or with BLER below ``stop_bler``
    (the figures of interest span BLER 1 ... 1e-3)."""
    from tqdm import tqdm

    sc = SCENARIOS[scenario]
    link = Link(sc, seed=seed, csi_error_var=csi_error_var)
    rows = []
    for s in snr_db:
        tot = {"codewords": 0, "block_errors": 0, "bit_errors": 0, "uncoded_bit_errors": 0, "uncoded_bits": 0}
        t0 = time.perf_counter()
        bar = tqdm(
            total=max_codewords, desc=f"{scenario} {detector} {s:5.1f} dB", unit="cw", disable=not progress, leave=False
        )
        while tot["block_errors"] < min_errors and tot["codewords"] < max_codewords:
            b = min(batch, max_codewords - tot["codewords"])
            r = link.run_batch(detector, s, b, compressor)
            for k in tot:
                tot[k] += r[k]
            bar.update(b)
            bar.set_postfix(errors=tot["block_errors"])
        bar.close()
        n = tot["codewords"]
        row = {
            "snr_db": float(s),
            "bler": tot["block_errors"] / n,
            "ber": tot["bit_errors"] / (n * K_INFO),
            "uncoded_ber": tot["uncoded_bit_errors"] / tot["uncoded_bits"],
            "codewords": n,
            "block_errors": tot["block_errors"],
            "seconds": time.perf_counter() - t0,
        }
        rows.append(row)
        if progress:
            tqdm.write(
                f"  {scenario} {detector:>10} {s:5.1f} dB  BLER {row['bler']:.2e} ({row['block_errors']}/{n})  "
                f"BER {row['ber']:.2e}  uncoded {row['uncoded_ber']:.2e}"
            )
        if tot["block_errors"] == 0 or row["bler"] < stop_bler:
            break
    return {
        "scenario": scenario,
        "detector": detector,
        "compressor": compressor,
        "snr_db": [r["snr_db"] for r in rows],
        "bler": [r["bler"] for r in rows],
        "ber": [r["ber"] for r in rows],
        "uncoded_ber": [r["uncoded_ber"] for r in rows],
        "codewords": [r["codewords"] for r in rows],
        "block_errors": [r["block_errors"] for r in rows],
        "required_snr_db_at_bler_1e-2": required_snr([r["snr_db"] for r in rows], [r["bler"] for r in rows]),
        "min_errors": min_errors,
        "max_codewords": max_codewords,
        "seed": seed,
        "csi_error_var": csi_error_var,
    }


def plot(curves: Sequence[dict], path: str, title: str = "", references: Sequence[dict] = ()) -> None:
    """BLER vs SNR curves (and dashed reference curves) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for c in references:
        ax.semilogy(c["snr_db"], np.maximum(c["bler"], 1e-6), "--", alpha=0.6, label=f"{c['detector']} (reference)")
    for c in curves:
        lab = c["detector"] + ("" if c.get("compressor", "none") == "none" else f" + {c['compressor']}")
        ax.semilogy(c["snr_db"], np.maximum(c["bler"], 1e-6), "o-", label=lab)
    ax.axhline(1e-2, color="grey", lw=0.5)
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("BLER (802.11n LDPC 648/324)")
    ax.set_ylim(bottom=max(1e-5, min([min([b for b in c["bler"] if b > 0] or [1]) for c in curves] + [1]) / 3))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reference_dir() -> Path:
    """Where the shipped reference curves live inside the package."""
    from . import paths

    return paths.data_file("reference_curves")


def load_reference(scenario: str) -> list:
    p = reference_dir() / f"{scenario}.json"
    if not p.exists():
        return []
    return json.loads(p.read_text())["curves"]


def gaps_db(curves: Sequence[dict], baseline: str = "exact_ml") -> dict:
    """Required-SNR gaps at BLER 1e-2 of each curve to the baseline detector's (dB)."""
    base = next((c for c in curves if c["detector"] == baseline), None)
    if base is None or base["required_snr_db_at_bler_1e-2"] is None:
        return {}
    b = base["required_snr_db_at_bler_1e-2"]
    return {
        c["detector"]: (None if c["required_snr_db_at_bler_1e-2"] is None else c["required_snr_db_at_bler_1e-2"] - b)
        for c in curves
    }
