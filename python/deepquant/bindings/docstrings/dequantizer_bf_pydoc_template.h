/*
 * Copyright 2026 Free Software Foundation, Inc.
 *
 * This file is part of GNU Radio
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 */
#include "pydoc_macros.h"
#define D(...) DOC(gr, deepquant, __VA_ARGS__)
/*
  This file contains placeholders for docstrings for the Python bindings.
  Do not edit! These were automatically extracted during the binding process
  and will be overwritten during the build process
 */



 static const char *__doc_gr_deepquant_dequantizer_bf = R"doc()doc";


 static const char *__doc_gr_deepquant_dequantizer_bf_dequantizer_bf_0 = R"doc()doc";


 static const char *__doc_gr_deepquant_dequantizer_bf_dequantizer_bf_1 = R"doc()doc";


 static const char *__doc_gr_deepquant_dequantizer_bf_make = R"doc()doc";


 static const char *__doc_gr_deepquant_dequantizer_bf_set_levels = R"doc()doc";


 static const char *__doc_gr_deepquant_dequantizer_bf_levels = R"doc()doc";


 static const char *__doc_gr_deepquant_dequantizer_bf_invalid_count = R"doc()doc";

  
