"""The module's one registry of named MIMO detectors and link-level LLR compressors.

Explicit, with no import-time side effects: nothing registers itself by being imported. This
module sits above the numeric packages it names (``phy``, ``eqnet``, ``softbit``) and below their
users (``evaluate``, the blocks, the apps), so a low layer never imports a high one; it imports a
provider only when one of its names is looked up.

Detectors: ``f(y[B, Nr], H[B, Nr, Nt], noise_var[B], bits_per_symbol, **kw) -> LLR[B, Nt*K]``
(L = ln P(b=1)/P(b=0), stream-major), run through :func:`detect`:

* the classical ones of :data:`gnuradio.deepquant.phy.mimo.DETECTORS` (``exact_ml``,
  ``maxlog_ml``, ``zf_sic``, ``lmmse``, ``ep``);
* EQ-Net (``eqnet_l``, ``eqnet_p``; the joint estimation + quantization modes ``eqnet_l_q5`` ...
  ``eqnet_p_q6``), from :func:`gnuradio.deepquant.eqnet.detectors`.

Compressors: ``f(llr[B, n]) -> llr_hat[B, n]`` (float32), applied between detection and decoding:

* ``none`` (identity);
* ``softbit-<method>-<K>`` for every method of :mod:`gnuradio.deepquant.softbit` and K = 6, 8,
  from :func:`gnuradio.deepquant.softbit.compressors`;
* ``eqnet-q5`` / ``eqnet-q6``, from :func:`gnuradio.deepquant.eqnet.compressors`;
* whatever a script adds with :func:`register_compressor`.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

_EXTRA_COMPRESSORS: Dict[str, Callable] = {}


def _identity(llr):
    return llr


def detectors() -> Dict[str, Callable]:
    """Every detector by name (classical first, then EQ-Net)."""
    from . import eqnet
    from .phy import mimo

    out = dict(mimo.DETECTORS)
    for name, fn in eqnet.detectors().items():
        out.setdefault(name, fn)
    return out


def detector(name: str) -> Callable:
    """The detector called ``name``; ``ValueError`` naming the known ones otherwise."""
    from .phy import mimo

    if name in mimo.DETECTORS:  # the classical ones need no model files
        return mimo.DETECTORS[name]
    known = detectors()
    if name not in known:
        raise ValueError(f"unknown detection method {name!r}; choose one of {sorted(known)}")
    return known[name]


def detect(method: str, y, H, noise_var, bits_per_symbol: int, **kwargs):
    """:func:`gnuradio.deepquant.phy.mimo.detect` with any registered detector name (learned ones
    included); same arguments (``on_invalid``, ``dtype``, ...) and output."""
    from .phy import mimo

    if isinstance(method, str) and method not in mimo.DETECTORS:
        method = detector(method)
    return mimo.detect(method, y, H, noise_var, bits_per_symbol, **kwargs)


#: ``mimo_detector(method='auto')``: per (Nr, Nt, K), the most accurate detector that streams at least
#: :data:`AUTO_MIN_CHANNEL_USES_PER_S` through the block on one thread, as measured by
#: ``bench/eqnet.py --threads 1`` (accuracy: gap to exact ML at BLER 1e-2, ``deepquant eval``).  The
#: measurements behind each entry, and why exact ML is not the 2x2 64-QAM entry (its block rate is
#: at or below the bar, depending on the CPU), are in docs/eqnet.md, "Which detector to pick".
AUTO_DETECTOR = {(2, 2, 6): "ep", (4, 4, 4): "ep"}
AUTO_MIN_CHANNEL_USES_PER_S = 1e5


def auto_detector(nr: int, nt: int, bits_per_symbol: int) -> str:
    """The default detector for (Nr, Nt, K) (:data:`AUTO_DETECTOR`); configurations not measured get
    exact ML while its hypotheses (2^(Nt K)) stay at or below 1024 (a quarter of 2x2 64-QAM's 4096,
    where exact ML streamed 0.65e5-1.7e5 channel uses/s), else LMMSE."""
    key = (int(nr), int(nt), int(bits_per_symbol))
    if key in AUTO_DETECTOR:
        return AUTO_DETECTOR[key]
    return "exact_ml" if key[1] * key[2] <= 10 else "lmmse"


def compressors() -> Dict[str, Callable]:
    """Every compressor by name."""
    from . import eqnet, softbit

    out = {"none": _identity}
    out.update(softbit.compressors())
    out.update(eqnet.compressors())
    out.update(_EXTRA_COMPRESSORS)
    return out


def compressor(name: str) -> Callable:
    """The compressor called ``name``; ``KeyError`` naming the known ones otherwise."""
    if name == "none":
        return _identity
    if name in _EXTRA_COMPRESSORS:
        return _EXTRA_COMPRESSORS[name]
    if name.startswith("softbit-"):
        from . import softbit

        table = softbit.compressors()
    elif name.startswith("eqnet-"):
        from . import eqnet

        table = eqnet.compressors()
    else:
        table = {}
    if name not in table:
        raise KeyError(f"unknown compressor {name!r}; known: {sorted(compressors())}")
    return table[name]


def register_compressor(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    """Add a compressor under a new name (e.g. a variant a reproduction script studies).
    Names already known raise ``ValueError``: nothing is silently replaced."""
    if (
        name == "none"
        or name in _EXTRA_COMPRESSORS
        or (name.startswith(("softbit-", "eqnet-")) and _known_builtin(name))
    ):
        raise ValueError(f"compressor {name!r} already exists")
    _EXTRA_COMPRESSORS[name] = fn


def _known_builtin(name: str) -> bool:
    try:
        compressor(name)
        return True
    except KeyError:
        return False
