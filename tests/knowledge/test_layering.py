"""The knowledge base sits beside the core: it uses ticketing, no telephony, and the core
never reaches back into it."""

from __future__ import annotations

from tests.twilio.test_telephony_rules import _project_imports


def test_knowledge_uses_the_core_and_nothing_telephony() -> None:
    assert _project_imports("knowledge") <= {"ticketing", "config", "knowledge"}
    assert "knowledge" not in _project_imports("ticketing")
