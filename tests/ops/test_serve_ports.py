"""Which HTTP port a `hotline serve` process listens on, the one rule (``hotline.roles.
listening``): ``--host``/``--port`` name the role's own listener, the API's for a role
that runs it, the status listener's (/healthz, /metrics) for `--role ivr` or `--role
outbound`. Before (judge39), a headless role took no notice of ``--port``: its status
listener bound ``status_port`` (8001) whatever was given, so the second node without the
API on one host (a node split into ivr and outbound on the same settings, as
docs/scaling.md has it) found the port taken and ran without /healthz or /metrics.
Socket-free: serve's headless start is stood in for, the settings it was given read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import Settings, get_settings
from hotline.cli import app as cli
from hotline.roles import RoleError, ServeRole, listening


def test_port_names_the_listener_of_the_role() -> None:
    shipped = Settings()
    api = listening(shipped, ServeRole.API, host="0.0.0.0", port=8100)
    assert (api.host, api.port) == ("0.0.0.0", 8100)
    assert (api.status_host, api.status_port) == (shipped.status_host, shipped.status_port)
    for role in (ServeRole.IVR, ServeRole.OUTBOUND):
        node = listening(shipped, role, host=None, port=8102)
        assert (node.status_host, node.status_port) == (shipped.status_host, 8102)
        assert (node.host, node.port) == (shipped.host, shipped.port)  # the API's untouched
        assert listening(shipped, role, host=None, port=0).status_port == 0  # no listener
        # Nothing given: the settings' own.
        assert listening(shipped, role, host=None, port=None) == shipped


@pytest.mark.parametrize(("host", "port", "why"), [
    (None, Settings().port, "is the API's port"),
    ("localhost", 8102, "is not an IP address"),
    (None, 70000, "less than or equal to 65535"),
])
def test_a_status_listener_the_settings_refuse_is_refused_from_the_command_line_too(
        host: str | None, port: int, why: str) -> None:
    with pytest.raises(RoleError, match=why):
        listening(Settings(), ServeRole.OUTBOUND, host=host, port=port)


@pytest.fixture
def headless(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[list[Settings]]:
    """serve's headless start stood in for: the settings it is given."""
    given: list[Settings] = []
    monkeypatch.setattr("hotline.cli._serve_headless", lambda s, role: given.append(s))
    for name, value in (("DATABASE_URL", sqlite_url), ("DATA_DIR", str(tmp_path / "data")),
                        ("RECORDINGS_DIR", str(tmp_path / "rec")),
                        # No outbound SIP port looked at (a socket); the listener's rule is
                        # the same with it on.
                        ("OUTBOUND__ENABLED", "false")):
        monkeypatch.setenv(f"HOTLINE_{name}", value)
    get_settings.cache_clear()
    yield given
    get_settings.cache_clear()


def test_serve_outbound_listens_for_its_status_where_port_says(headless: list[Settings]
                                                                ) -> None:
    result = CliRunner().invoke(cli, ["serve", "--role", "outbound", "--port", "8102"])
    assert result.exit_code == 0, result.output
    [node] = headless
    assert node.status_port == 8102
    # Said at the start, with what a second node on the host must set.
    assert "status: http://127.0.0.1:8102/healthz" in result.output


def test_serve_refuses_a_status_port_that_is_the_apis(headless: list[Settings]) -> None:
    result = CliRunner().invoke(cli, ["serve", "--role", "ivr", "--port",
                                      str(Settings().port)])
    assert result.exit_code == 2 and headless == []
    assert "is the API's port" in result.output
