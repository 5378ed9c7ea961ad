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



 static const char *__doc_gr_deepquant_adc_cc = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_adc_cc_0 = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_adc_cc_1 = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_make = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_make_nonuniform = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_set_bits = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_set_full_scale = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_set_gain = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_set_thresholds = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_bits = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_full_scale = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_gain = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_thresholds = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_levels = R"doc()doc";


 static const char *__doc_gr_deepquant_adc_cc_nan_count = R"doc()doc";

  
