"""What the service functions need besides the session: settings and the loaded data files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from config.settings import Settings
from ticketing.classify import ClassificationRules, load_rules
from ticketing.dispatch_rules import RuleTable, load_rule_table
from ticketing.intake_model import IntakeModel, Understanding, store_for, understand
from ticketing.models import utcnow
from ticketing.places import Gazetteer, Place, gazetteer_for, locate
from ticketing.respondent import extract, rules_for
from ticketing.substance import Substance, load_substance
from ticketing.workcalendar import WorkCalendar

log = logging.getLogger(__name__)
T = TypeVar("T")


class DataFileError(ValueError):
    """A data file of config/ that cannot be read, named with why."""


def _read(path: Path, load: Callable[[], T]) -> T:
    try:
        return load()
    except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        said = str(exc)
        raise DataFileError(said if str(path) in said else f"{path}: {said}") from exc


def read_data_files(settings: Settings) -> tuple[RuleTable, ClassificationRules, WorkCalendar]:
    """Every data file a ticket's creation reads (dispatch rules, classification, gazetteer,
    反映主体, "says too little", holidays), read now: a broken one must stop the start and
    fail `hotline doctor`, not every ticket's creation. A broken gazetteer was read first
    at the first ticket: the service started, /healthz said ok, and every filing was a
    500 with a traceback (trial, twenty-fourth round)."""
    rules = _read(settings.rules_file, lambda: load_rule_table(settings.rules_file))
    classification = _read(settings.classification_file,
                           lambda: load_rules(settings.classification_file))
    _read(settings.gazetteer_file,
          lambda: gazetteer_for(classification.districts, settings.gazetteer_file))
    _read(settings.respondent_file, lambda: rules_for(settings.respondent_file))
    _read(settings.too_little_file, lambda: load_substance(settings.too_little_file))
    calendar = _read(settings.holidays_file, lambda: WorkCalendar(settings.holidays_file))
    return rules, classification, calendar


@dataclass
class Domain:
    settings: Settings
    rules: RuleTable
    classification: ClassificationRules
    calendar: WorkCalendar
    model: IntakeModel | None = None  # None: classification by the rules alone
    tz: ZoneInfo = field(init=False)
    substance: Substance = field(init=False)  # what "says too little" is (held tickets)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.settings.timezone)
        # Read now: a broken file must stop the start, not every ticket's creation.
        self.substance = load_substance(self.settings.too_little_file)

    @classmethod
    def load(cls, settings: Settings) -> Domain:
        rules, classification, calendar = read_data_files(settings)
        return cls(settings=settings, rules=rules, classification=classification,
                   calendar=calendar, model=load_model(settings))

    @property
    def gazetteer(self) -> Gazetteer:
        """Streets and communities of the classifier's districts (config/gazetteer.toml)."""
        return gazetteer_for(self.classification.districts, self.settings.gazetteer_file)

    def locate(self, text: str, district: str | None) -> Place:
        return locate(text, self.gazetteer, district)

    def respondent(self, text: str) -> str | None:
        """反映主体 the words name (config/respondent.toml), None when they name none."""
        return extract(text, rules_for(self.settings.respondent_file))

    @property
    def utility_window(self) -> timedelta:
        """Utilities (水电气暖) must leave the manual queue within this of the call."""
        return timedelta(seconds=self.settings.deadlines.utility_dispatch_seconds)

    @property
    def confirm_window(self) -> timedelta:
        """A ticket held for the operator is overdue for confirmation this long after the
        call (docs/classification.md, "Says too little")."""
        return timedelta(seconds=self.settings.deadlines.confirm_held_seconds)

    def understand(self, text: str) -> Understanding:
        """Category, urgency, kind, emergency, place of one text (model + rules floor)."""
        return understand(text, self.classification, self.model,
                          confirm_below=self.settings.classification_confirm_below,
                          substance=self.substance)

    def now(self) -> datetime:
        return utcnow()


def load_model(settings: Settings) -> IntakeModel | None:
    """The current trained intake model, or None (rules alone) if none or unreadable.

    An unreadable model must not stop the hotline answering calls: the rules still
    classify, and the error is logged for the operator to retrain.
    """
    store = store_for(settings.data_dir)
    try:
        model = store.load_current()
    except Exception:
        log.exception("intake model in %s unreadable; classifying by rules alone",
                      store.directory)
        return None
    if model is not None:
        log.info("intake model version %s loaded (%s texts, data sha256 %.12s)",
                 model.info.get("version"), model.info.get("rows"),
                 model.info.get("data_sha256"))
    return model
