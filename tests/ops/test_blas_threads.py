"""The suite's processes run numpy's, scipy's and scikit-learn's thread pools with one
thread (tests/__init__.py): two spinning threads per process on two shared cores cost
the DTMF and VAD tests several times their own CPU (docs/suite.md, thirty-fourth round)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy  # noqa: F401  (its OpenBLAS loaded in this process, as the DTMF tests load it)
import scipy.linalg  # noqa: F401  (scipy's own OpenBLAS, which training uses)
import sklearn.linear_model  # noqa: F401  (scikit-learn's OpenMP)
from threadpoolctl import threadpool_info


def test_the_test_process_multiplies_on_one_thread() -> None:
    pools = threadpool_info()
    assert {p["internal_api"] for p in pools} >= {"openblas", "openmp"}, pools
    assert [p["num_threads"] for p in pools] == [1] * len(pools), pools


def test_a_process_a_test_starts_does_too() -> None:
    code = ("import numpy, threadpoolctl; "
            "print(sorted({p['num_threads'] for p in threadpoolctl.threadpool_info()}))")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[1]"
