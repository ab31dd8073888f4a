"""ticketing.inputs, the one set of input rules, and the parsers outside the API that use it
(SIP framing, the CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from config import get_settings
from hotline.cli import app
from ivr.intake import CallIntake, Spool
from telephony.sip.message import SipMessage, SipSyntaxError
from tests.support.city import City
from ticketing.inputs import (
    BadCharacters,
    InvalidInput,
    ascii_int,
    check_category,
    clean_text,
    csv_cell,
    local_aware,
    strip_unsafe,
)
from ticketing.models import Ticket


@pytest.mark.parametrize("bad", ["\x00", "\u202a", "\u202e", "\u2066", "\u2069", "\u200f",
                                 "\x1b", "\x7f", "\x85", "\ud800"])
def test_clean_text_refuses_control_bidi_and_surrogates(bad: str) -> None:
    for multiline in (False, True):
        with pytest.raises(BadCharacters) as exc:
            clean_text(f"王{bad}先生", field="caller_name", multiline=multiline)
        assert exc.value.field == "caller_name"


def test_clean_text_line_breaks_only_where_text_is_multiline() -> None:
    assert clean_text("一\r\n二\r三\n四\t五", field="demand", multiline=True) == "一\n二\n三\n四\t五"
    for brk in ("\n", "\r", "\t"):
        with pytest.raises(BadCharacters):
            clean_text(f"王{brk}先生", field="caller_name")
    # Ordinary Chinese, full-width punctuation, emoji and zero-width joiners are text.
    text = "朝阳区（望京）停水了！👨\u200d👩\u200d👧"
    assert clean_text(text, field="demand") == text


def test_categories_come_from_the_config_file() -> None:
    assert check_category("water") == "water"
    with pytest.raises(InvalidInput) as exc:
        check_category("bogus")
    assert exc.value.field == "category"


@pytest.mark.parametrize(("raw", "value"), [
    ("0", 0), ("0042", 42), ("2611240007", 2611240007),
    ("²", None), ("٣", None), ("１２", None), ("+1", None), (" 1", None), ("1_0", None),
    ("-1", None), ("", None),
    # Past Python's int() limit (4,300 digits: ValueError, a 500 wherever a client's digits
    # were read, sec57), and past any count or id the service holds: no number.
    ("9" * 5000, None), ("1" * 19, None), ("9" * 18, 10**18 - 1),
])
def test_ascii_int(raw: str, value: int | None) -> None:
    assert ascii_int(raw) == value


@pytest.mark.parametrize(("raw", "cell"), [
    ("=1+1", "'=1+1"), ("+8613800000000", "'+8613800000000"), ("-2+3", "'-2+3"),
    # A plain negative number runs nothing: a spreadsheet sums it (回访得分), not '-1 text.
    ("-2", "-2"), ("-0.5", "-0.5"), ("-1e5", "'-1e5"), ("-", "'-"), ("-.5", "'-.5"),
    ("-２", "'-２"), ("-1\n", "'-1\n"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("＝1+1", "'＝1+1"),
    ("停水 = 三天", "停水 = 三天"), ("", ""), (None, ""),
])
def test_csv_cell(raw: str | None, cell: str) -> None:
    assert csv_cell(raw) == cell


def test_local_aware() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    assert local_aware(datetime(2026, 12, 1, 8), tz, field="since") == datetime(
        2026, 12, 1, 0, tzinfo=UTC)
    aware = datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert local_aware(aware, tz, field="since") == aware
    assert local_aware(None, tz, field="since") is None
    with pytest.raises(InvalidInput):
        local_aware(datetime(1, 1, 1), tz, field="since")


def _sip(cseq: bytes, length: bytes = b"0") -> bytes:
    return (b"OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
            b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\n"
            b"Call-ID: c1\r\nCSeq: " + cseq + b" OPTIONS\r\nContent-Length: " + length +
            b"\r\n\r\n")


def test_sip_numbers_are_ascii_digits() -> None:
    assert SipMessage(_sip(b"7")).cseq == (7, "OPTIONS")
    for cseq, length in (("²".encode(), b"0"), ("٣".encode(), b"0"), (b"1", "٠".encode()),
                         (b"1", b"+0")):
        with pytest.raises(SipSyntaxError):
            SipMessage(_sip(cseq, length))


def test_strip_unsafe_keeps_the_words() -> None:
    assert strip_unsafe("SIP \u202eevil\x00\r\nuser\u2066") == "SIP evil  user"


def test_a_sip_caller_with_direction_controls_still_gets_a_ticket(
    sessions, domain, city: City, tmp_path: Path
) -> None:
    call = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                      call_id="c-bidi", caller="\u202ecitizen\u202c")
    call.answered()
    call.understood("朝阳区望京西园三区5号楼停水了", {"low_confidence": []})
    assert call.file_ticket() is not None
    with sessions() as s:
        assert s.scalars(select(Ticket.caller_name)).one() == "SIP citizen"


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_names_follow_the_same_rule(cli_db: None) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(app, ["unit", "add", "x", "水务\u202e集团"])
    assert r.exit_code == 1 and "U+202E" in r.output
    r = runner.invoke(app, ["user", "add", "li", "--role", "admin", "--name", "李\x00"])
    assert r.exit_code == 1 and "U+0000" in r.output
    assert runner.invoke(app, ["ticket", "show", "²"]).exit_code == 1
