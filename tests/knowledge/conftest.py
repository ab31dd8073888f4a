"""The shared sample entries (shared/kb/faq.tsv) indexed as the service would, for the
retrieval tests."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from knowledge.objects import OBJECTS_FILE, Objects, load_objects
from knowledge.search import Doc, Index, normalise
from tests.conftest import SHARED


@pytest.fixture(scope="session")
def index() -> Index:
    with (SHARED / "kb" / "faq.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return Index(Doc(id=r["id"], title=r["title"], category=r["category"], answer=r["answer"],
                     keywords=tuple(r["keywords"].split(",")),
                     valid_until=date.fromisoformat(r["valid_until"]) if r["valid_until"]
                     else None) for r in rows)


@pytest.fixture(scope="session")
def objects() -> Objects:
    """The shipped object families (config/kb_objects.toml), read as the search reads them."""
    return load_objects(OBJECTS_FILE, normalise)
