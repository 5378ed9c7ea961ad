"""EQ-Net model files: safetensors (no pickle) with a versioned JSON header in the metadata.

One file holds one configuration (Nr, Nt, K): f_Q, g, optionally f_E, and the per-dimension
k-means++ latent codebooks for 5 and 6 bits.  Tensors: ``f_q.*``, ``g.*``, ``f_e.*`` (torch
state-dict names) and ``codebook.b<bits>`` float32 [D, 2^bits] (D latent dimensions, 3 Nt unless the arch says) (sorted centroids per latent
dimension).  Metadata key ``deepquant`` = JSON ``{"format": "deepquant-eqnet", "version": 1,
"nr", "nt", "k", "variant", "arch": {...}, "config": {...}, ...}``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch

FORMAT, VERSION = "deepquant-eqnet", 1

#: shipped models: (nr, nt, K, variant) -> file stem inside gnuradio/deepquant/models/eqnet
SHIPPED = {
    (2, 2, 6, "l"): "eqnet-l-2x2-64qam",
    (2, 2, 6, "p"): "eqnet-p-2x2-64qam",
    (4, 4, 4, "l"): "eqnet-l-4x4-16qam",
    (4, 4, 4, "p"): "eqnet-p-4x4-16qam",
}


from ..modelfile import ModelFileError  # noqa: E402,F401 - re-exported: EQ-Net's loader error


def shipped_dir() -> Path:
    from importlib import resources

    return Path(str(resources.files("gnuradio.deepquant") / "models" / "eqnet"))


def shipped_path(nr: int, nt: int, k: int, variant: str) -> Path:
    key = (int(nr), int(nt), int(k), variant)
    if key not in SHIPPED:
        have = ", ".join(f"{a}x{b} K={c} EQ-Net-{v.upper()}" for a, b, c, v in SHIPPED)
        raise ModelFileError(
            f"no shipped EQ-Net-{variant.upper()} model for {nr}x{nt} with {k} bits per symbol (shipped: {have}); "
            f"train one with `deepquant train eqnet --config FILE` and pass its file as model=..."
        )
    return shipped_dir() / f"{SHIPPED[key]}.safetensors"


def save(path, net, codebooks: dict, meta: dict) -> Path:
    """Write ``net`` (an :class:`.models.EQNet`), codebooks {bits: [D, 2^bits]} and metadata."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    for bits, cb in codebooks.items():
        tensors[f"codebook.b{int(bits)}"] = torch.as_tensor(np.asarray(cb, np.float32)).contiguous()
    h = hashlib.sha256()
    for k in sorted(tensors):
        h.update(k.encode())
        h.update(tensors[k].numpy().tobytes())
    meta = dict(meta, format=FORMAT, version=VERSION, model_id=h.hexdigest()[:16])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"deepquant": json.dumps(meta)})
    return path


def read(path) -> Tuple[dict, dict]:
    """(tensors, meta) of a model file; raises ModelFileError with a reason and a fix."""
    from ..modelfile import json_meta, read_safetensors

    path = Path(path)
    md, tensors = read_safetensors(path, "EQ-Net", framework="pt")
    meta = json_meta(md, "deepquant", path, "EQ-Net")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is a {meta.get('format')!r} file, not an EQ-Net model ({FORMAT!r})")
    if meta.get("version") != VERSION:
        raise ModelFileError(
            f"{path} has EQ-Net format version {meta.get('version')}, this module reads "
            f"version {VERSION}: retrain it or use a matching gr-deepquant"
        )
    return tensors, meta


def load(
    path, expect: Optional[Tuple[int, int, int]] = None, need_estimator: bool = False, variant: Optional[str] = None
):
    """Load a model file into an :class:`.models.EQNet` (eval mode) and its codebooks.

    Parameters
    ----------
    expect : (nr, nt, K), optional
        The configuration the caller is wired for; a mismatch raises ModelFileError naming both.
    need_estimator : bool
        Raise if the file has no estimation encoder f_E (a stage-1-only model).
    variant : {'l', 'p'}, optional
        The EQ-Net variant the caller asked for (EQ-Net-L / EQ-Net-P); a file of the other
        variant raises ModelFileError.

    Any bad file (missing, truncated, foreign, NaN weights, metadata of the wrong type or
    describing a network larger than the file) raises ModelFileError naming the file.
    """
    from ..modelfile import naming

    with naming(path, "EQ-Net"):
        return _load(path, expect, need_estimator, variant)


def _load(path, expect, need_estimator, variant):
    from ..modelfile import check_param_budget, meta_param_count
    from .models import EQNet

    tensors, meta = read(path)
    cfg = (int(meta["nr"]), int(meta["nt"]), int(meta["k"]))
    if variant is not None and meta.get("variant") != variant:
        raise ModelFileError(
            f"EQ-Net model {path} is an EQ-Net-{str(meta.get('variant')).upper()} model, but "
            f"EQ-Net-{variant.upper()} (method eqnet_{variant}) was asked for; pass it with the "
            f"method eqnet_{meta.get('variant')} or give an EQ-Net-{variant.upper()} file"
        )
    if expect is not None and tuple(int(v) for v in expect) != cfg:
        raise ModelFileError(
            f"EQ-Net model {path} is for {cfg[0]}x{cfg[1]} with {cfg[2]} bits per symbol, but "
            f"the block is configured for {expect[0]}x{expect[1]} with {expect[2]} bits per symbol"
        )
    has_fe = any(k.startswith("f_e.") for k in tensors)
    if need_estimator and not has_fe:
        raise ModelFileError(
            f"EQ-Net model {path} has no estimation encoder (stage 2 not trained): it can quantize LLRs but not detect"
        )
    arch = meta["arch"]
    if not isinstance(arch, dict):
        raise ModelFileError(f"EQ-Net model {path}: 'arch' metadata is not an object")
    check_param_budget(meta_param_count(lambda: EQNet(*cfg, **arch, with_estimator=has_fe)), path, "EQ-Net")
    net = EQNet(*cfg, **arch, with_estimator=has_fe)
    state = {k: v for k, v in tensors.items() if not k.startswith("codebook.")}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelFileError(f"EQ-Net model {path}: weights do not match its declared architecture ({e})") from None
    net.eval()
    codebooks = {int(k[len("codebook.b") :]): v.numpy() for k, v in tensors.items() if k.startswith("codebook.b")}
    for b, cb in codebooks.items():
        if cb.shape != (net.latent_dim, 2**b) or not np.all(np.diff(cb, axis=1) > 0):
            raise ModelFileError(
                f"EQ-Net model {path}: codebook for {b} bits has shape {cb.shape} or is not "
                f"strictly increasing (expected ({net.latent_dim}, {2**b}))"
            )
    return net, codebooks, meta
