"""The SIP front end's tests run against real peers: the fixtures are in
tests/support/sipkit.py, shared with tests/ivr, and tests/support/lines.py."""

from __future__ import annotations

from tests.support.lines import shipped  # noqa: F401 (a fixture)
from tests.support.sipkit import (  # noqa: F401 (fixtures and the missing-tools hook)
    audio,
    kamailio,
    make_frontend,
    pytest_collection_modifyitems,
    sipp_dir,
    sipps,
)
