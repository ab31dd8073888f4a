"""`hotline asr ...` commands: fetch, models, transcribe."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Speech recognition: models and transcription.", no_args_is_help=True)
console = Console(soft_wrap=True)  # paths in messages must stay on one line


def _settings():  # imported late: `hotline asr --help` must not need a config file
    from config import get_settings

    return get_settings()


@app.command()
def fetch(
    source: Annotated[str, typer.Argument(help="small-cn | cn | URL | local .zip/.tar.gz")],
    sha256: Annotated[str | None, typer.Option(help="Expected SHA-256 (overrides the pin)")] = None,
    dest: Annotated[Path | None, typer.Option(help="Model directory (default: settings)")] = None,
    trust_unpinned: Annotated[
        bool, typer.Option(help="Accept a download with no known checksum; prints its SHA-256")
    ] = False,
    replace: Annotated[bool, typer.Option(help="Replace an installed model of that name")] = False,
) -> None:
    """Download (or take a local archive), verify, unpack atomically into the model dir."""
    from asr.model_store import ModelError
    from asr.model_store import fetch as do_fetch

    target_dir = dest or Path(_settings().asr.model_dir)
    try:
        path = do_fetch(
            source, target_dir, sha256=sha256, trust_unpinned=trust_unpinned, replace=replace
        )
    except ModelError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"model installed in {path}")


@app.command()
def ensure() -> None:
    """Install the configured model from its pinned download if it is not installed yet,
    then load it once: "ready" means Vosk can load it, not only that its files are there."""
    from asr.model_store import REGISTRY, ModelError, ensure_installed, load_model

    settings = _settings().asr
    try:
        path = ensure_installed(Path(settings.model_dir), settings.model_name)
    except ModelError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    try:
        with _kaldi_errors() as kaldi:
            load_model(path)
    except ModelError as exc:
        key = next((s.key for s in REGISTRY.values() if s.name == settings.model_name),
                   "<url|archive> --sha256 <hex>")
        why = f" ({kaldi[-1]})" if kaldi else ""
        console.print(f"[red]error:[/red] {exc}{why}; the files are there but unusable: "
                      f"replace them with `hotline asr fetch {key} --replace`")
        raise typer.Exit(1) from exc
    console.print(f"speech model ready in {path}")


@contextmanager
def _kaldi_errors() -> Iterator[list[str]]:
    """Vosk's C++ side writes why a load failed to fd 2, past Python and the log; kept
    here (filled on exit) so `ensure` says it in its own one line."""
    errors: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield errors
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode(errors="replace")
            errors.extend(part.split(") ", 1)[-1].strip()
                          for part in text.split("ERROR (")[1:])


@app.command()
def models(
    dest: Annotated[Path | None, typer.Option(help="Model directory (default: settings)")] = None,
) -> None:
    """List installed models and which one the service will load."""
    from asr.model_store import REGISTRY, list_models

    settings = _settings().asr
    model_dir = dest or Path(settings.model_dir)
    installed = list_models(model_dir)
    table = Table(title=f"Models in {model_dir}")
    for column in ("name", "size", "status", "in use"):
        table.add_column(column)
    for m in installed:
        status = "ok" if m.ok else f"[red]{m.problem}[/red]"
        in_use = "yes" if m.name == settings.model_name else ""
        table.add_row(m.name, f"{m.size_bytes / 1e6:.0f} MB", status, in_use)
    console.print(table)
    if not any(m.ok and m.name == settings.model_name for m in installed):
        key = next((k for k, s in REGISTRY.items() if s.name == settings.model_name), None)
        hint = f"hotline asr fetch {key}" if key else "hotline asr fetch <name|url|archive>"
        console.print(
            f"[yellow]{settings.model_name} is not installed: transcription waits for a model. "
            f"Install it with: {hint}[/yellow]"
        )


@app.command()
def transcribe(
    file: Annotated[Path, typer.Argument(help="WAV file (any rate, PCM/μ-law/A-law)")],
    model: Annotated[Path | None, typer.Option(help="Model directory")] = None,
    grammar: Annotated[str | None, typer.Option(help='Phrase list, "a,b,c"')] = None,
    raw: Annotated[bool, typer.Option(help="Skip Mandarin clean-up")] = False,
    no_vad: Annotated[bool, typer.Option("--no-vad", help="Decode silence too")] = False,
) -> None:
    """Transcribe a WAV file and print text, low-confidence words and timing."""
    import time

    from asr.batch import transcribe_file
    from asr.cleanup import normalize
    from asr.engine import AsrEngine
    from asr.model_store import DecoderOptions, ModelError
    from telephony.media.wav import AudioFormatError

    settings = _settings().asr
    model_path = model or Path(settings.model_dir) / settings.model_name
    try:
        began = time.perf_counter()
        engine = AsrEngine(model_path, workers=1, low_confidence=settings.low_confidence,
                           decoder=DecoderOptions.from_settings(settings))
        load_seconds = time.perf_counter() - began
        if grammar:
            checked = engine.grammar(grammar)
            if checked.missing_words:
                console.print(f"[yellow]not in vocabulary: {' '.join(checked.missing_words)}")
        result = transcribe_file(
            engine, file, grammar=grammar, vad=not no_vad, postprocess=None if raw else normalize
        )
    except (ModelError, AudioFormatError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    typer.echo(result.text)
    if result.transcript.low_confidence:
        console.print(f"low confidence: {' '.join(result.transcript.low_confidence)}")
    console.print(
        f"audio {result.audio_seconds:.2f} s, wall {result.wall_seconds:.2f} s "
        f"(RTF {result.rtf:.3f}), in decoder {result.decode_seconds:.2f} s, "
        f"model load {load_seconds:.1f} s",
        style="dim",
    )

