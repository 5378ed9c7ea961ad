"""Entropy models and range coding of quantized symbols (latent indices or scalar-quantizer
indices) for a whole frame.

Symbols come as a ``(n, S)`` array of small integers (``S`` streams: the 3 latent dimensions, or
the K bit positions of a scalar quantizer; ``M`` symbols per stream).  A frame is coded with one
*table* ``p[t, s, m]`` (probabilities per stream), chosen by the encoder among the ``T`` tables
shipped with the model as the one with the smallest ideal code length for that frame (a
histogram dot product, no trial coding); its index goes into the frame header.

Tables are estimated on the *training* channels (i.i.d. Rayleigh): table 0 pools all training
symbols, tables 1..T-1 pool the channel uses whose effective SNR ``|h|^2 / sigma^2`` falls in one
2 dB bin.  Over a wideband (OFDM) codeword the effective SNR varies slowly across subcarriers, so
one of these tables usually fits a frame closely; no EPA data is used to build them.

Coder: ``constriction`` 0.5 queue (range) coder with 32-bit words.  Measured on this machine
(frames of 324 symbols, 64-letter alphabet): encoding 1.8 M symbols/s for one small frame call and
130-200 M symbols/s for long frames, decoding 12-40 M symbols/s, with 26-32 bits of overhead per
frame over the ideal code length; the coder is written in Rust and needs only numpy, whereas
``torchac`` needs a compiled torch extension (not available in this environment).  Words are
serialised big-endian and trailing zero bytes are dropped (restored on decoding), which removes
most of the sealing overhead.  Probabilities are floored (every symbol codable) and turned into
``constriction`` models with ``perfect=False``; coding is lossless for any symbol in ``[0, M)``.
"""

from __future__ import annotations

import numpy as np

PROB_FLOOR = 1e-7
EFF_SNR_EDGES_DB = np.arange(-6.0, 50.0, 2.0)


def _normalise(counts: np.ndarray) -> np.ndarray:
    p = counts.astype(np.float64) + 0.5
    p = p / p.sum(-1, keepdims=True)
    p = np.maximum(p, PROB_FLOOR)
    return p / p.sum(-1, keepdims=True)


def histograms(sym: np.ndarray, m: int) -> np.ndarray:
    """Counts per stream: ``sym`` (n, S) ints -> (S, M) int64."""
    sym = np.asarray(sym)
    s = sym.shape[1]
    flat = (np.arange(s)[None, :] * m + sym.astype(np.int64)).reshape(-1)
    return np.bincount(flat, minlength=s * m).reshape(s, m)


def tables_by_effective_snr(sym: np.ndarray, eff_snr_db: np.ndarray, m: int, edges=EFF_SNR_EDGES_DB):
    """Table 0 (all rows) and one table per effective-SNR bin.

    Parameters
    ----------
    sym : numpy.ndarray
        ``(n, S)`` symbols in ``[0, m)``.
    eff_snr_db : numpy.ndarray
        ``(n,)`` effective SNR of each row, dB.
    m : int
        Alphabet size.
    edges : array_like
        Bin edges (dB); rows below/above the range go to the first/last bin.

    Returns
    -------
    tables : numpy.ndarray
        float64 ``(1 + len(edges) - 1, S, m)``, rows summing to 1, all entries > 0.
    edges : numpy.ndarray
    """
    edges = np.asarray(edges, dtype=np.float64)
    nb = len(edges) - 1
    b = np.clip(np.searchsorted(edges, eff_snr_db, side="right") - 1, 0, nb - 1)
    tabs = [_normalise(histograms(sym, m))]
    for i in range(nb):
        tabs.append(_normalise(histograms(sym[b == i], m)))
    return np.stack(tabs), edges


def entropy_bits(sym: np.ndarray, m: int) -> float:
    """Empirical entropy of the symbols, in bits per row: sum over streams of the marginal
    entropy of each stream's histogram (the rate an ideal coder with per-stream statistics
    matched to ``sym`` would reach)."""
    c = histograms(sym, m).astype(np.float64)
    p = c / c.sum(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=-1)
    return float(h.sum())


def chain_entropy_bits(sym: np.ndarray, m: int = 64) -> float:
    """Empirical entropy of ``(n, 3)`` latents under the chain factorisation, bits per row:
    ``H(z0) + H(z1|z0) + H(z2|z1) = H(z0,z1) + H(z1,z2) - H(z1)`` (plug-in estimates)."""
    s = np.asarray(sym).astype(np.int64)

    def h(v, size):
        c = np.bincount(v, minlength=size).astype(np.float64)
        p = c[c > 0] / c.sum()
        return float(-(p * np.log2(p)).sum())

    return h(s[:, 0] * m + s[:, 1], m * m) + h(s[:, 1] * m + s[:, 2], m * m) - h(s[:, 1], m)


