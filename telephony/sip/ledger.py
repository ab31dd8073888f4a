"""The dialogs of a front end that are up, one small JSON file each, so that the next
process on the same address can end them with one BYE each.

A process killed mid-call (kill -9, OOM, power) sent no BYE, and its peers heard silence
until their own timers ended the calls. What a BYE needs (RFC 3261 12.2.1.1, 15.1.1) is
the dialog's identifiers, its remote target and route set, and our CSeq: written when the
call is up, and again when a target refresh moves the target or our session refresh
(``telephony.sip.refresher``) raises our CSeq, before that request goes, so the BYE's CSeq
is above every request we sent (RFC 3261 12.2.1.1; before, the record kept the answer's
CSeq, review51). Written by rename, without fsync: a killed
process's writes are in the page cache, and after a power cut the peers' own timers have
long ended the calls. The directory is per front end and bound address (``SipFrontEnd``):
binding the port is the lock, so no two live processes read one ledger.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from telephony.call import CallHandle

log = logging.getLogger("telephony.sip")
# A record older than this is removed at the start of any front end of the service, whatever
# address it was kept under: it holds a caller's URI (personal data), and no call lasts a
# day (a session timer or the RTP watchdog ends it), so a BYE for it reaches nobody. Before,
# a record under an address never bound again was kept for ever.
MAX_RECORD_AGE_SECONDS = 24 * 3600


def ledger_dir(data_dir: Path) -> Path:
    """Where a service's front ends keep their dialogs (each under its own address)."""
    return data_dir / "sip-dialogs"


@dataclass(frozen=True)
class LeftDialog:
    """What ends a dialog of ours: ``dialog.dialog_request``'s fields and where the
    dialog's requests came from (``first_hop`` sends there for a host name)."""

    call_id: str
    direction: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: list[str]
    local_cseq: int
    came_from: list[str | int] | None

    @classmethod
    def of(cls, call: CallHandle) -> LeftDialog:
        return cls(call.call_id, call.direction.value, call.local_tag, call.remote_tag,
                   call.local_uri, call.remote_uri, call.remote_target, list(call.route_set),
                   call.local_cseq, list(call.invite_source) if call.invite_source else None)


class DialogLedger:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        # Callers' URIs are personal data: the records are the service user's alone.
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, call_id: str) -> Path:
        # (A Call-ID is the peer's text: hashed, it names no path of its choosing.)
        return self.dir / f"{hashlib.sha256(call_id.encode()).hexdigest()[:32]}.json"

    def keep(self, call: CallHandle) -> None:
        """Write ``call``'s dialog (again, when a target refresh moved its remote target)."""
        target = self._path(call.call_id)
        # Each writer its own temporary file: the watchdog's first write and a re-INVITE's
        # target refresh may run at once.
        tmp = target.parent / f"{target.stem}.{threading.get_ident()}.tmp"
        try:
            tmp.write_text(json.dumps(asdict(LeftDialog.of(call))), encoding="utf-8")
            os.replace(tmp, target)
        except OSError:
            # The call goes on; only a BYE after a crash is lost.
            log.warning("call %s: its dialog could not be written to %s", call.call_id,
                        self.dir, exc_info=True)

    def drop(self, call_id: str) -> None:
        self._path(call_id).unlink(missing_ok=True)

    def left(self) -> list[LeftDialog]:
        """The dialogs a process that died left up (removed as they are read: one BYE
        each, whatever comes of it). A record written whole but not yet renamed is the
        call's last (``keep`` writes at the answer and at each target refresh) and
        counts; a half-written or unreadable one is removed."""
        found = []
        for path in sorted(self.dir.glob("*.json")) + sorted(self.dir.glob("*.tmp")):
            try:
                found.append(LeftDialog(**json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, TypeError, OSError):
                log.warning("unreadable dialog record %s removed", path)
            path.unlink(missing_ok=True)
        return found


def prune_stale(root: Path, *, now: float | None = None,
                max_age: float = MAX_RECORD_AGE_SECONDS) -> int:
    """Remove the records under ``root`` (every address's, ``ledger_dir``) older than
    ``max_age`` seconds; how many were removed (the directories stay: a live front end
    writes into its own).
    Called when any front end of the service starts (``SipFrontEnd.start``)."""
    if not root.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - max_age
    removed = 0
    for address in root.iterdir():
        # A link is not ours to follow: one planted there to a directory of other files
        # had them deleted (review30).
        if address.is_symlink() or not address.is_dir():
            continue
        for path in [*address.glob("*.json"), *address.glob("*.tmp")]:
            try:
                if not path.is_symlink() and path.lstat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue  # taken by its own front end meanwhile
    if removed:
        log.info("%d dialog records older than %.0f h removed from %s", removed,
                 max_age / 3600, root)
    return removed


__all__ = ["MAX_RECORD_AGE_SECONDS", "DialogLedger", "LeftDialog", "ledger_dir", "prune_stale"]
