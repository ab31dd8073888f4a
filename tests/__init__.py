"""Test packages; this file makes pytest name them tests.<area> (tests/outbound would
otherwise be imported as a top-level ``outbound`` and shadow the real package).

It is also the first of the project's code a test process runs (before any conftest), so
the suite's one setting that must come before numpy is loaded lives here: the BLAS and
OpenMP libraries (numpy's and scipy's OpenBLAS, scikit-learn's OpenMP) run one thread per
process. By default each starts one thread per core and its threads spin while they wait
for work: six xdist workers on two cores, each multiplying small matrices (the DTMF
detector's windows, the VAD's fax-tone check on every loud frame, a training's gradients),
spent most of that CPU spinning. test_dtmf's alignment sweep, 30 cases in one process:
0.29-0.35 CPU-s and 0.55-0.98 s of wall with two threads, 0.05-0.06 with one; tests/telephony,
``-n 0``: 21.2 / 18.6 -> 12.8 / 12.8 CPU-s (docs/suite.md, thirty-fourth round). Every
process a test starts (``hotline serve``, worker processes) inherits it; a value already
set in the environment is kept."""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
