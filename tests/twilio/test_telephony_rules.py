"""Rules of the shared Twilio pieces that need no call: the telephony package's imports,
and which recording URLs count as Twilio's API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ivr.twilio.fetch import origin

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"ticketing", "asr", "ivr", "outbound", "hotline", "config", "telephony", "knowledge"}


def _project_imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found & PROJECT


def test_telephony_imports_only_config() -> None:
    # ivr and outbound both use it: it must not reach back into them or the core.
    assert _project_imports("telephony") <= {"config", "telephony"}
    assert "telephony" not in _project_imports("ticketing")


@pytest.mark.parametrize(("url", "same"), [
    ("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", True),
    ("https://API.twilio.com:443/2010-04-01/Accounts/AC1/Recordings/RE1", True),
    ("http://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", False),
    ("https://api.twilio.com:8443/x", False),
    ("https://api.twilio.com.evil.example/x", False),
    ("https://api.twilio.com@evil.example/x", False),
    ("ftp://api.twilio.com/x", False),
    ("https://api.twilio.com:notaport/x", False),
    ("/2010-04-01/Accounts/AC1/Recordings/RE1", False),
])
def test_only_the_api_origin_is_twilio(url: str, same: bool) -> None:
    api = origin("https://api.twilio.com")
    assert api == ("https", "api.twilio.com", 443)
    assert (origin(url) == api) is same