class RangeCoder:
    """Range coder over frames with a fixed set of probability tables.

    Parameters
    ----------
    tables : numpy.ndarray
        ``(T, S, M)`` probabilities (see :func:`tables_by_effective_snr`).
    """

    def __init__(self, tables: np.ndarray):
        import constriction

        self._c = constriction
        self.tables = np.asarray(tables, dtype=np.float64)
        self.n_tables, self.streams, self.m = self.tables.shape
        self.cost = -np.log2(self.tables)  # (T, S, M) bits
        self._models = {}

    def model(self, t: int, s: int):
        key = (t, s)
        mdl = self._models.get(key)
        if mdl is None:
            mdl = self._models[key] = self._c.stream.model.Categorical(self.tables[t, s], perfect=False)
        return mdl

    def choose_tables(self, sym_frames: np.ndarray) -> np.ndarray:
        """Best table per frame: ``sym_frames`` (F, n, S) -> (F,) int64."""
        f, n, s = sym_frames.shape
        flat = (
            (np.arange(f)[:, None, None] * s + np.arange(s)[None, None, :]) * self.m + sym_frames.astype(np.int64)
        ).reshape(-1)
        counts = np.bincount(flat, minlength=f * s * self.m).reshape(f, s * self.m).astype(np.float64)
        bits = counts @ self.cost.reshape(self.n_tables, -1).T  # (F, T)
        return np.argmin(bits, axis=1)

    def encode(self, sym: np.ndarray, t: int) -> bytes:
        """Code one frame ``sym`` (n, S) with table ``t`` -> payload bytes."""
        enc = self._c.stream.queue.RangeEncoder()
        for s in range(self.streams):
            enc.encode(np.ascontiguousarray(sym[:, s], dtype=np.int32), self.model(t, s))
        words = enc.get_compressed()
        return words.astype(">u4").tobytes().rstrip(b"\0")

    def decode(self, payload: bytes, t: int, n: int) -> np.ndarray:
        """Inverse of :meth:`encode`: -> (n, S) uint8 (uint16 if M > 256)."""
        pad = (-len(payload)) % 4
        words = np.frombuffer(payload + b"\0" * pad, dtype=">u4").astype(np.uint32)
        dec = self._c.stream.queue.RangeDecoder(words)
        out = np.empty((n, self.streams), dtype=np.uint8 if self.m <= 256 else np.uint16)
        for s in range(self.streams):
            out[:, s] = dec.decode(self.model(t, s), n)
        return out


# ---------------------------------------------------------------------------------------------
# Conditional ("chain") entropy model for the three latents of the autoencoder codecs.
CHAIN_EDGES_DB = np.arange(-6.0, 51.0, 4.0)
CHAIN_SMOOTHING = 2.0


def chain_tables(sym: np.ndarray, eff_snr_db: np.ndarray, m: int = 64, edges=CHAIN_EDGES_DB):
    """Tables of the chain model ``p(z0) p(z1 | z0) p(z2 | z1)`` (table 0 pooled, then one per
    4 dB bin of effective SNR).

    Parameters
    ----------
    sym : numpy.ndarray
        ``(n, 3)`` latent indices in ``[0, m)``.
    eff_snr_db : numpy.ndarray
        ``(n,)`` effective SNR per row (dB).

    Returns
    -------
    marg : numpy.ndarray
        float64 ``(T, m)``, ``p(z0)``.
    c1, c2 : numpy.ndarray
        float64 ``(T, m, m)``: ``c1[t, a, b] = p(z1 = b | z0 = a)``, ``c2[t, a, b] = p(z2 = b | z1 = a)``;
        rows are smoothed toward the bin's marginal of the predicted latent
        (``(n_ab + 2 p(b)) / (n_a + 2)``) so every symbol stays codable.
    """
    edges = np.asarray(edges, dtype=np.float64)
    nb = len(edges) - 1
    b = np.clip(np.searchsorted(edges, eff_snr_db, side="right") - 1, 0, nb - 1)
    sel = [np.ones(len(sym), bool)] + [b == i for i in range(nb)]
    s = sym.astype(np.int64)
    marg, c1, c2 = [], [], []
    for msk in sel:
        ss = s[msk]
        h = _normalise(histograms(ss, m))  # (3, m)
        marg.append(h[0])
        for (src, dst), out in (((0, 1), c1), ((1, 2), c2)):
            pair = np.bincount(ss[:, src] * m + ss[:, dst], minlength=m * m).reshape(m, m).astype(np.float64)
            p = (pair + CHAIN_SMOOTHING * h[dst][None, :]) / (pair.sum(1, keepdims=True) + CHAIN_SMOOTHING)
            p = np.maximum(p, PROB_FLOOR)
            out.append(p / p.sum(1, keepdims=True))
    return np.stack(marg), np.stack(c1), np.stack(c2)


