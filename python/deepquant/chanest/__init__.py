"""Task-based quantized MIMO channel estimation (paper 000: Shohat, Tsintsadze, Shlezinger & Eldar,
"Deep quantization for MIMO channel estimation").

A BS with n_t antennas estimates the channels of n_u single-antenna users from tau_p orthogonal
pilots through p identical scalar ADCs of M levels: learned analog combiner -> ADCs (learned
thresholds, soft-to-hard eq. 3/4, or a fixed uniform codebook trained with a passing gradient)
-> digital estimator; compared against the MMSE, the rate-distortion bound (eq. 7), the
scalar-ADC (Lloyd-Max) limit, the hardware-limited task-based quantizer of Shlezinger-Eldar-
Rodrigues and task-ignorant uniform ADCs + LMMSE / BLMMSE.

Sub-modules (numpy-only unless noted; none imports GNU Radio's runtime):

* :mod:`.system` -- the pilot model, real stacking, sampling, layout helpers.
* :mod:`.bounds` -- closed-form / numerically integrated limits and baselines.
* :mod:`.hard` -- eq. (3)/(4) in numpy, the passing-gradient codebook.
* :mod:`.estimators` -- numpy-callable estimators (inference through the C++ kernel), shipped
  model registry.
* :mod:`.models`, :mod:`.train` -- torch models, training, saving (torch imported on use).
* :mod:`.experiment` -- the Fig. 4 reproduction.
* :mod:`.cli` -- ``deepquant train chanest``.

The names below are imported on first use, so ``import gnuradio.deepquant.chanest`` is cheap.
"""

import importlib

_LAZY = {
    "ChannelSetup": "system",
    "ChannelEstimator": "estimators",
    "TBQEstimator": "estimators",
    "MMSEEstimator": "estimators",
    "UniformADCEstimator": "estimators",
    "HardwareLimitedEstimator": "estimators",
    "make_estimator": "estimators",
    "find_shipped_model": "estimators",
    "list_shipped_models": "estimators",
    "TrainConfig": "train",
    "save_model": "train",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        obj = getattr(importlib.import_module("." + _LAZY[name], __name__), name)
        globals()[name] = obj
        return obj
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
