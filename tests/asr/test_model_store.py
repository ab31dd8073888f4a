"""Model install/verify/list/load: local archives, checksums, damaged directories."""

from __future__ import annotations

import hashlib
import socket
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from asr.model_store import (
    REGISTRY,
    ChecksumError,
    FetchError,
    ModelDamagedError,
    ModelNotFoundError,
    ModelSpec,
    check_model_dir,
    ensure_installed,
    fetch,
    list_models,
    load_model,
)
from config.settings import Settings

FAKE_FILES = {
    "am/final.mdl": b"not a real acoustic model",
    "conf/model.conf": b"--min-active=200\n",
    "graph/HCLG.fst": b"not a real graph",
    "README": b"fake model for fetch tests",
}


def _fake_archive(tmp_path: Path, top: str = "vosk-model-fake-0.1") -> tuple[Path, str]:
    archive = tmp_path / f"{top}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in FAKE_FILES.items():
            zf.writestr(f"{top}/{name}", data)
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def test_fetch_local_archive_with_right_checksum(tmp_path: Path) -> None:
    archive, digest = _fake_archive(tmp_path)
    models = tmp_path / "models"
    installed = fetch(str(archive), models, sha256=digest, progress=False)
    assert installed == models / "vosk-model-fake-0.1"
    for name, data in FAKE_FILES.items():
        assert (installed / name).read_bytes() == data
    assert sorted(p.name for p in models.iterdir()) == ["vosk-model-fake-0.1"]  # no temps
    [listed] = list_models(models)
    assert listed.name == "vosk-model-fake-0.1" and listed.ok


