"""pytest plugin: the shipped intake model read from another directory, to see which tests a
retraining breaks before anyone commits the rebuilt model (docs/classification.md, "Tests
and the model")::

    PYTHONPATH=$PWD .venv/bin/python -m hotline classify ship --folds 0 --directory /tmp/m
    HOTLINE_TEST_MODEL_DIR=/tmp/m PYTHONPATH=$PWD .venv/bin/python -m pytest \\
        -p tests.support.shipped_model tests/ticketing ...

Without the variable it changes nothing. Only this process and its xdist workers (which
load the same plugins) see it; a `hotline serve` a test starts reads the committed model.
"""

from __future__ import annotations

import os
from pathlib import Path

import ticketing.intake_model as intake_model

_DIRECTORY = os.environ.get("HOTLINE_TEST_MODEL_DIR")
if _DIRECTORY:
    # The directory is ModelStore's default argument, bound when the class was defined:
    # every store (the domain's, the CLI's, bench's) is built with it, so it is replaced
    # there as well as in the module's name.
    intake_model.SHIPPED_DIR = Path(_DIRECTORY).resolve()
    intake_model.ModelStore.__init__.__defaults__ = (intake_model.SHIPPED_DIR,)
