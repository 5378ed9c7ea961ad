"""Carrier layout, sync words, pilots and frame sizes of the module's OFDM waveform."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..phy import ldpc

#: 802.11a/g data carriers (48) and pilots (4) of a 64-point FFT.
DEFAULT_OCCUPIED = tuple(k for k in range(-26, 27) if k not in (0, -21, -7, 7, 21))
DEFAULT_PILOTS = (-21, -7, 7, 21)
DEFAULT_PILOT_SYMBOLS = (1.0, 1.0, 1.0, -1.0)
_SYNC_SEED = 42


@dataclass(frozen=True)
class OfdmLayout:
    """One OFDM waveform: FFT size, cyclic prefix, carriers, payload size.

    Parameters
    ----------
    fft_len, cp_len : int
        FFT size and cyclic prefix (samples).
    bits_per_symbol : int
        Payload QAM order (6 = 64-QAM); the header is BPSK on the same data carriers.
    n_codewords : int
        802.11n (648, 324) LDPC codewords per packet; ``n_codewords * 648 / bits_per_symbol``
        must be a whole number of OFDM symbols of ``len(occupied)`` data carriers.
    occupied, pilots : tuple of int
        Data and pilot subcarrier indices (relative to DC).
    """

    fft_len: int = 64
    cp_len: int = 16
    bits_per_symbol: int = 6
    n_codewords: int = 4
    occupied: tuple = DEFAULT_OCCUPIED
    pilots: tuple = DEFAULT_PILOTS
    pilot_symbols: tuple = DEFAULT_PILOT_SYMBOLS
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if self.fft_len < 16 or self.fft_len & (self.fft_len - 1):
            raise ValueError(f"OfdmLayout: fft_len must be a power of two >= 16, got {self.fft_len}")
        if not 0 < self.cp_len < self.fft_len:
            raise ValueError(f"OfdmLayout: cp_len must be in (0, fft_len), got {self.cp_len}")
        if self.bits_per_symbol not in (1, 2, 4, 6, 8):
            raise ValueError(f"OfdmLayout: bits_per_symbol must be 1, 2, 4, 6 or 8, got {self.bits_per_symbol}")
        if self.n_codewords < 1:
            raise ValueError(f"OfdmLayout: n_codewords must be >= 1, got {self.n_codewords}")
        half = self.fft_len // 2
        allk = list(self.occupied) + list(self.pilots)
        if len(set(allk)) != len(allk) or any(not -half <= k < half or k == 0 for k in allk):
            raise ValueError("OfdmLayout: carriers must be distinct, non-zero and within the FFT")
        if len(self.pilot_symbols) != len(self.pilots):
            raise ValueError("OfdmLayout: one pilot symbol per pilot carrier")
        if self.coded_bits % self.bits_per_symbol or self.data_symbols % len(self.occupied):
            raise ValueError(
                f"OfdmLayout: {self.n_codewords} codeword(s) x 648 bits at {self.bits_per_symbol} bits/symbol "
                f"= {self.coded_bits / self.bits_per_symbol:g} symbols, not a whole number of OFDM symbols "
                f"of {len(self.occupied)} data carriers; change n_codewords"
            )
        if self.n_codewords > 255:
            raise ValueError("OfdmLayout: at most 255 codewords per packet (8-bit header field)")

    # sizes -------------------------------------------------------------------------------
    @property
    def info_bits(self) -> int:
        """Information bits per packet (324 per codeword)."""
        return self.n_codewords * ldpc.K

    @property
    def coded_bits(self) -> int:
        return self.n_codewords * ldpc.N

    @property
    def data_symbols(self) -> int:
        """QAM symbols per packet."""
        return self.coded_bits // self.bits_per_symbol

    @property
    def payload_ofdm_symbols(self) -> int:
        return self.data_symbols // len(self.occupied)

    @property
    def payload_bytes(self) -> int:
        """The header's length field: coded bits / 8 (what GNU Radio's header formatter counts)."""
        return self.coded_bits // 8

    @property
    def header_symbols(self) -> int:
        from .header import header_ofdm_symbols

        return header_ofdm_symbols(len(self.occupied))

    @property
    def guard_len(self) -> int:
        """Zero samples after each packet: without a gap, a packet whose timing estimate comes a
        few samples early (multipath) starts inside the previous packet's window and
        ``header_payload_demux`` misses its trigger (measured: 9 % of EPA packets lost)."""
        return self.fft_len // 2

    @property
    def samples_per_packet(self) -> int:
        """2 sync symbols + 2 header symbols + payload, each fft_len + cp_len samples, + guard."""
        return (2 + self.header_symbols + self.payload_ofdm_symbols) * (self.fft_len + self.cp_len) + self.guard_len

    def noise_voltage(self, snr_db: float) -> float:
        """Time-domain noise amplitude (``channels.channel_model`` noise_voltage) giving a
        per-subcarrier SNR ``E|h x|^2 / sigma^2`` of ``snr_db`` with ``ofdm_tx``'s scaling and
        a unit-power channel: ``sigma^2 = fft_len * sigma_t^2 = 10^(-snr/10)``."""
        return float(np.sqrt(10 ** (-snr_db / 10) / self.fft_len))

    # carrier indices (fft-shifted vector positions) ------------------------------------------
    def idx(self, carriers) -> np.ndarray:
        return np.asarray(carriers, dtype=np.int64) + self.fft_len // 2

    def _const(self, key, make) -> np.ndarray:
        """A read-only array computed once per layout (the receivers read these per frame)."""
        v = self._cache.get(key)
        if v is None:
            v = make()
            v.setflags(write=False)
            self._cache[key] = v
        return v

    @property
    def data_idx(self) -> np.ndarray:
        return self._const("data_idx", lambda: self.idx(self.occupied))

    @property
    def pilot_idx(self) -> np.ndarray:
        return self._const("pilot_idx", lambda: self.idx(self.pilots))

    @property
    def active(self) -> np.ndarray:
        """All used carriers (data and pilots), sorted, relative to DC."""
        return self._const("active", lambda: np.array(sorted(list(self.occupied) + list(self.pilots)), dtype=np.int64))

    # GNU Radio argument forms ------------------------------------------------------------------
    def gr_occupied(self):
        return (list(self.occupied),)

    def gr_pilots(self):
        return (list(self.pilots),)

    def gr_pilot_symbols(self):
        return (list(self.pilot_symbols),)

    def sync_words(self):
        """(sync_word1, sync_word2), fft-shifted, as GNU Radio's allocator/chanest take them.

        Word 1 (Schmidl & Cox): BPSK * sqrt(2) on the odd active carriers, zeros elsewhere (two
        identical halves in time). Word 2: BPSK on every active carrier (|s| = 1, so its LS
        channel estimate has the data's noise variance)."""
        if "sync" not in self._cache:
            rng = np.random.RandomState(_SYNC_SEED)
            half = self.fft_len // 2
            act = set(int(k) for k in self.active)
            w1 = np.zeros(self.fft_len, np.complex64)
            w2 = np.zeros(self.fft_len, np.complex64)
            for k in range(-half, half):
                if k in act:
                    if k % 2:
                        w1[k + half] = np.sqrt(2) * (1 - 2 * rng.randint(2))
                    w2[k + half] = 1 - 2 * rng.randint(2)
            self._cache["sync"] = (w1, w2)
        return self._cache["sync"]
