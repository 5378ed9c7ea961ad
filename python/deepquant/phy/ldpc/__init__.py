#
# Copyright 2026 gr-deepquant authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""IEEE 802.11n (648, 324) rate-1/2 LDPC code: parity-check matrix, systematic encoder, alist
files, and belief-propagation decoding (GNU Radio's decoder, and a torch one).

Every name is importable from here (``from gnuradio.deepquant.phy import ldpc; ldpc.encode(...)``);
the parts live in

* :mod:`.code` -- sizes ``N, K, M, Z``, the base matrix (package data), the parity-check
  matrix, syndromes;
* :mod:`.encoder` -- the standard's dual-diagonal systematic encoder (numpy or torch);
* :mod:`.alist` -- alist files as GNU Radio's ``fec`` reads them;
* :mod:`.gr_decoder` -- GNU Radio's ``fec.ldpc_decoder`` set up for this code (column order,
  LLR clipping), imported only when a decoder is built;
* :mod:`.bp` -- the batched flooding sum-product decoder in torch;
* :mod:`.batch` -- many codewords at once, in worker processes or with torch.

Conventions
-----------
* Codeword bit order is the standard's: ``c = [s_0 .. s_323 | p_0 .. p_323]`` (information bits
  first, then the 324 parity bits), so ``c[..., :K]`` is the message.
* Bits are ``uint8`` 0/1.  LLRs follow the module convention ``L = ln P(b=1|y) / P(b=0|y)``
  (positive means bit 1), ``float32``, one per codeword bit in the standard order.
* Circulant ``P^s`` (Z x Z, ``s >= 0``): row ``r`` has its single 1 in column ``(r + s) mod Z``
  (IEEE Std 802.11-2020, §19.3.11.7 and Annex F).
"""

from .alist import read_alist, write_alist
from .batch import decode_batch, shutdown_decoder_pools
from .bp import LLR_CLIP, bp_decode_torch
from .code import K, M, N, Z, base_matrix, expand_base_matrix, is_codeword, parity_check_matrix, syndrome
from .encoder import encode
from .gr_decoder import (
    GR_COLUMN_ORDER,
    GR_LLR_CLIP,
    GR_ZERO_LLR,
    GrLdpcDecoder,
    from_gr_order,
    gr_alist_path,
    make_gr_ldpc_decoder,
    prepare_gr_llr,
    to_gr_order,
)

__all__ = [
    "N",
    "K",
    "Z",
    "M",
    "GR_COLUMN_ORDER",
    "LLR_CLIP",
    "GR_LLR_CLIP",
    "GR_ZERO_LLR",
    "prepare_gr_llr",
    "base_matrix",
    "expand_base_matrix",
    "parity_check_matrix",
    "encode",
    "syndrome",
    "is_codeword",
    "write_alist",
    "read_alist",
    "to_gr_order",
    "from_gr_order",
    "gr_alist_path",
    "GrLdpcDecoder",
    "make_gr_ldpc_decoder",
    "decode_batch",
    "bp_decode_torch",
    "shutdown_decoder_pools",
]
