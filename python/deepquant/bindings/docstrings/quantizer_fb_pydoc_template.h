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



 static const char *__doc_gr_deepquant_quantizer_fb = R"doc()doc";


 static const char *__doc_gr_deepquant_quantizer_fb_quantizer_fb_0 = R"doc()doc";


 static const char *__doc_gr_deepquant_quantizer_fb_quantizer_fb_1 = R"doc()doc";


 static const char *__doc_gr_deepquant_quantizer_fb_make = R"doc()doc";


 static const char *__doc_gr_deepquant_quantizer_fb_set_thresholds = R"doc()doc";


 static const char *__doc_gr_deepquant_quantizer_fb_thresholds = R"doc()doc";


 static const char *__doc_gr_deepquant_quantizer_fb_nan_count = R"doc()doc";

  