class ChainCoder:
    """Range coder of ``(n, 3)`` latents with the chain model of :func:`chain_tables`:
    stream z0 with ``p_t(z0)``, then z1 with ``p_t(z1 | z0)`` and z2 with ``p_t(z2 | z1)``
    (per-symbol categorical models); same payload conventions as :class:`RangeCoder`."""

    streams = 3

    def __init__(self, marg: np.ndarray, c1: np.ndarray, c2: np.ndarray):
        import constriction

        self._c = constriction
        self.marg = np.maximum(np.asarray(marg, np.float64), PROB_FLOOR)
        self.c1 = np.maximum(np.asarray(c1, np.float64), PROB_FLOOR)
        self.c2 = np.maximum(np.asarray(c2, np.float64), PROB_FLOOR)
        for a in (self.marg, self.c1, self.c2):
            a /= a.sum(-1, keepdims=True)
        self.n_tables, self.m = self.marg.shape
        self.lm, self.l1, self.l2 = -np.log2(self.marg), -np.log2(self.c1), -np.log2(self.c2)
        # table-selection costs, float32, laid out [cell, table] so one gather serves all tables
        t = self.n_tables
        self._sel_m = np.ascontiguousarray(self.lm.T, dtype=np.float32)  # (m, T)
        self._sel_1 = np.ascontiguousarray(self.l1.reshape(t, -1).T, dtype=np.float32)  # (m*m, T)
        self._sel_2 = np.ascontiguousarray(self.l2.reshape(t, -1).T, dtype=np.float32)
        self._fam = constriction.stream.model.Categorical(perfect=False)
        self._models = {}

    def _marg_model(self, t):
        mdl = self._models.get(t)
        if mdl is None:
            mdl = self._models[t] = self._c.stream.model.Categorical(self.marg[t], perfect=False)
        return mdl

    def choose_tables(self, sym_frames: np.ndarray) -> np.ndarray:
        """Best table per frame (smallest ideal code length): (F, n, 3) -> (F,)."""
        f, n, _ = sym_frames.shape
        s = sym_frames.reshape(-1, 3).astype(np.intp)
        m = self.m
        bits = self._sel_m[s[:, 0]]
        bits += self._sel_1[s[:, 0] * m + s[:, 1]]
        bits += self._sel_2[s[:, 1] * m + s[:, 2]]  # (F*n, T)
        return np.argmin(bits.reshape(f, n, self.n_tables).sum(1), axis=1)

    def ideal_bits(self, sym: np.ndarray, t: int) -> float:
        s = sym.astype(np.int64)
        return float((self.lm[t, s[:, 0]] + self.l1[t, s[:, 0], s[:, 1]] + self.l2[t, s[:, 1], s[:, 2]]).sum())

    def encode(self, sym: np.ndarray, t: int) -> bytes:
        s = np.ascontiguousarray(sym, dtype=np.int32)
        enc = self._c.stream.queue.RangeEncoder()
        enc.encode(np.ascontiguousarray(s[:, 0]), self._marg_model(t))
        if len(s):
            enc.encode(np.ascontiguousarray(s[:, 1]), self._fam, self.c1[t][s[:, 0]])
            enc.encode(np.ascontiguousarray(s[:, 2]), self._fam, self.c2[t][s[:, 1]])
        return enc.get_compressed().astype(">u4").tobytes().rstrip(b"\0")

    def decode(self, payload: bytes, t: int, n: int) -> np.ndarray:
        pad = (-len(payload)) % 4
        words = np.frombuffer(payload + b"\0" * pad, dtype=">u4").astype(np.uint32)
        dec = self._c.stream.queue.RangeDecoder(words)
        out = np.empty((n, 3), dtype=np.uint8)
        out[:, 0] = dec.decode(self._marg_model(t), n)
        if n:
            out[:, 1] = dec.decode(self._fam, self.c1[t][out[:, 0].astype(np.int64)])
            out[:, 2] = dec.decode(self._fam, self.c2[t][out[:, 1].astype(np.int64)])
        return out


