"""`hotline kb`: load, save and try the knowledge base from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from config import get_settings
from hotline.written import write_whole
from knowledge.models import EntryStatus
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.inputs import InvalidInput

# knowledge.service is imported by each command: it brings the search's jieba, pypinyin and
# rank_bm25 (~0.5 CPU-s), which every other `hotline` command, and the CLI's import in each
# `hotline serve` and its API workers, paid for nothing (docs/suite.md, twenty-fifth round).
kb_app = typer.Typer(help="Knowledge base (知识库): import, export, search")


@kb_app.command("import")
def kb_import(
    file: Path,
    draft: Annotated[bool, typer.Option(help="new entries as drafts, not published")] = False,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="only into a knowledge base that has never had an entry")] = False,
) -> None:
    """Load entries from TSV (id, category, title, answer, keywords, valid_until); ids are
    kept, known ids get a new version when their content differs."""
    from hotline.cli import _cli_actor, _sessions, console
    from knowledge import service

    try:
        with transaction(_sessions()) as session:
            # scripts/run.sh seeds the sample this way on a first start: entries an editor
            # retired, or a base emptied on purpose, are never brought back.
            if if_empty and service.has_entries(session=session):
                console.print("the knowledge base has entries: nothing imported")
                return
            result = service.import_tsv(
                session=session, actor=_cli_actor(), text=file.read_text(encoding="utf-8"),
                status=EntryStatus.DRAFT if draft else EntryStatus.PUBLISHED)
    except InvalidInput as exc:
        console.print(f"[red]{file}: {exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"{len(result.created)} created, {len(result.updated)} updated, "
                  f"{len(result.unchanged)} unchanged")


@kb_app.command("export")
def kb_export(file: Path) -> None:
    """Write every entry as TSV (the import's columns, then synonyms, valid_from, unit,
    status), which imports back into the same entries."""
    from hotline.cli import _sessions, console
    from knowledge import service

    with transaction(_sessions()) as session:
        body = service.export_tsv(session=session)
    write_whole(file, [body])  # no half a file left on a full disk (review65)
    console.print(f"wrote {body.count(chr(10)) - 1} entries to {file}")


@kb_app.command("search")
def kb_search(
    text: str,
    category: Annotated[str | None, typer.Option(help="the caller's category, if known")] = None,
    limit: int = 5,
) -> None:
    """Show the entries that best match TEXT with their scores, and whether one answers."""
    from hotline.cli import _sessions, console
    from knowledge import service

    domain = Domain.load(get_settings())
    with transaction(_sessions()) as session:
        r = service.search(session=session, text=text, today=service.today(domain),
                           category=category, limit=limit)
    table = Table("id", "title", "category", "score", "confidence")
    for h in r.hits:
        table.add_row(h.id, h.title, h.category, f"{h.score:.3f}", f"{h.confidence:.3f}")
    console.print(table)
    kind = "question" if r.question else "not a question"
    if r.answer:
        console.print(f"answer: {r.answer.id} ({kind}, confidence {r.answer.confidence:.3f} "
                      f">= {r.threshold})")
    else:
        console.print(f"no entry answers ({kind}, threshold {r.threshold})")
