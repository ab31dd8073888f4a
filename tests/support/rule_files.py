"""The shipped classification rule file as text, and a rule file edited from it, loaded."""

from __future__ import annotations

from pathlib import Path

from ticketing.classify import ClassificationRules, load_rules


def shipped_rule_text() -> str:
    """config/classification.toml (the settings' rule file) as written."""
    return Path(load_rules().source or "").read_text(encoding="utf-8")


def load_rule_text(tmp_path: Path, text: str) -> ClassificationRules:
    """``text`` loaded as a city's own rule file (the load's checks run on it)."""
    path = tmp_path / "classification.toml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path)
