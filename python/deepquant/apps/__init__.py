"""Command-line front ends of the module (``deepquant demo``, ``deepquant bench ...``): they
print tables and ``RESULT {json}`` lines for a person at a terminal. The numeric and block code
they drive lives in the library packages, which log instead of printing."""