def test_fetch_wrong_checksum_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    archive, _ = _fake_archive(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    with pytest.raises(ChecksumError, match="mismatch"):
        fetch(str(archive), models, sha256="0" * 64, progress=False)
    assert list(models.iterdir()) == []
    assert archive.exists()  # the caller's file is not ours to delete


def test_fetch_archive_with_files_at_top_level(tmp_path: Path) -> None:
    archive = tmp_path / "flat-model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in FAKE_FILES.items():
            zf.writestr(name, data)
    installed = fetch(str(archive), tmp_path / "m", sha256=None, progress=False)
    assert installed.name == "flat-model"
    check_model_dir(installed)


def test_fetch_refuses_incomplete_model_and_existing_target(tmp_path: Path) -> None:
    archive = tmp_path / "half.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("half/am/final.mdl", b"x")
    models = tmp_path / "models"
    with pytest.raises(ModelDamagedError):
        fetch(str(archive), models, progress=False)
    assert list(models.iterdir()) == []
    good, digest = _fake_archive(tmp_path)
    fetch(str(good), models, sha256=digest, progress=False)
    with pytest.raises(FetchError, match="already exists"):
        fetch(str(good), models, sha256=digest, progress=False)
    assert fetch(str(good), models, sha256=digest, progress=False, replace=True).is_dir()
    assert sorted(p.name for p in models.iterdir()) == ["vosk-model-fake-0.1"]


def test_fetch_refuses_path_traversal(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.txt", b"x")
    with pytest.raises(FetchError):
        fetch(str(archive), tmp_path / "models", progress=False)
    assert not (tmp_path / "escaped.txt").exists()


def test_unpinned_download_refused_before_any_network(tmp_path: Path) -> None:
    assert REGISTRY["cn"].sha256 is None
    with pytest.raises(ChecksumError, match="--sha256"):
        fetch("cn", tmp_path, progress=False)
    with pytest.raises(ChecksumError):
        fetch("https://example.invalid/model.zip", tmp_path, progress=False)
    assert [p for p in tmp_path.iterdir()] == []


def test_unknown_source(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="not a known model"):
        fetch("no-such-model", tmp_path, progress=False)


def test_registry_is_pinned_where_known() -> None:
    spec = REGISTRY["small-cn"]
    assert spec.name == "vosk-model-small-cn-0.22"
    assert spec.url.startswith("https://") and spec.url.endswith(".zip")
    assert spec.sha256 is not None and len(spec.sha256) == 64


def test_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_model(tmp_path / "nothing-here")


def test_damaged_model_dirs(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelDamagedError, match="missing"):
        load_model(empty)
    garbage = tmp_path / "garbage"
    for name, data in FAKE_FILES.items():
        (garbage / name).parent.mkdir(parents=True, exist_ok=True)
        (garbage / name).write_bytes(data)
    with pytest.raises(ModelDamagedError, match="could not load"):
        load_model(garbage)  # passes the cheap check, Vosk itself rejects it
    assert {m.name: m.ok for m in list_models(tmp_path)} == {"empty": False, "garbage": True}


@pytest.mark.asr
def test_bundled_test_model_is_valid(model_path: Path) -> None:
    check_model_dir(model_path)


# ------------------------------------------------- first start: the configured model


@contextmanager
def _serving(payload: bytes) -> Iterator[str]:
    """A loopback HTTP server standing in for the model site."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/vosk-model-fake-0.1.zip"
    finally:
        server.shutdown()
        server.server_close()


def _registry(url: str, sha256: str | None) -> dict[str, ModelSpec]:
    return {"fake": ModelSpec(key="fake", name="vosk-model-fake-0.1", url=url, sha256=sha256)}


def test_ensure_downloads_the_missing_model_once(tmp_path: Path) -> None:
    archive, digest = _fake_archive(tmp_path)
    models = tmp_path / "models"
    with _serving(archive.read_bytes()) as url:
        path = ensure_installed(models, "vosk-model-fake-0.1", registry=_registry(url, digest),
                                progress=False)
    assert path == models / "vosk-model-fake-0.1"
    assert (path / "am/final.mdl").read_bytes() == FAKE_FILES["am/final.mdl"]
    # The server is gone: an installed model needs no network on the next start.
    again = ensure_installed(models, "vosk-model-fake-0.1",
                             registry=_registry("http://127.0.0.1:9/gone.zip", digest),
                             progress=False)
    assert again == path


def test_ensure_refuses_a_download_with_the_wrong_checksum(tmp_path: Path) -> None:
    archive, _ = _fake_archive(tmp_path)
    models = tmp_path / "models"
    with _serving(archive.read_bytes()) as url, pytest.raises(ChecksumError):
        ensure_installed(models, "vosk-model-fake-0.1", registry=_registry(url, "0" * 64),
                         progress=False)
    assert not (models / "vosk-model-fake-0.1").exists()
    assert [p.name for p in models.iterdir()] == []  # no partial download left behind


def test_ensure_unreachable_source_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="failed"):
        ensure_installed(tmp_path, "vosk-model-fake-0.1",
                         registry=_registry(f"http://127.0.0.1:{port}/m.zip", "0" * 64),
                         progress=False)


def test_ensure_unknown_or_unpinned_model_is_not_downloaded(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="hotline asr fetch"):
        ensure_installed(tmp_path, "vosk-model-nobody-knows", progress=False)
    # The shipped registry's large model has no pin: refused before any network.
    with pytest.raises(ChecksumError, match="--sha256"):
        ensure_installed(tmp_path, REGISTRY["cn"].name, progress=False)


def test_ensure_reports_a_damaged_install_instead_of_replacing_it(tmp_path: Path) -> None:
    (tmp_path / "vosk-model-fake-0.1" / "am").mkdir(parents=True)
    with pytest.raises(ModelDamagedError):
        ensure_installed(tmp_path, "vosk-model-fake-0.1",
                         registry=_registry("http://127.0.0.1:9/m.zip", "0" * 64),
                         progress=False)


def test_shipped_settings_ensure_the_pinned_small_model() -> None:
    """What run.sh installs on a new machine is what the service loads by default."""
    from config.settings import Settings

    name = Settings().asr.model_name
    spec = next(s for s in REGISTRY.values() if s.name == name)
    assert spec.sha256 is not None and spec.url.startswith("https://")


def _ensure(monkeypatch: pytest.MonkeyPatch, model_dir: Path, name: str) -> Result:
    from asr import cli

    settings = Settings(asr={"model_dir": model_dir, "model_name": name})
    monkeypatch.setattr(cli, "_settings", lambda: settings)
    return CliRunner().invoke(cli.app, ["ensure"])


# Vosk loads the bundled test model (~2 CPU-s): the whole suite only (marker "slow", not
# `scripts/test.sh --fast`); the fast tier keeps damaged installs refused
# (test_damaged_model_dirs, test_ensure_reports_a_damaged_install_instead_of_replacing_it).
@pytest.mark.slow
def test_ensure_says_ready_only_for_a_model_vosk_loads(tmp_path: Path, model_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The fault trial's damaged model: every file `check_model_dir` looks for is there.
    name = Settings().asr.model_name
    damaged = tmp_path / name
    for file, data in FAKE_FILES.items():
        (damaged / file).parent.mkdir(parents=True, exist_ok=True)
        (damaged / file).write_bytes(data)
    check_model_dir(damaged)
    result = _ensure(monkeypatch, tmp_path, name)
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith("error: ")
    assert f"Vosk could not load the model in {damaged}" in line
    assert "hotline asr fetch small-cn --replace" in line
    # A model Vosk loads is still ready.
    result = _ensure(monkeypatch, model_path.parent, model_path.name)
    assert result.exit_code == 0
    assert result.output.strip() == f"speech model ready in {model_path}"


def test_ensure_without_network_names_the_offline_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before, the one line said the download failed and nothing else: every way it named
    # (`hotline asr fetch small-cn`) needed the network the machine did not have.
    import httpx

    def offline(*_: object, **__: object) -> None:
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(httpx, "stream", offline)
    name = Settings().asr.model_name
    result = _ensure(monkeypatch, tmp_path, name)
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # Rich wraps the line at the terminal's width
    assert "Name or service not known" in said
    archive = Path(REGISTRY["small-cn"].url).name
    assert f"hotline asr fetch ./{archive}" in said
    assert str(tmp_path / name / "am" / "final.mdl") in said
    assert "HOTLINE_ASR__MODEL_DIR" in said and "HOTLINE_ASR__MODEL_NAME" in said
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing half-made left behind
    # What `serve` logs while it waits for a model says the same.
    from asr.readiness import model_status

    detail = model_status(tmp_path, name).detail
    assert f"hotline asr fetch ./{archive}" in detail and "HOTLINE_ASR__MODEL_DIR" in detail
