"""A surge from one address at the shipped settings: a carrier's SBC in a district blackout.

    .venv/bin/python bench/surge.py                    # 40 calls at 5/s, SBC not trusted
    .venv/bin/python bench/surge.py --count 100 --rate 10 --trusted
    .venv/bin/python bench/surge.py --delayed-offer    # INVITEs without SDP (CUCM, SIP-I)
    .venv/bin/python bench/surge.py --alaw             # offers of PCMA alone, A-law RTP

SIPp sends ``count`` complete calls (INVITE, ACK, RTP for ``--hold`` s, BYE; a 486/503 is
ACKed) from 127.0.0.75 to a SipFrontEnd built from config/hotline.toml + defaults (only
the ports moved to free loopback ones; ``--trusted`` lists the SBC in trusted_sources).
The handler answers and waits for the caller's BYE, like the IVR without its prompts.

Prints: calls answered, busy (486/503, ACKed by the caller), dropped unanswered (no final
response: SIPp's failed calls), whether the address is banned, and how soon after the last
call of the burst a new call from the same address is answered (a raw INVITE every 0.5 s;
gives up after ``--probe-seconds``). Loopback only; SIPp bounded by -m, -timeout,
-recv_timeout.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.settings import Settings
from telephony.call import CallHandle
from telephony.sip.frontend import SipFrontEnd
from tests.support import harness
from tests.support.callers import CallerScript
from tests.support.rawsip import RawPeer, status
from ticketing.phones import call_number

SBC = "127.0.0.75"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--rate", type=float, default=5.0, help="calls per second")
    ap.add_argument("--hold", type=float, default=2.0, help="seconds each answered call lasts")
    ap.add_argument("--trusted", action="store_true", help="list the SBC in trusted_sources")
    ap.add_argument("--probe-seconds", type=float, default=75.0)
    ap.add_argument("--delayed-offer", action="store_true",
                    help="INVITEs without SDP, the answer in the ACK (CUCM trunks, SIP-I)")
    ap.add_argument("--alaw", action="store_true",
                    help="offers of PCMA alone (and telephone-event), the callers' RTP A-law")
    args = ap.parse_args()
    codec = "PCMA" if args.alaw else "PCMU"

    tmp = Path(tempfile.mkdtemp(prefix="bench-surge-"))
    rtp = harness.free_port_block(2 * 40 + 20)
    sip = Settings().sip.model_copy(update={
        "bind_ip": harness.LOOPBACK, "port": harness.free_port(),
        "rtp_port_low": rtp, "rtp_port_high": rtp + 99,
        "trusted_sources": [SBC] if args.trusted else []})
    answered: list[CallHandle] = []
    lock = threading.Lock()

    def on_call(call: CallHandle) -> None:
        if call.answer():
            with lock:
                answered.append(call)
            call.wait_ended(60)

    fe = SipFrontEnd(sip, on_call, read_number=call_number, rtp_timeout=sip.rtp_timeout)
    fe.start()
    print(f"shipped settings: {sip.mode} mode, {sip.max_calls} lines, flood guard "
          f"{sip.flood_rate_per_second:g}/s burst {sip.flood_burst} ban "
          f"{sip.flood_ban_seconds:g} s, trusted {sip.trusted_sources or 'none'}")
    print(f"surge: {args.count} calls at {args.rate:g}/s from {SBC}, {args.hold:g} s each"
          + (", delayed offer (no SDP in the INVITE)" if args.delayed_offer else "")
          + f", {codec}")
    try:
        script = CallerScript(tmp / "caller", hold_seconds=args.hold + 3,
                              codec=codec).wait(args.hold)
        t0 = time.monotonic()
        surge = harness.sipp_surge(tmp / "surge", target=f"127.0.0.1:{fe.local_port}",
                                   source_ip=SBC, count=args.count, rate=args.rate,
                                   media=script.render(), delayed_offer=args.delayed_offer,
                                   codecs="8" if args.alaw else "0")
        ended = time.monotonic()
        busy = fe.rejected.get(486, 0) + fe.rejected.get(503, 0)
        refused = sum(n for code, n in fe.rejected.items() if code not in (486, 503))
        print(f"answered {len(answered)}  busy(486/503) {busy}  refused otherwise {refused}  "
              f"dropped unanswered {surge.failed}  (SIPp: {surge.successful} completed, "
              f"{surge.failed} failed; burst took {ended - t0:.1f} s)")
        print(f"banned: {fe.flood.banned(SBC)}  flood guard drops: {fe.flood.dropped}")
        print("answered in: " + ", ".join(f"{c} {n}" for c, n in sorted(
            Counter(call.codec for call in answered).items())))
        after = probe(fe.local_port, args.probe_seconds)
        print("next call answered " + (f"{after:.1f} s after the burst" if after is not None
                                       else f"not within {args.probe_seconds:g} s"))
    finally:
        fe.stop()


def probe(port: int, limit: float) -> float | None:
    """Seconds until an INVITE from the SBC's address gets a 200 (then hung up)."""
    peer = RawPeer(SBC, port)
    start = time.monotonic()
    try:
        n = 0
        while time.monotonic() - start < limit:
            n += 1
            peer.send(peer.invite(f"probe{n}"))
            finals = peer.finals(1, wait=0.5)
            answer = finals.get(f"probe{n}")
            if answer is not None:
                peer.send(peer.ack(answer))
                if status(answer) == 200:
                    peer.send(peer.ack(answer, method="BYE", cseq=2))
                    return time.monotonic() - start
            time.sleep(0.5)
        return None
    finally:
        peer.close()


if __name__ == "__main__":
    main()