# ---------------------------------------------------------------------------------------------
# The coders used by the codecs: the module's C++ rANS coder (gnuradio.deepquant.rans_coder).
#
# Why not constriction (used first, kept as the reference coder of the tests): both reach the
# same size (measured on 600 EPA frames of 108 channel uses, chain model: 240.8 bytes per frame
# with rANS, 240.3 with constriction's range coder, ideal code length 238.3), but constriction's
# Python API costs ~60-70 us per frame for the chain model (one categorical model built per
# symbol) against 4-8 us for the C++ coder, which quantizes every table once at load and codes
# many frames per call with the GIL released.  The block throughput goal (10 M soft bits/s, i.e.
# ~65 us per 648-soft-bit frame for everything) is out of reach with the former.
RANS_PRECISION = 15


SEG_ROWS = 18  # rows per table segment of the autoencoder codecs (6 segments per 108-row frame)


def _id_model(n_tables: int, m: int) -> np.ndarray:
    """Uniform over the table ids 0..T-1 (the other symbols get the coder's minimum frequency)."""
    if n_tables > m:
        raise ValueError(f"{n_tables} tables cannot be signalled with an alphabet of {m}")
    p = np.full(m, 1e-12)
    p[:n_tables] = 1.0 / n_tables
    return p


class RansCoder:
    """Range coder (C++ rANS) of ``(n, S)`` symbols with per-stream tables ``(T, S, M)`` (same
    interface as :class:`RangeCoder`, plus batched ``encode_frames`` / ``decode_frames``).

    Segmented coding (``*_segmented``; used by the autoencoder codecs): the rows of a frame are
    cut into segments of ``seg_rows`` and each segment is coded with its own table, the segment
    table ids (uniform model, log2 T bits each) coded first in the same payload.  Over a wideband
    frame the channel quality drifts across subcarriers, so one table per 18 rows fits better
    than one per frame: measured on EPA 64-QAM frames (108 rows, shipped learned model, chain
    tables), 4-5 % fewer bits including the ids, against 1-2 % more with 2 dB instead of 4 dB
    table bins and one table per frame.
    """

    def __init__(self, tables: np.ndarray):
        tables = np.asarray(tables, dtype=np.float64)
        self.tables = tables
        self._build(tables, np.arange(tables.shape[1], dtype=np.uint32), np.zeros(tables.shape[1], np.uint8))

    def _build(self, per_table: np.ndarray, off, cond):
        """``per_table``: (T, P, M) model rows of each table set; + one id model at the end."""
        from gnuradio import deepquant as dq

        self.n_tables, self._per_table, self.m = per_table.shape
        self.streams = len(off)
        self._model_rows = per_table
        probs = per_table.reshape(-1, self.m)
        # segment ids need an alphabet of at least T symbols (not so for small scalar alphabets)
        self._id = self.n_tables * self._per_table if self.n_tables <= self.m else None
        if self._id is not None:
            probs = np.concatenate([probs, _id_model(self.n_tables, self.m)[None]])
        self._rc = dq.rans_coder(probs, RANS_PRECISION)
        self._off, self._cond = np.asarray(off, np.uint32), np.asarray(cond, np.uint8)
        self._bases = (np.arange(self.n_tables) * self._per_table).astype(np.uint32)

    def min_row_bits(self) -> float:
        """A lower bound on the coded bits of one row (S symbols) under any table: per stream, the
        shortest code length of any symbol in any model row it can use, with the most probable
        symbol's frequency bounded from above as the coder quantizes it (2^RANS_PRECISION total,
        every symbol >= 1). The frame decoder rejects latent counts above ``(8 P + 32) /
        min_row_bits()`` rows for a P-byte payload before decoding. This bounds every symbol
        the coder spends bits on, not the symbol 0 coded while the state is below its frequency
        (free: see ``codec.Codec.max_rows``, whose padding keeps such frames within the bound)."""
        if getattr(self, "_min_row_bits", None) is None:
            p = np.asarray(self._model_rows, np.float64)
            p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-300)
            scale = float(1 << RANS_PRECISION)
            pmax = np.minimum(p.max(axis=-1) + self.m / scale, 1.0 - (self.m - 1) / scale)  # (T, P)
            length = -np.log2(pmax)
            total = 0.0
            for s in range(self.streams):
                lo = int(self._off[s])
                total += float(length[:, lo : lo + (self.m if self._cond[s] else 1)].min())
            self._min_row_bits = total
        return self._min_row_bits

    def choose_tables(self, sym_frames: np.ndarray, candidates=None) -> np.ndarray:
        """Best table per frame (shortest ideal code under the quantized tables): (F, n, S) -> (F,)
        table ids, among ``candidates`` (table ids; default all)."""
        cand = np.arange(self.n_tables) if candidates is None else np.asarray(candidates, dtype=np.int64)
        i = self._rc.choose_bases(
            np.ascontiguousarray(sym_frames, dtype=np.uint8), self._bases[cand], self._off, self._cond
        )
        return cand[np.asarray(i, dtype=np.int64)]

    def ideal_bits(self, sym: np.ndarray, t: int) -> float:
        return float(
            self._rc.code_length_bits(
                np.ascontiguousarray(sym, dtype=np.uint8), int(self._bases[t]), self._off, self._cond
            )
        )

    def encode(self, sym: np.ndarray, t: int) -> bytes:
        return self.encode_frames(np.asarray(sym)[None], np.array([t]))[0]

    def encode_frames(self, sym_frames: np.ndarray, tids) -> list:
        """(F, n, S) symbols with table ids (F,) -> F payloads."""
        return self._rc.encode_frames(
            np.ascontiguousarray(sym_frames, dtype=np.uint8),
            self._bases[np.asarray(tids, dtype=np.int64)],
            self._off,
            self._cond,
        )

    def decode(self, payload: bytes, t: int, n: int) -> np.ndarray:
        """Inverse of :meth:`encode` -> (n, S) uint8; ``ValueError`` (``rans_error``) if invalid."""
        return self._rc.decode(bytes(payload), int(n), int(self._bases[t]), self._off, self._cond)

    def decode_frames(self, payloads: list, tids, rows):
        """-> (symbols (sum rows, S) uint8, list of error message or None per frame)."""
        return self._rc.decode_frames(
            list(payloads),
            np.asarray(rows, dtype=np.int64),
            self._bases[np.asarray(tids, dtype=np.int64)],
            self._off,
            self._cond,
        )

    # -- segmented frames ----------------------------------------------------------------------
    def _need_ids(self):
        if self._id is None:
            raise ValueError(
                f"segmented coding needs at least {self.n_tables} symbols in the alphabet, this coder has {self.m}"
            )

    def choose_segments(self, sym_frames: np.ndarray, seg_rows: int = SEG_ROWS) -> np.ndarray:
        """(F, n, S) -> best table id per segment, uint8 (F, ceil(n / seg_rows))."""
        return self._rc.choose_segments(
            np.ascontiguousarray(sym_frames, dtype=np.uint8),
            int(seg_rows),
            self.n_tables,
            self._per_table,
            self._off,
            self._cond,
        )

    def encode_segmented(self, sym_frames: np.ndarray, seg_rows: int = SEG_ROWS, ids=None) -> list:
        """(F, n, S) symbols -> F payloads (segment ids chosen by :meth:`choose_segments` unless given)."""
        self._need_ids()
        sym_frames = np.ascontiguousarray(sym_frames, dtype=np.uint8)
        if ids is None:
            ids = self.choose_segments(sym_frames, seg_rows)
        return self._rc.encode_segmented(
            sym_frames,
            np.ascontiguousarray(ids, dtype=np.uint8),
            int(seg_rows),
            self._per_table,
            self._id,
            self._off,
            self._cond,
        )

    def decode_segmented(self, payloads: list, rows, seg_rows: int = SEG_ROWS):
        """-> (symbols (sum rows, S) uint8, list of error message or None per frame)."""
        self._need_ids()
        return self._rc.decode_segmented(
            list(payloads),
            np.asarray(rows, dtype=np.int64),
            int(seg_rows),
            self.n_tables,
            self._per_table,
            self._id,
            self._off,
            self._cond,
        )


class RansChainCoder(RansCoder):
    """C++ rANS with the chain model of :func:`chain_tables` (same interface as
    :class:`ChainCoder`): per table ``t`` the models are ``p_t(z0)``, then the 64 rows of
    ``p_t(z1 | z0)`` and of ``p_t(z2 | z1)``."""

    def __init__(self, marg: np.ndarray, c1: np.ndarray, c2: np.ndarray):
        marg, c1, c2 = (np.maximum(np.asarray(a, np.float64), PROB_FLOOR) for a in (marg, c1, c2))
        m = marg.shape[1]
        probs = np.concatenate([marg[:, None, :], c1, c2], axis=1)  # (T, 1 + 2m, m)
        self._build(probs, np.array([0, 1, 1 + m], np.uint32), np.array([0, 1, 1], np.uint8))
