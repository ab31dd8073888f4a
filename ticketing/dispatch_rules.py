"""The dispatch rule table: (category × district) → responsible unit.

Rules are data (``config/dispatch_rules.toml``). The most specific matching rule wins:
category and district both given beats category only beats district only; among equally
specific rules the first in the file wins, so a site can order exceptions first.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


def normalize_district(name: str | None) -> str | None:
    """"朝阳区" and "朝阳" name the same district; rules may be written either way."""
    return name.strip().removesuffix("区") if name else None


@dataclass(frozen=True)
class DispatchRule:
    id: str
    unit: str
    category: str | None = None
    district: str | None = None

    @property
    def specificity(self) -> int:
        return (2 if self.category else 0) + (1 if self.district else 0)

    def matches(self, category: str | None, district: str | None) -> bool:
        if self.category and self.category != category:
            return False
        return not (self.district and normalize_district(self.district)
                    != normalize_district(district))


@dataclass(frozen=True)
class RuleTable:
    rules: tuple[DispatchRule, ...]

    def match(self, category: str | None, district: str | None) -> DispatchRule | None:
        best: DispatchRule | None = None
        for rule in self.rules:
            if rule.matches(category, district) and (
                best is None or rule.specificity > best.specificity
            ):
                best = rule
        return best


class RuleFileError(ValueError):
    pass


def load_rule_table(path: Path) -> RuleTable:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RuleFileError(f"cannot read dispatch rules {path}: {exc}") from exc
    rules = []
    for i, raw in enumerate(data.get("rule", [])):
        if "unit" not in raw:
            raise RuleFileError(f"{path}: rule #{i + 1} has no unit")
        unknown = set(raw) - {"id", "unit", "category", "district"}
        if unknown:
            raise RuleFileError(f"{path}: rule #{i + 1} has unknown keys {sorted(unknown)}")
        if not raw.get("category") and not raw.get("district"):
            raise RuleFileError(
                f"{path}: rule #{i + 1} matches everything; give a category or district"
            )
        rules.append(
            DispatchRule(
                id=str(raw.get("id", f"rule-{i + 1}")),
                unit=str(raw["unit"]),
                category=raw.get("category"),
                district=raw.get("district"),
            )
        )
    return RuleTable(tuple(rules))
