"""Safe reading of the module's model files (safetensors: no code is ever executed).

Every loader (soft-bit codecs, channel estimators, SLP-DNet, EQ-Net) reads through
:func:`read_safetensors` and runs its own parsing inside :func:`naming`, so any bad file --
missing, truncated, foreign, non-finite weights, metadata of the wrong type, an architecture
larger than the file's weights -- raises ``ValueError`` (:class:`ModelFileError`) naming the
file and the problem, never a bare ``KeyError``/``SafetensorError``/``OSError`` and never an
allocation sized by metadata alone.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

#: an architecture described by a file's metadata may have at most this many parameters per byte
#: of the file (bit-packed binary weights store 8 per byte) plus MIN_PARAMS: a crafted width in
#: the metadata cannot make a loader allocate more than the file justifies
PARAMS_PER_BYTE = 8
MIN_PARAMS = 1 << 16


class ModelFileError(ValueError):
    """A model file that cannot be used (the message names the file and the problem)."""


def read_safetensors(path, kind: str, framework: str = "numpy", allow_nonfinite=()):
    """-> (metadata dict of str, tensors dict) of ``path``; ModelFileError if it is missing,
    unreadable (truncated, not safetensors) or holds a non-finite float value (except in tensors
    named in ``allow_nonfinite``)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{kind} model file {path} does not exist")
    try:
        with safe_open(str(path), framework=framework) as f:
            md = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise ModelFileError(
            f"{kind} model file {path} is not a readable safetensors file ({type(e).__name__}: {e})"
        ) from None
    for k, v in tensors.items():
        if k in allow_nonfinite:
            continue
        a = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            raise ModelFileError(f"{kind} model file {path}: tensor {k!r} holds non-finite values (NaN/inf)")
    return md, tensors


def json_meta(md: dict, key: str, path, kind: str) -> dict:
    """The JSON object stored under metadata ``key``; ModelFileError if absent or malformed."""
    if key not in md:
        raise ModelFileError(f"{kind} model file {path} has no {key!r} metadata: not a {kind} model file")
    try:
        meta = json.loads(md[key])
    except ValueError as e:
        raise ModelFileError(f"{kind} model file {path}: metadata {key!r} is not JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{kind} model file {path}: metadata {key!r} is not a JSON object")
    return meta


def check_param_budget(n_params: int, path, kind: str) -> None:
    """Refuse an architecture (from metadata) with more parameters than the file can justify."""
    size = Path(path).stat().st_size
    limit = PARAMS_PER_BYTE * size + MIN_PARAMS
    if n_params > limit:
        raise ModelFileError(
            f"{kind} model file {path}: its metadata describes {n_params} parameters, more than a "
            f"{size}-byte file can hold (crafted or corrupt metadata)"
        )


def meta_param_count(build) -> int:
    """Parameters of the torch module ``build()`` makes, counted without allocating its storage
    (built on torch's 'meta' device)."""
    import torch

    with torch.device("meta"):
        net = build()
    return sum(int(p.numel()) for p in net.state_dict().values())


@contextlib.contextmanager
def naming(path, kind: str):
    """Turn any error of a loader's parsing into ModelFileError naming ``path`` and the problem."""
    try:
        yield
    except ModelFileError:
        raise
    except ValueError as e:
        msg = str(e)
        raise ModelFileError(msg if str(path) in msg else f"{kind} model file {path}: {msg}") from None
    except (
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        RuntimeError,
        OSError,
        OverflowError,
        MemoryError,
        AssertionError,
    ) as e:
        raise ModelFileError(f"{kind} model file {path}: unusable contents ({type(e).__name__}: {e})") from None
