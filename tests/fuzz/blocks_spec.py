"""What the fuzz harness feeds to every block of the module: a small constructor call, its
stream ports (when they cannot be read from the block), its message inputs, and how to read its
bad-input counters. Shared by ``tests/fuzz/test_fuzz_blocks.py`` (short profile) and
``scripts/fuzz_blocks.py`` (long profile)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pmt

C, F, B = np.complex64, np.float32, np.uint8
_PAYLOAD_SYMBOLS = 0  # set by _specs()

#: stream tag keys the module's blocks read (values are fuzzed with wrong types)
TAG_KEYS = (
    "packet_len",
    "frame_len",
    "ofdm_packet_num",
    "ofdm_sync_chan_taps",
    "ofdm_sync_carr_offset",
    "noise_var",
    "snr_db",
    "dq_noise_var",
    "dq_est_err_var",
    "dq_chan_est",
    "packet_id",
)

#: input classes for float/complex stream items
VALUE_CLASSES = ("normal", "nan", "inf", "big", "denormal", "zeros", "mixed")


@dataclass
class Spec:
    name: str
    make: Callable
    #: (dtype, vlen, kind) per input port; None = read from the Python block's in_sig()
    inputs: Optional[List[Tuple[type, int, str]]] = None
    outputs: Optional[List[Tuple[type, int]]] = None
    msg_in: List[str] = field(default_factory=list)
    msg_out: Optional[str] = None
    #: items per input port in one run (before vlen); small keeps torch/LDPC blocks fast
    n_items: int = 64
    #: how many items of port 0 make one unit of work (frame/packet); inputs are multiples
    unit: int = 1
    #: uint8 inputs carry bits (0/1) rather than bytes
    bits: bool = False
    timeout: float = 30.0
    #: +-inf inputs have a documented meaning (the quantizers saturate them): only NaN is bad
    inf_defined: bool = False
    #: valid input to corrupt (a receiver needs real packets to reach its inner blocks):
    #: rng -> one flat array per input port; None = generated noise / random bits
    signal: Optional[Callable] = None


def _dq():
    from gnuradio import deepquant as dq

    return dq


def _specs() -> Dict[str, Spec]:
    global _PAYLOAD_SYMBOLS
    from gnuradio.deepquant.ofdm.layout import OfdmLayout

    _PAYLOAD_SYMBOLS = OfdmLayout().payload_ofdm_symbols
    dq = _dq()
    s = [
        Spec("quantizer_fb", lambda: dq.quantizer_fb([-1.0, 0.0, 1.0], 1), [(F, 1, "")], [(B, 1)], inf_defined=True),
        Spec(
            "quantizer_ff",
            lambda: dq.quantizer_ff([-1.0, 0.0, 1.0], [-1.5, -0.5, 0.5, 1.5], 2),
            [(F, 2, "")],
            [(F, 2)],
            inf_defined=True,
        ),
        Spec("dequantizer_bf", lambda: dq.dequantizer_bf([-1.5, -0.5, 0.5, 1.5], 1), [(B, 1, "bytes")], [(F, 1)]),
        Spec("adc_cc", lambda: dq.adc_cc(3, 1.0, 1, 1.0), [(C, 1, "")], [(C, 1)], inf_defined=True),
        Spec("qam_mapper", lambda: dq.qam_mapper(4), bits=True),
        Spec("soft_demapper_cf", lambda: dq.soft_demapper_cf(6, "exact", 0.1, True, "stream")),
        Spec("soft_demapper_tag", lambda: dq.soft_demapper_cf(4, "maxlog", 0.1, False, "tag")),
        Spec("mimo_detector_lmmse", lambda: dq.mimo_detector(2, 2, 4, "lmmse")),
        Spec("mimo_detector_ep", lambda: dq.mimo_detector(2, 2, 6, "ep")),
        Spec("mimo_detector_ep_3x3", lambda: dq.mimo_detector(3, 3, 2, "ep")),
        Spec("mimo_detector_exact", lambda: dq.mimo_detector(2, 2, 4, "exact_ml")),
        Spec("mimo_detector_zfsic_1x1", lambda: dq.mimo_detector(1, 1, 2, "zf_sic")),
        Spec("mimo_detector_eqnet_p", lambda: dq.mimo_detector(2, 2, 6, "eqnet_p")),
        Spec("ldpc_encoder_bb", lambda: dq.ldpc_encoder_bb(), [(B, 1, "")], [(B, 1)], n_items=648, unit=324, bits=True),
        Spec("ldpc_decoder_fb", lambda: dq.ldpc_decoder_fb(10), [(F, 1, "")], [(B, 1)], n_items=1296, unit=648),
        Spec(
            "bit_interleaver",
            lambda: dq.bit_interleaver(64, 1, False, "float"),
            [(F, 1, "")],
            [(F, 1)],
            n_items=256,
            unit=64,
        ),
        Spec("frame_error_counter", lambda: dq.frame_error_counter(32), n_items=128, unit=32, bits=True, msg_out="fer"),
        Spec("mimo_channel", lambda: dq.mimo_channel(2, 2, "rayleigh", 0.1)),
        Spec("mu_uplink_channel", lambda: dq.mu_uplink_channel(), n_items=16),
        Spec("tbq_channel_estimator", lambda: dq.tbq_channel_estimator(), n_items=16),
        Spec("mmse_channel_estimator", lambda: dq.mmse_channel_estimator(), n_items=16),
        Spec("uniform_adc_channel_estimator", lambda: dq.uniform_adc_channel_estimator(), n_items=16),
        Spec(
            "softbit_compressor", lambda: dq.softbit_compressor(6, "learned", 18), n_items=648, unit=108, msg_out="pdus"
        ),
        Spec("softbit_decompressor", lambda: dq.softbit_decompressor(6, "learned"), msg_in=["pdus"]),
        Spec("harq_buffer", lambda: dq.harq_buffer(6, "uniform-ec"), msg_in=["llr_in", "ack"], msg_out="llr_out"),
        Spec("eqnet_quantizer", lambda: dq.eqnet_quantizer(2, 6, 6), n_items=32),
        Spec("eqnet_dequantizer", lambda: dq.eqnet_dequantizer(2, 6, 6), n_items=32),
        Spec("slp_precoder_fp32", lambda: dq.slp_precoder(4, 4, 4, "fp32", 10.0, 1.0), n_items=32),
        Spec("slp_precoder_block", lambda: dq.slp_precoder(4, 4, 4, "block", 10.0, 1.0), n_items=32),
        Spec("slp_precoder_k1", lambda: dq.slp_precoder(1, 1, 4, "zf", 10.0, 1.0), n_items=32),
        Spec("mu_miso_channel", lambda: dq.mu_miso_channel(4, 4, 0.1, 0), n_items=32),
        Spec("psk_detector", lambda: dq.psk_detector(4)),
        Spec("symbol_error_counter", lambda: dq.symbol_error_counter()),
        Spec("ofdm_tx", lambda: dq.ofdm_tx(), [(B, 1, "")], [(C, 1)], n_items=324 * 4 // 8 * 2, bits=False),
        Spec("ofdm_rx", lambda: dq.ofdm_rx(), [(C, 1, "")], [(B, 1), (C, 1), (C, 1)], signal=_siso_packets),
        # whole frames per work() call (output multiple = the frame's payload OFDM symbols)
        Spec(
            "ofdm_pilot_phase_tracker",
            lambda: dq.ofdm_pilot_phase_tracker(),
            n_items=_PAYLOAD_SYMBOLS * 2,
            unit=_PAYLOAD_SYMBOLS,
        ),
        Spec(
            "ofdm_channel_noise_estimator",
            lambda: dq.ofdm_channel_noise_estimator(),
            n_items=_PAYLOAD_SYMBOLS * 2,
            unit=_PAYLOAD_SYMBOLS,
        ),
        Spec("ofdm_impairments", lambda: dq.ofdm_impairments(), [(C, 1, "")], [(C, 1)], n_items=2000),
        Spec("block_fading_cc", lambda: dq.block_fading_cc(), n_items=2000),
        Spec("ofdm_fer_counter", lambda: dq.ofdm_fer_counter(), n_items=1296 // 8 * 2, msg_out="fer"),
        Spec("packet_crc_check", lambda: dq.packet_crc_check(1296), n_items=1296 * 2, bits=True, msg_out="ack"),
        Spec("mimo_ofdm_framer", lambda: dq.mimo_ofdm_framer(2, 9), n_items=4),
        Spec("mimo_ofdm_channel", lambda: dq.mimo_ofdm_channel(2, 2, "epa", 24.0, 9, 0), n_items=4),
        Spec("mimo_ofdm_ls_estimator", lambda: dq.mimo_ofdm_ls_estimator(2, 2, 9), n_items=4),
        Spec("mimo_ofdm_tx", lambda: dq.mimo_ofdm_tx(), [(B, 1, "")], [(C, 1), (C, 1)], n_items=648),
        Spec(
            "mimo_ofdm_impairments",
            lambda: dq.mimo_ofdm_impairments(),
            [(C, 1, ""), (C, 1, "")],
            [(C, 1), (C, 1)],
            n_items=2000,
        ),
        Spec(
            "mimo_ofdm_rx",
            lambda: dq.mimo_ofdm_rx(),
            [(C, 1, ""), (C, 1, "")],
            [(C, 2), (C, 4), (F, 1)],
            signal=_mimo_packets,
        ),
        Spec(
            "harq_combiner_ff",
            lambda: dq.harq_combiner_ff(648, 2, 6, "uniform-ec"),
            n_items=1296,
            msg_in=["ack", "decision"],
        ),
        Spec(
            "harq_combiner_ff_wait",
            lambda: dq.harq_combiner_ff(648, 2, 6, "uniform-ec", wait_for_decisions=True),
            n_items=1296,
            msg_in=["ack", "decision"],
        ),
    ]
    return {x.name: x for x in s}


_TX = {}


def _siso_packets(rng):
    """Three real ofdm_tx packets (cached) plus noise at ~25 dB."""
    if "siso" not in _TX:
        from gnuradio.deepquant.apps.ofdm_flowgraphs import transmit

        iq, _ = transmit(3)
        _TX["siso"] = np.concatenate([np.zeros(500, C), iq, np.zeros(2000, C)])
    x = _TX["siso"]
    w = (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) * 0.004
    return [(x + w).astype(C)]


def _mimo_packets(rng):
    """Three real 2x2 mimo_ofdm_tx frames (cached) on an identity channel plus noise."""
    if "mimo" not in _TX:
        from gnuradio.deepquant.apps.mimo_ofdm import transmit

        iq, _ = transmit(3, 2)
        _TX["mimo"] = np.concatenate([np.zeros((2, 500), C), iq, np.zeros((2, 2000), C)], axis=1)
    x = _TX["mimo"]
    w = (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * 0.004
    return [(x[0] + w[0]).astype(C), (x[1] + w[1]).astype(C)]


SPECS: Dict[str, Spec] = {}


def specs() -> Dict[str, Spec]:
    if not SPECS:
        SPECS.update(_specs())
    return SPECS


def ports_of(blk, spec: Spec):
    """-> (inputs [(dtype, vlen, kind)], outputs [(dtype, vlen)]) of ``blk``."""
    if spec.inputs is not None:
        return spec.inputs, spec.outputs or []

    def conv(sig):
        out = []
        for t in sig or []:
            dt = np.dtype(t)
            if dt.subdtype is not None:
                base, shape = dt.subdtype
                out.append((base.type, int(np.prod(shape))))
            else:
                out.append((dt.type, 1))
        return out

    ins = [(d, v, "") for d, v in conv(blk.in_sig())]
    return ins, conv(blk.out_sig())


def bad_total(blk, depth: int = 2) -> int:
    """Sum of every bad-input counter of ``blk`` (and of the Python blocks it holds)."""
    from gnuradio.deepquant.blocks._common import BadInputCounter

    tot = 0
    for name in ("nan_count", "invalid_count", "bad_count"):  # C++ blocks' counters
        fn = getattr(blk, name, None)
        if callable(fn):
            try:
                tot += int(fn())
            except Exception:  # noqa: BLE001
                pass

    def ours(o):  # the module's Python objects, and its C++ blocks (no __dict__) that count
        return type(o).__module__.startswith("gnuradio.deepquant") and (
            hasattr(o, "__dict__") or callable(getattr(o, "bad_count", None))
        )

    for v in list(vars(blk).values()) if hasattr(blk, "__dict__") else []:
        if isinstance(v, BadInputCounter):
            tot += v.count
        elif depth > 0 and ours(v):
            tot += bad_total(v, depth - 1)
        elif depth > 0 and isinstance(v, (list, tuple)):
            for w in v:
                if ours(w):
                    tot += bad_total(w, depth - 1)
    return tot


# ---- generated inputs ---------------------------------------------------------------------------
def values(cls: str, n: int, dtype, rng, bits=False, base=None):
    """n items of ``dtype`` of input class ``cls`` (corrupting ``base`` when given)."""
    if base is not None:
        x = np.array(base, dtype=dtype)
        n = x.size
        if cls in ("nan", "inf", "big", "denormal", "zeros"):  # a burst of bad samples
            a = int(rng.integers(0, max(1, n - n // 10)))
            sl = slice(a, a + n // 10)
            x[sl] = {"nan": np.nan, "inf": np.inf, "big": 1e30, "denormal": 1e-40, "zeros": 0.0}[cls]
            return x
        if cls == "mixed":
            vals = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 1e-40, 0.0])
            mask = rng.random(n) < 0.01
            x[mask] = rng.choice(vals, int(mask.sum()))
        return x
    if dtype == B:
        if cls in ("normal", "zeros") or bits and cls != "mixed":
            return rng.integers(0, 2, n).astype(B) if cls != "zeros" else np.zeros(n, B)
        return rng.integers(0, 256, n).astype(B)
    if dtype == C:
        x = ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(C)
    else:
        x = rng.standard_normal(n).astype(F)
    special = {"nan": np.nan, "inf": np.inf, "big": 1e30, "denormal": 1e-40, "zeros": 0.0}
    if cls in special:
        mask = rng.random(n) < 0.3
        v = special[cls]
        if cls == "inf":
            x[mask] = np.where(rng.random(int(mask.sum())) < 0.5, np.inf, -np.inf)
        else:
            x[mask] = v
    elif cls == "mixed":
        vals = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 1e-40, 0.0])
        mask = rng.random(n) < 0.2
        x[mask] = rng.choice(vals, int(mask.sum()))
    return x


def bad_pmts(rng) -> list:
    """Message payloads of wrong shapes and types (for message inputs)."""
    d = pmt.make_dict()
    d_id = pmt.dict_add(d, pmt.intern("packet_id"), pmt.init_s32vector(2, [1, 2]))
    d_num = pmt.dict_add(d, pmt.from_long(5), pmt.from_long(1))
    nan_llr = np.full(12, np.nan, np.float32)
    return [
        pmt.PMT_NIL,
        pmt.from_long(3),
        pmt.from_double(float("nan")),
        pmt.intern("junk"),
        d,
        d_id,
        pmt.cons(d_num, pmt.init_u8vector(30, rng.integers(0, 256, 30).tolist())),
        pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(0, [])),
        pmt.cons(pmt.dict_add(d, pmt.intern("packet_id"), pmt.from_long(1)), pmt.init_f32vector(12, nan_llr.tolist())),
        pmt.cons(pmt.dict_add(d, pmt.intern("packet_id"), pmt.from_double(1.5)), pmt.init_f32vector(7, [1.0] * 7)),
        pmt.cons(pmt.dict_add(d, pmt.intern("uses"), pmt.from_double(2.0)), pmt.init_u8vector(12, [1] * 12)),
        pmt.cons(d, pmt.init_c32vector(3, [1j, 2, 3])),
        pmt.cons(d, pmt.init_f32vector(4, [np.inf, 1.0, -np.inf, 0.0])),
    ]


def bad_tag_values() -> list:
    return [
        pmt.from_double(648.0),
        pmt.from_double(float("nan")),
        pmt.intern("x"),
        pmt.PMT_NIL,
        pmt.init_s32vector(2, [1, 2]),
        pmt.make_dict(),
        pmt.from_long(-5),
        pmt.from_long(1 << 40),
        pmt.init_c32vector(64, [1.0] * 64),
    ]
