"""Hard scalar quantizers extracted from the trainable ones (numpy only).

* :func:`soft_to_hard` -- eq. (4) of paper 000 from the parameters of the sum-of-tanh soft
  quantizer of eq. (3), ``q~(x) = sum_i a_i tanh(c_i x - b_i)``.
* :func:`soft_quantizer` -- eq. (3) itself, in numpy (for tests and plots).
* :func:`passing_gradient_quantizer` -- the fixed uniform codebook of the passing-gradient method.

Thresholds/levels follow the module's kernel convention
(:class:`gnuradio.deepquant.scalar_quantizer`): ``index = searchsorted(thresholds, x, 'right')``,
so a sample equal to a threshold goes to the upper cell (eq. 4 puts it in the lower one; the
difference is a set of probability zero).
"""

from __future__ import annotations

import numpy as np

from .. import quantization as _q

__all__ = ["soft_quantizer", "soft_to_hard", "passing_gradient_quantizer", "apply_hard"]


def soft_quantizer(x, a, b, c) -> np.ndarray:
    """Eq. (3): ``sum_i a_i tanh(c_i x - b_i)`` elementwise (float64, shape of x)."""
    x = np.asarray(x, dtype=np.float64)
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    return np.tanh(x[..., None] * c - b) @ a


def soft_to_hard(a, b, c):
    """Eq. (4): the hard quantizer of a trained soft quantizer.

    Each ``tanh(c_i x - b_i)`` (c_i > 0) switches from -1 to +1 at ``x = b_i / c_i``; those points,
    sorted, are the decision thresholds.  The level of an inner cell is ``q~`` at the cell centre;
    the outer cells take the limits ``-sum a_i`` (left) and ``+sum a_i`` (right).

    Parameters
    ----------
    a, b, c : array_like, shape (M-1,)
        Amplitudes, shifts and slopes (all c_i > 0).

    Returns
    -------
    thresholds : ndarray float64 (M-1,), ascending
    levels : ndarray float64 (M,)
    """
    a, b, c = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b, c))
    if not (a.shape == b.shape == c.shape) or a.size < 1:
        raise ValueError("a, b, c must have the same length M-1 >= 1")
    if np.any(c <= 0):
        raise ValueError("soft_to_hard needs c_i > 0 (tanh(c x - b) then steps up at x = b/c)")
    t = np.sort(b / c)
    centres = 0.5 * (t[:-1] + t[1:])
    inner = soft_quantizer(centres, a, b, c) if centres.size else np.zeros(0)
    total = float(a.sum())
    levels = np.concatenate([[-total], inner, [total]])
    return t, levels


def passing_gradient_quantizer(num_levels: int, dynamic_range: float = 3.0):
    """The passing-gradient codebook: uniform mid-rise on ``[-dynamic_range, dynamic_range]``.

    Identical to ``scalar_quantizer.make_uniform(-r, r, M)`` of the kernel.
    """
    return _q.uniform_quantizer(-dynamic_range, dynamic_range, int(num_levels))


def apply_hard(x, thresholds, levels) -> np.ndarray:
    """Reference (pure numpy) hard quantizer: ``levels[searchsorted(thresholds, x, 'right')]``."""
    t = np.asarray(thresholds, dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64)
    return lv[np.searchsorted(t, np.asarray(x, dtype=np.float64), side="right")]
