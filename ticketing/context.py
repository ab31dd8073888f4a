"""What the service functions need besides the session: settings and the loaded data files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config.settings import Settings
from ticketing.classify import ClassificationRules, load_rules
from ticketing.dispatch_rules import RuleTable, load_rule_table
from ticketing.models import utcnow
from ticketing.workcalendar import WorkCalendar


@dataclass
class Domain:
    settings: Settings
    rules: RuleTable
    classification: ClassificationRules
    calendar: WorkCalendar
    tz: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.settings.timezone)

    @classmethod
    def load(cls, settings: Settings) -> Domain:
        return cls(
            settings=settings,
            rules=load_rule_table(settings.rules_file),
            classification=load_rules(settings.classification_file),
            calendar=WorkCalendar(settings.holidays_file),
        )

    @property
    def utility_window(self) -> timedelta:
        """Utilities (水电气暖) must leave the manual queue within this of the call."""
        return timedelta(seconds=self.settings.deadlines.utility_dispatch_seconds)

    def now(self) -> datetime:
        return utcnow()
