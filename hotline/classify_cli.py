"""`hotline classify train|eval|status`: the learned intake classifier from the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from config import get_settings
from ticketing.classify import load_rules
from ticketing.context import load_model
from ticketing.intake_eval import FieldReport, cross_validate, evaluate, predict_all
from ticketing.intake_model import (
    ROOT,
    SHIPPED_DIR,
    IntakeModel,
    LabelledText,
    describe_in_use,
    read_labelled,
    ship,
    shipped_sources,
    store_for,
    understand,
)

app = typer.Typer(help="Intake classifier: train, evaluate, show the current model",
                  no_args_is_help=True)
# Confusion matrices of 15 categories need more than the 80 columns Rich assumes in a pipe.
console = Console(width=None if Console().is_terminal else 180)


def _rows(files: list[Path]) -> list[LabelledText]:
    rows: list[LabelledText] = []
    for path in files:
        try:
            rows.extend(read_labelled(path))
        except (OSError, ValueError) as exc:
            console.print(f"[red]{path}: {exc}[/red]")
            raise typer.Exit(2) from exc
    return rows


def _corrections() -> list[LabelledText]:
    from hotline.cli import _sessions
    from ticketing.db import transaction
    from ticketing.service import reviewed_classifications

    with transaction(_sessions()) as session:
        reviewed = reviewed_classifications(session=session)
    return [LabelledText(text=text, labels=labels) for text, labels in reviewed]


@app.command("train")
def train(
    files: Annotated[list[Path] | None, typer.Argument(
        help="labelled TSV files (text, category, urgency, district[, kind, emergency])")] = None,
    from_corrections: Annotated[bool, typer.Option(
        "--from-corrections",
        help="also learn from every classification an operator confirmed or corrected")] = False,
    folds: Annotated[int, typer.Option(
        help="cross-validation folds for the stored metrics (0: none)")] = 5,
) -> None:
    """Train a model, store it as a new version under the data directory and make it
    current (the service loads it at start-up)."""
    settings = get_settings()
    rows = _rows(files or [])
    sources = [str(p) for p in files or []]
    if from_corrections:
        reviewed = _corrections()
        console.print(f"{len(reviewed)} reviewed ticket(s) from the database")
        rows.extend(reviewed)
        sources.append("corrections")
    if not rows:
        console.print("[red]nothing to train on: give a TSV file or --from-corrections[/red]")
        raise typer.Exit(2)
    rules = load_rules(settings.classification_file)
    metrics: dict[str, Any] = {}
    if folds >= 2 and len(rows) >= folds * 2:
        metrics = cross_validate(rows, rules, folds=folds,
                                 confirm_below=settings.classification_confirm_below)["summary"]
    model = IntakeModel.train(rows, rules)
    info = store_for(settings.data_dir).save(model, metrics=metrics, sources=sources)
    console.print(f"model version {info['version']} ({info['file']}) trained on {len(rows)} "
                  f"texts, fields {', '.join(info['fields'])}; data sha256 "
                  f"{info['data_sha256'][:12]}")
    if metrics:
        console.print(_summary_table(f"{folds}-fold cross-validation", metrics))


@app.command("eval")
def eval_(
    file: Annotated[Path, typer.Argument(help="labelled TSV file")],
    degraded: Annotated[bool, typer.Option(
        help="also score the same texts written like recogniser output and show the drop")
    ] = True,
    rules_only: Annotated[bool, typer.Option(
        "--rules-only", help="score the rules alone, ignoring any trained model")] = False,
    cv: Annotated[int, typer.Option(
        help="instead of the current model, k-fold cross-validate a model on FILE itself")
    ] = 0,
) -> None:
    """Accuracy per field, per-class precision/recall, urgent and emergency recall,
    confusion matrices, on FILE with the current model (or the rules alone)."""
    from ticketing.degrade import degrade

    settings = get_settings()
    rows = _rows([file])
    rules = load_rules(settings.classification_file)
    threshold = settings.classification_confirm_below
    if cv:
        clean = cross_validate(rows, rules, folds=cv, confirm_below=threshold)
        noisy = (cross_validate(rows, rules, folds=cv, confirm_below=threshold,
                                transform=degrade) if degraded else None)
        what = f"{cv}-fold cross-validation on {file}"
    else:
        model = None if rules_only else load_model(settings)
        what = describe_in_use(model.info) if model else "rules alone"

        def predict(text: str) -> Any:
            return understand(text, rules, model, confirm_below=threshold)

        clean = evaluate(rows, predict_all(rows, predict))
        noisy = evaluate(rows, predict_all(rows, predict, degrade)) if degraded else None
    console.print(f"[bold]{file}[/bold]: {len(rows)} texts, {what}")
    for report in clean["fields"].values():
        _print_field(report)
    console.print(_summary_table("clean text", clean["summary"],
                                 noisy["summary"] if noisy else None))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}"
    return str(value)


def _summary_table(title: str, clean: dict[str, Any],
                   noisy: dict[str, Any] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("clean")
    if noisy is not None:
        table.add_column("recogniser-style")
        table.add_column("drop (points)")
    for key, value in clean.items():
        row = [key, _fmt(value)]
        if noisy is not None:
            other = noisy.get(key)
            row.append(_fmt(other))
            drop = (f"{(value - other) * 100:+.1f}" if isinstance(value, float)
                    and isinstance(other, float) and not key.endswith("_total") else "")
            row.append(drop)
        table.add_row(*row)
    return table


def _print_field(report: FieldReport) -> None:
    table = Table(title=f"{report.name}: accuracy {report.accuracy:.1%} of {report.n}")
    for col in ("class", "precision", "recall", "support"):
        table.add_column(col)
    for label, (precision, recall, support) in report.per_class.items():
        table.add_row(label or "(none)", f"{precision:.0%}", f"{recall:.0%}", str(support))
    console.print(table)
    labels = list(report.per_class)
    if report.name == "district":
        return  # a gazetteer look-up: the per-class table says where it fails
    matrix = Table(title=f"{report.name} confusion (row: labelled, column: predicted)")
    matrix.add_column("")
    for label in labels:
        matrix.add_column(label[:5] or "-", justify="right")
    for want in labels:
        matrix.add_row(want or "-", *(str(report.confusion.get((want, got), "") or "")
                                      for got in labels))
    console.print(matrix)


@app.command("status")
def status() -> None:
    """Which classifier the service uses (the city's trained model, the shipped model, or
    the rules alone), with its training data hash and metrics."""
    info = store_for(get_settings().data_dir).current_info()
    console.print(f"in use: {describe_in_use(info)}")
    if info is None:
        return
    console.print(f"file sha256 {info.get('sha256')}; trained on {info.get('rows')} texts from "
                  f"{', '.join(info.get('sources') or ['?'])}"
                  + (f" at {info['trained_at']}" if info.get("trained_at") else ""))
    if info.get("metrics"):
        console.print(_summary_table("metrics at training", info["metrics"]))


@app.command("ship")
def ship_(
    folds: Annotated[int, typer.Option(
        help="cross-validation folds for the metrics in the manifest (0: none)")] = 5,
    directory: Annotated[Path, typer.Option(
        help="where to write the shipped model")] = SHIPPED_DIR,
) -> None:
    """Train the model that ships with the repository (data/intake/model/) on its training
    sources (``shipped_sources``: the committed labelled files and the shared corpus beside
    the checkout). Deterministic: the same data gives the same model."""
    settings = get_settings()
    files = [p for p in shipped_sources() if p.exists()]
    rows = _rows(files)
    rules = load_rules(settings.classification_file)
    metrics: dict[str, Any] = {}
    if folds >= 2:
        metrics = cross_validate(rows, rules, folds=folds,
                                 confirm_below=settings.classification_confirm_below)["summary"]
    # Relative to the repository ("../shared/corpus/..."), so the manifest is the same in
    # every checkout.
    sources = [os.path.relpath(p, ROOT) for p in files]
    info = ship(IntakeModel.train(rows, rules), directory=directory, metrics=metrics,
                sources=sources)
    console.print(f"shipped model {info['path']} ({info['bytes']} bytes, sha256 "
                  f"{info['sha256'][:12]}) trained on {len(rows)} texts")
    if metrics:
        console.print(_summary_table(f"{folds}-fold cross-validation", metrics))
