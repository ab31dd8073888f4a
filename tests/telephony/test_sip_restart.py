"""Calls up when the process dies: the next process on the same address ends each with one
BYE (``telephony.sip.ledger``). A real front end in a child process, killed with SIGKILL
after the ACK; a raw SIP caller on 127.0.0.1 (tests/support/rawsip.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.settings import SipSettings
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.ledger import MAX_RECORD_AGE_SECONDS, DialogLedger, prune_stale
from tests.support import harness
from tests.support.rawsip import RawPeer, header, status
from ticketing.phones import call_number

pytestmark = pytest.mark.sip
ROOT = Path(__file__).resolve().parents[2]
# The service as a process: answers every call and keeps it up until it ends.
CHILD = """
import sys, time
from pathlib import Path
import pytest

from config.settings import SipSettings
from telephony.sip.frontend import SipFrontEnd
from ticketing.phones import call_number
port, rtp, data = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
settings = SipSettings(mode="direct", bind_ip="127.0.0.1", port=port, rtp_port_low=rtp,
                       rtp_port_high=rtp + 9)
fe = SipFrontEnd(settings, lambda call: call.answer() and call.wait_ended(60),
                 read_number=call_number, dialogs_dir=data)
fe.start()
print("up", flush=True)
time.sleep(60)
"""


def _settings(port: int, rtp: int) -> SipSettings:
    return SipSettings(mode="direct", bind_ip=harness.LOOPBACK, port=port, rtp_port_low=rtp,
                       rtp_port_high=rtp + 9)


def _next_request(peer: RawPeer, method: str, timeout: float = 10.0) -> bytes | None:
    peer.sock.settimeout(0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = peer.sock.recv(65535)
        except TimeoutError:
            continue
        if data.startswith(method.encode() + b" "):
            return data
    return None


def _ok(request: bytes) -> bytes:
    lines = [line for line in request.split(b"\r\n")
             if line.split(b":")[0].lower() in (b"via", b"from", b"to", b"call-id", b"cseq")]
    return b"SIP/2.0 200 OK\r\n" + b"\r\n".join(lines) + b"\r\nContent-Length: 0\r\n\r\n"


def test_a_call_up_when_the_process_was_killed_gets_one_bye_from_the_next(
        tmp_path: Path) -> None:
    """Before, a call up when the service was killed got no BYE after the restart: its
    caller heard silence until its own timers ended the call."""
    port, rtp = harness.free_port(), harness.free_port_block(10)
    child = harness.spawn(
        [sys.executable, "-c", CHILD, str(port), str(rtp), str(tmp_path)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE)
    peer = RawPeer(harness.LOOPBACK, port)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"up\n"
        peer.send(peer.invite("killed1"))
        ok = peer.finals(expect=1, wait=10.0)["killed1"]
        assert status(ok) == 200
        peer.send(peer.ack(ok))
        peer.send_rtp(ok, packets=5)
        ledger = tmp_path / f"{harness.LOOPBACK}-{port}"
        deadline = time.monotonic() + 10
        while not list(ledger.glob("*.json")):
            assert time.monotonic() < deadline, "the answered call's dialog was not kept"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        fe = SipFrontEnd(_settings(port, rtp), read_number=call_number, dialogs_dir=tmp_path)
        fe.start()
        try:
            bye = _next_request(peer, "BYE")
            assert bye is not None, "no BYE after the restart"
            peer.send(_ok(bye))
            assert header(bye, "Call-ID") == "killed1"
            # Known over: the outbound worker settles its task now (worker.end_leases).
            assert fe.left_ended == ["killed1"]
            assert header(bye, "From").endswith(header(ok, "To").split(";tag=")[1])
            assert header(bye, "To").endswith(";tag=fkilled1")
            assert header(bye, "CSeq") == "2 BYE"
            assert not list(ledger.iterdir())
            assert _next_request(peer, "BYE", timeout=1.5) is None  # one BYE, answered
        finally:
            fe.stop()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        peer.close()


def test_a_target_refresh_moves_the_bye_and_the_ledger_record(tmp_path: Path) -> None:
    """A re-INVITE's Contact is the dialog's remote target from then on (RFC 3261 12.2.2):
    our BYE goes there, and so does the next process's, from the ledger. Before, the
    INVITE's Contact was kept in memory and on disk: both BYEs went to a target the phone
    had left. In process: the record is copied before our own BYE (at stop) removes it,
    and put back for the next front end, as a killed process would leave it."""
    port, rtp = harness.free_port(), harness.free_port_block(10)
    peer, moved = RawPeer(harness.LOOPBACK, port), RawPeer(harness.LOOPBACK, port)
    fe = SipFrontEnd(_settings(port, rtp), lambda call: call.answer() and call.wait_ended(30),
                     read_number=call_number, dialogs_dir=tmp_path)
    fe.start()
    ledger = tmp_path / f"{harness.LOOPBACK}-{port}"
    try:
        peer.send(peer.invite("moved1"))
        ok = peer.finals(expect=1, wait=10.0)["moved1"]
        peer.send(peer.ack(ok))
        peer.send_rtp(ok, packets=5)
        deadline = time.monotonic() + 10
        while not list(ledger.glob("*.json")):
            assert time.monotonic() < deadline, "the answered call's dialog was not kept"
            time.sleep(0.05)
        reinvite = peer.request("INVITE", "moved1", to=header(ok, "To"), from_tag="fmoved1",
                                cseq=2, body=peer.sdp(), content_type="application/sdp")
        peer.send(reinvite.replace(f"{harness.LOOPBACK}:{peer.port}>".encode(),
                                   f"{harness.LOOPBACK}:{moved.port}>".encode()))
        again = peer.finals(expect=1, wait=10.0)["moved1"]
        assert status(again) == 200
        peer.send(peer.ack(again, cseq=2))
        record = next(ledger.glob("*.json"))
        assert f":{moved.port}" in record.read_text()
        kept = record.read_bytes()
    finally:
        fe.stop()
    try:
        bye = _next_request(moved, "BYE", timeout=5)
        assert bye is not None and header(bye, "Call-ID") == "moved1"
        assert f":{moved.port}" in bye.split(b"\r\n")[0].decode()
        moved.send(_ok(bye))
        record.write_bytes(kept)  # as a killed process leaves it
        fe = SipFrontEnd(_settings(port, rtp), read_number=call_number, dialogs_dir=tmp_path)
        fe.start()
        try:
            bye = _next_request(moved, "BYE")
            assert bye is not None and header(bye, "Call-ID") == "moved1"
            moved.send(_ok(bye))
        finally:
            fe.stop()
    finally:
        peer.close()
        moved.close()


def test_records_past_their_age_are_removed_at_any_front_ends_start(tmp_path: Path) -> None:
    """A ledger record holds a caller's URI (personal data). Before, one under an address
    never bound again was kept for ever; now any front end of the service removes every
    address's records older than ``MAX_RECORD_AGE_SECONDS`` when it starts, and no BYE
    goes for them."""
    elsewhere = tmp_path / "127.0.0.9-5999"
    elsewhere.mkdir()
    old, fresh = elsewhere / "old.json", elsewhere / "fresh.json"
    old.write_text("{}")
    fresh.write_text("{}")
    day_ago = time.time() - MAX_RECORD_AGE_SECONDS - 60
    os.utime(old, (day_ago, day_ago))
    assert prune_stale(tmp_path, now=time.time() + 1) == 1  # the function alone
    assert not old.exists() and fresh.exists()
    old.write_text("{}")
    os.utime(old, (day_ago, day_ago))
    fe = SipFrontEnd(_settings(harness.free_port(), harness.free_port_block(10)),
                     read_number=call_number, dialogs_dir=tmp_path)
    fe.start()
    fe.stop()
    assert not old.exists() and fresh.exists()


def test_the_prune_follows_no_link_and_the_records_are_the_services_alone(
        tmp_path: Path) -> None:
    """A link planted among the addresses had the files it pointed at deleted; the
    records (callers' URIs) were created readable by anyone (review30)."""
    victim = tmp_path / "victim"
    victim.mkdir()
    theirs = victim / "settings.json"
    theirs.write_text("{}")
    day_ago = time.time() - MAX_RECORD_AGE_SECONDS - 60
    os.utime(theirs, (day_ago, day_ago))
    root = tmp_path / "sip-dialogs"
    root.mkdir()
    (root / "planted").symlink_to(victim)
    assert prune_stale(root, now=time.time() + 1) == 0
    assert theirs.exists()
    ledger = DialogLedger(root / "127.0.0.1-5060")
    assert ledger.dir.stat().st_mode & 0o077 == 0


def test_the_ledger_is_found_again_when_the_advertised_address_moved(tmp_path: Path) -> None:
    """The ledger's directory is named by the address bound (the bind is the ledger's lock),
    not the one advertised: a wildcard node's advertised address is the kernel's route,
    which a container recreated or a changed route moves (and advert50 had moved it from
    the bind's for every wildcard node upgraded). Before, the next process looked under the
    new address and the call left up got no BYE. In process, as the target refresh test."""
    port, rtp = harness.free_port(), harness.free_port_block(10)
    peer = RawPeer(harness.LOOPBACK, port)
    fe = SipFrontEnd(_settings(port, rtp).model_copy(update={"advertised_ip": "127.0.0.5"}),
                     lambda call: call.answer() and call.wait_ended(30),
                     read_number=call_number, dialogs_dir=tmp_path)
    fe.start()
    try:
        peer.send(peer.invite("routed1"))
        ok = peer.finals(expect=1, wait=10.0)["routed1"]
        assert status(ok) == 200
        peer.send(peer.ack(ok))
        peer.send_rtp(ok, packets=5)
        deadline = time.monotonic() + 10
        while not (kept := list(tmp_path.glob("*/*.json"))):
            assert time.monotonic() < deadline, "the answered call's dialog was not kept"
            time.sleep(0.05)
        record, saved = kept[0], kept[0].read_bytes()
    finally:
        fe.stop()
    bye = _next_request(peer, "BYE", timeout=5)
    assert bye is not None
    peer.send(_ok(bye))
    record.write_bytes(saved)  # as a killed process leaves it
    try:
        fe = SipFrontEnd(_settings(port, rtp).model_copy(update={"advertised_ip": "127.0.0.6"}),
                         read_number=call_number, dialogs_dir=tmp_path)
        fe.start()
        try:
            bye = _next_request(peer, "BYE")
            assert bye is not None, "no BYE after the restart: the ledger was not found"
            assert header(bye, "Call-ID") == "routed1"
            peer.send(_ok(bye))
        finally:
            fe.stop()
        assert record.parent.name == f"{harness.LOOPBACK}-{port}"
    finally:
        peer.close()
