"""The one typed settings object.

Precedence (highest first): explicit keyword arguments, ``HOTLINE_*`` environment
variables (nested with ``__``, e.g. ``HOTLINE_SIP__PORT=5070``), the TOML file named by
``HOTLINE_CONFIG_FILE`` (default ``config/hotline.toml``), then the defaults below.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import tomllib
import typing
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

CONFIG_DIR = Path(__file__).resolve().parent
PROJECT_DIR = CONFIG_DIR.parent


def _port(*, default: int) -> Any:
    """A port a socket binds or is sent to (0 would be "any free port": nothing to dial)."""
    return Field(default=default, ge=1, le=65535)


class DeadlineSettings(BaseModel):
    # Every time allowed is positive: a 0 or negative one made each ticket overdue at its
    # birth, and the ladder's every rung due at once (twenty-fourth round).
    urgent_hours: float = Field(default=1.0, gt=0)
    livelihood_hours: float = Field(default=24.0, gt=0)
    general_working_days: int = Field(default=5, ge=1)
    # A handler must sign this many seconds after dispatch (the 5-minute window).
    sign_window_seconds: int = Field(default=300, gt=0)
    # Utilities (水电气暖) must leave the manual queue within this many seconds.
    utility_dispatch_seconds: int = Field(default=600, gt=0)
    # A ticket held for the operator because it says too little (ticketing.substance) or its
    # transcript is not to be trusted (ticketing.hearing) is shown as overdue for
    # confirmation (console, /metrics) once this long after the call.
    confirm_held_seconds: int = Field(default=600, gt=0)
    # A rejected-and-redone (驳回重办) ticket gets this many working days again.
    redo_working_days: int = Field(default=5, ge=1)
    # A unit may 退单 (not ours) only this long after the ticket reached it, and never past
    # the ticket's deadline: later, a unit sitting on a ticket could hand its lateness to
    # whichever unit gets it next. After that only the centre moves it (改派).
    return_window_hours: float = Field(default=2.0, gt=0)


# Who an escalation rung reaches: the ticket's handler, the nearest supervisor of its unit,
# the supervisor one level above that (superior unit), the hotline's on-duty dispatcher.
# A local clock time, 00:00–23:59, refused in words an operator reads (a pattern's
# failure quoted the regular expression: judge40).
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _clock_time(value: str) -> str:
    if not _HHMM.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of day HH:MM, 00:00-23:59 (e.g. 21:00)")
    return value


ClockTime = Annotated[str, AfterValidator(_clock_time)]

Who = Literal["handler", "unit_supervisor", "superior_unit", "duty_dispatcher"]
How = Literal["sms", "call"]


class Rung(BaseModel):
    """One step of the escalation ladder: who is told, how, and when — either at a fraction
    of the time allowed (``at``: 0.75, 1.0 = at the deadline) or every ``every_hours``
    after the deadline for as long as the ticket stays open (超期督办)."""

    who: Who
    how: How = "call"
    at: float | None = None
    every_hours: float | None = None

    @model_validator(mode="after")
    def _one_moment(self) -> Rung:
        if (self.at is None) == (self.every_hours is None):
            raise ValueError("a rung has exactly one of `at` and `every_hours`")
        if self.at is not None and not 0 < self.at <= 1:
            raise ValueError("`at` is a fraction of the time allowed, in (0, 1]")
        if self.every_hours is not None and self.every_hours <= 0:
            raise ValueError("`every_hours` must be positive")
        return self


def _default_ladder() -> list[Rung]:
    # The seeds: 催办 to the person near the deadline, to the unit at it, and unheeded
    # 催办 goes to the superior unit — repeated while the ticket stays overdue.
    return [
        Rung(who="handler", how="sms", at=0.5),
        Rung(who="handler", how="call", at=0.75),
        Rung(who="unit_supervisor", how="call", at=1.0),
        Rung(who="superior_unit", how="call", every_hours=4),
    ]


class EscalationSettings(BaseModel):
    ladder: list[Rung] = Field(default_factory=_default_ladder)
    # A utility (水电气暖) still undispatched deadlines.utility_dispatch_seconds after the
    # call (or after a 退单 put it back in the queue): this person is called to dispatch it.
    utility_who: Who = "duty_dispatcher"
    utility_how: How = "call"


class VerificationSettings(BaseModel):
    # Categories whose handler's reply closes the ticket at once, without 核实 by an
    # operator or supervisor (e.g. ["other"] for plain inquiries). Empty: every reply is
    # verified.
    skip_categories: list[str] = Field(default_factory=list)
    # A closed ticket whose citizen cannot be surveyed (asked for no callback, or the
    # survey found them unreachable) is archived this many days after that was known,
    # instead of staying "closed" forever.
    archive_unsurveyable_days: float = 7.0
    # A disabled account's number stays a staff number (no survey placed to it, no answer
    # on it counted: ticketing.staff_phones) for tickets filed until this many days after
    # the account was disabled: a year, the centre's assessment cycle, so a leaver cannot
    # answer for their old unit's year; past it the number is a citizen's again.
    staff_number_days: float = Field(default=365.0, ge=0)
    # What a handler may give as the reason when asking a supervisor for 剔除 (plus text).
    exclusion_reasons: list[str] = Field(default_factory=lambda: [
        "无理诉求", "重复诉求", "非本市事项", "已进入司法程序", "已进入仲裁或信访程序",
        "诉求人无法联系且信息不全"])


class AttachmentSettings(BaseModel):
    """Photos and documents a handler attaches to the reply (ticketing.attachments)."""

    # Largest file accepted. Upload requests may exceed max_body_bytes by this much (the
    # form fields around the file still count against max_body_bytes).
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # Where the files are kept (named by their SHA-256). Empty: data_dir/attachments. With
    # several nodes, storage every node mounts (docker-compose does): any node serves them.
    dir: Path | None = None
    # Categories whose reply must carry at least one attachment (the evidence whose absence
    # a supervisor otherwise flags as 资料不全). Empty: an attachment is never required.
    required_categories: list[str] = Field(default_factory=list)


class DuplicateSettings(BaseModel):
    window_hours: float = 72.0


class AnalyticsSettings(BaseModel):
    # 多诉督办: this many tickets of one category in one community (社区/村) within the
    # window open a 督办 record and alert the supervisor; later ones join the open record.
    supervise_after: int = Field(default=3, ge=2)
    supervise_window_days: float = Field(default=7.0, gt=0)
    # 一诉多办: a handler's ticket page lists tickets of its category in its community (or
    # street) from this many days back; the dashboard warns about a community with at least
    # community_warn_tickets tickets of one category in that span.
    related_window_days: float = Field(default=30.0, gt=0)
    community_warn_tickets: int = Field(default=5, ge=2)


class AsrSettings(BaseModel):
    model_dir: Path = PROJECT_DIR / "var" / "models"
    # Name of the model directory under model_dir the service loads.
    model_name: str = "vosk-model-small-cn-0.22"
    sample_rate: int = 8000
    workers: int = 0  # 0 = one per core
    low_confidence: float = 0.6
    # Phrase list for live call decoding (Vosk grammar); empty = free-form decoding. Only
    # for narrow deployments and tests: a grammar forces speech onto its phrases.
    phrase_list: list[str] = Field(default_factory=list)
    # Beam-search limits of the decoder, replacing the model's conf/model.conf values (None:
    # the model's own; the small models ship 10 / 3000 / 2). config/hotline.toml ships
    # 7 / 1500 / 1: ~35 % less CPU per call within 1 point of error rate (docs/asr.md). With
    # the dither below the same audio may decode differently from stream to stream.
    beam: float | None = Field(default=None, gt=0)
    max_active: int | None = Field(default=None, gt=0)
    lattice_beam: float | None = Field(default=None, gt=0)
    # Noise Kaldi adds to the audio before the features (conf/mfcc.conf; None: the model's,
    # which is Kaldi's 1.0 when unset). It is drawn from a process-wide random state, so
    # with it the same audio decodes differently from stream to stream. 0 makes decoding
    # repeatable but costs phrase-list accuracy on 8 kHz audio (docs/asr.md): not shipped.
    dither: float | None = Field(default=None, ge=0)
    # Recognizers of finished streams kept for the next ones (0: a new one per stream). A
    # new one costs ~4x the decoder CPU of a short call (its lazily built graph cache,
    # docs/asr.md); each kept one holds that cache, ~20-30 MB.
    idle_recognizers: int = Field(default=32, ge=0)
    # Recognizers built and warmed in the background when the voice part starts (speech
    # decoded through each), so a surge right after a restart meets warm ones: a new one
    # decodes ~3x slower until its cache fills. Each costs ~2.5 CPU s at start-up and
    # holds ~40 MB (docs/asr.md). Default: sip.max_calls' default, the calls at once at
    # the rated 3 calls/s. Kept among the idle ones, so at most idle_recognizers.
    warm_recognizers: int = Field(default=20, ge=0)

    @model_validator(mode="after")
    def _warm_ones_are_kept(self) -> AsrSettings:
        if self.warm_recognizers > self.idle_recognizers:
            raise ValueError(
                f"asr.warm_recognizers ({self.warm_recognizers}) is more than "
                f"asr.idle_recognizers ({self.idle_recognizers}) keeps: the rest would be "
                "warmed and thrown away; raise idle_recognizers or lower warm_recognizers")
        return self


def reachable_host(bind: str) -> str:
    """How a client on this machine names a listener bound to ``bind``, for a URL: a
    wildcard (0.0.0.0, ::) is reached on loopback, an IPv6 address is bracketed, a name is
    kept as it is."""
    host = bind.strip()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    return f"[{address}]" if address.version == 6 else str(address)


class SipSettings(BaseModel):
    # Answer calls inside `hotline serve` (the API tests and the CLI never start SIP).
    enabled: bool = True
    # "register": REGISTER to a registrar/proxy (Kamailio); "direct": take INVITEs as they come.
    mode: Literal["direct", "register"] = "direct"
    bind_ip: str = "127.0.0.1"
    # The address our Contact, Via, REGISTER and SDP c=/o= name (a NAT's public one, the
    # host's carrier-facing one). Empty: bind_ip, and for a wildcard bind_ip (0.0.0.0) our
    # address toward the registrar (register mode), else toward the first trusted source,
    # else the default route's (telephony/sip/advertise.py). Never 0.0.0.0: to a phone
    # c=0.0.0.0 is "on hold" (no audio) and a Contact of it reaches nobody.
    advertised_ip: str = ""
    port: int = _port(default=5080)
    rtp_port_low: int = _port(default=20000)
    rtp_port_high: int = _port(default=20999)
    registrar_ip: str = "127.0.0.1"
    registrar_port: int = _port(default=5060)
    username: str = "12345"
    password: str = ""
    # At least one line: 0 or fewer answered every caller 486.
    max_calls: int = Field(default=20, ge=1)
    operator_uri: str = ""
    max_record_seconds: int = 120
    end_silence_seconds: float = 3.0
    # No speech at all this long after the prompt: ask once more, then say goodbye.
    no_speech_seconds: float = 8.0
    # Wait for the confirm key (1/2) after the read-back.
    confirm_timeout_seconds: float = 6.0
    # Speech during the greeting/re-prompt stops the prompt and is recorded (GB/T 33358:
    # callers who know the line need not sit through it).
    barge_in: bool = True
    # Longest wait for the live transcript after the turn ends; longer (ASR far behind)
    # files the ticket without words and lets the transcription backlog do it.
    transcript_wait_seconds: float = 5.0
    rtp_timeout: float = 10.0  # no RTP this long: the caller is gone (BYE sent)
    register_expires: int = 300
    ring_timeout: float = 20.0  # operator transfer: ring this long before a callback ticket
    prompt_voice: str = "cmn"  # espeak-ng voice for generated prompts
    prompt_speed: int = 175  # espeak-ng words per minute
    # Flood guard (telephony/sip/floodguard.py): new requests (INVITE, REGISTER, OPTIONS...) one
    # source address may send per second, sustained and in a burst, before it is banned.
    # A caller needs one INVITE per call; a scanner sends hundreds a second.
    flood_rate_per_second: float = 5.0
    flood_burst: int = 20
    flood_ban_seconds: float = 60.0
    # Never limited: the proxy or trunk every call comes through (Kamailio has pike). In
    # register mode the registrar's address is trusted as well.
    trusted_sources: list[str] = Field(default_factory=list)
    # The hotline's numbers: an INVITE whose Request-URI user is none of these (nor
    # `username`, which the registrar routes to in register mode) gets 404 and is charged
    # like a scanner's guess. List every form the carrier sends; the defaults are the forms
    # a Beijing trunk uses for 12345 (national, with area code, E.164).
    numbers: list[str] = Field(
        default_factory=lambda: ["12345", "01012345", "8612345", "+8612345", "+861012345"])
    # Share of max_calls that one untrusted source address may hold at once (at least one
    # line): a single address must not take every line, yet an untrusted SBC's surge still
    # gets half of them (list the SBC in trusted_sources to give it all). Trusted sources
    # are not capped.
    source_call_share: float = 0.5
    # Our 200 OK not ACKed this long: the call ends (BYE) and its line is free again. RFC
    # 3261 would wait 32 s; a phone ACKs within a round trip, retransmissions included.
    ack_timeout: float = 4.0
    # Answered, but not one RTP packet from the caller this long: the call ends (a phone
    # sends media at once). rtp_timeout is the separate watchdog for media that stops.
    first_rtp_timeout: float = 4.0
    # What stop() gives calls we placed and could not end at once, after the rest of the
    # shutdown: an INVITE with no response yet (no CANCEL before a 1xx, RFC 3261 9.1) gets
    # its CANCEL (sent again at T1 doubling) or its ACK and BYE if one comes within this;
    # then the socket closes. Not Timer B's 32 s: Docker's stop would SIGKILL first. 4 s
    # holds four CANCELs (0, 0.5, 1.5, 3.5 s); a callee that has said nothing in that time
    # is most likely not there.
    stop_grace_seconds: float = 4.0
    # What a stop (SIGTERM) gives the IVR's calls up before it hangs up what is left and
    # closes the speech engine (``ivr.runtime.IvrRuntime``): new INVITEs are refused 503 +
    # Retry-After at once, each caller hears that the service stops (and, when they spoke,
    # that their words are kept), and each dialogue saves and files what it has. What is
    # not done by then stays in the spool for the next start's recovery. Within Docker's
    # stop_grace_period (docker-compose.yml: 40 s) with the backlog's wait and the above.
    stop_drain_seconds: float = 15.0

    @model_validator(mode="after")
    def _rtp_range(self) -> SipSettings:
        if self.rtp_port_low > self.rtp_port_high:
            raise ValueError(f"sip.rtp_port_low ({self.rtp_port_low}) is above "
                             f"sip.rtp_port_high ({self.rtp_port_high})")
        return self


class IvrSettings(BaseModel):
    # 三号联动: SIP URI per emergency service a caller is handed to (SIP IVR and Twilio).
    # Empty: the duty operator (sip.operator_uri) takes the call instead.
    emergency_uris: dict[str, str] = Field(
        default_factory=lambda: {"110": "", "119": "", "120": ""})
    # 知识库 on the SIP line, on the best entry's confidence (knowledge.search): from
    # kb_answer_from its answer is read at once (the knowledge base's own threshold,
    # DEFAULT_MIN_CONFIDENCE); from kb_confirm_from up to that, a question is first
    # confirmed: "您是想问<title>吗？是请按1，不是请按2". Equal values: no confirmation.
    kb_confirm_from: float = Field(default=0.3, ge=0, le=1)
    kb_answer_from: float = Field(default=0.5, ge=0, le=1)
    # An entry's answer (up to 2,000 characters) is read in parts of whole sentences up to
    # this many characters (ivr.kb_answer.answer_parts), "继续收听请按3" after each but the
    # last (SIP and Twilio). Mandarin TTS says 4-5 characters a second: 120 is about half
    # a minute, what a caller holds in mind before choosing; every sample answer fits.
    kb_part_chars: int = Field(default=120, ge=40, le=2000)
    # Ticket numbers callers nobody vouched for may key in (key 1) from one network address
    # in an hour, across calls (3 a call besides: ivr.ticket_lookup), and from one caller
    # number as well. A trunk not in sip.trusted_sources is counted as one address (on SIP
    # its INVITEs' source, on Twilio the SipSourceIp of a SIP/BYOC trunk), so this is then
    # the whole trunk's: high enough that a busy trunk's citizens do not reach it, low
    # enough that one caller cannot walk a day's sequential numbers. Better: the trunk in
    # sip.trusted_sources, on both carriers (its callers then counted by their number and
    # call; docs/sip.md, docs/twilio.md). Was 6, fixed (review53).
    ticket_numbers_per_address: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _confirm_below_answer(self) -> IvrSettings:
        if self.kb_confirm_from > self.kb_answer_from:
            raise ValueError("ivr.kb_confirm_from must not exceed ivr.kb_answer_from")
        return self


class TwilioSettings(BaseModel):
    account_sid: str = ""
    auth_token: str = ""
    api_base: str = "https://api.twilio.com"
    from_number: str = ""
    # The URL Twilio calls and signs. Empty: the API's own address (Settings.api_url), so a
    # development setup that moves HOTLINE_PORT still verifies; a real one sets its public URL.
    public_base_url: str = ""
    # Status callbacks whose X-Twilio-Signature does not verify get 403; only a local
    # development setup without a real account may turn this off.
    verify_signatures: bool = True
    # How long the dialer waits for Twilio's final status callback of a call.
    call_result_timeout_seconds: float = 180.0
    # How long a request to Twilio's REST API (creating a call or an SMS, looking one up)
    # may go unanswered. Twilio's client waits forever by default: an API that took the
    # connection and said nothing held the worker's thread and its lease for good (judge27).
    # A create unanswered within it may still have been carried out: it is looked up, never
    # sent again (outbound.dialers.created_or_none, mend56).
    api_timeout_seconds: float = Field(default=15.0, gt=0)
    # Inbound webhooks: Twilio gives up on a webhook after 15 s, so download + decoding
    # get this much of it; past it the ticket is made with the transcription backlog.
    webhook_budget_seconds: float = 9.0
    download_timeout_seconds: float = 5.0
    # Decoding is skipped up front when audio seconds x this guess would overrun the
    # budget (measured real-time factor is ~0.2 per stream on a free core; queueing for
    # a busy core makes it worse, hence the margin).
    decode_rtf_guess: float = 0.5
    # Ring time for <Dial> to the operator (settings.sip.operator_uri) before a callback
    # request ticket is left instead.
    operator_ring_seconds: int = 20


class OutboundSettings(BaseModel):
    # Run the outbound worker inside `hotline serve` (every instance may; claims are locked).
    enabled: bool = True
    sms_provider: str = "log"  # log | webhook | twilio
    sms_webhook_url: str = ""
    dialer: str = "sip"  # sip | twilio
    reminder_retry_seconds: list[int] = Field(default_factory=lambda: [300, 600])
    survey_retry_seconds: list[int] = Field(default_factory=lambda: [1800, 7200])
    # The citizen's quiet hours: no 回访 call and no citizen SMS in [quiet_start, quiet_end).
    # Clock times like the staff's: "24:00" or "21:60" was taken here and raised at every
    # claim of a survey or citizen SMS, failing each tick and with it every reminder.
    quiet_start: ClockTime = "21:00"
    quiet_end: ClockTime = "08:00"
    # Staff quiet hours for the 催办/督办 ladder (docs/outbound.md): a rung (call or SMS)
    # that comes due in [staff_quiet_start, staff_quiet_end) waits for the end, audited on
    # the ticket, unless the ticket's urgency is listed in staff_quiet_overrides. Urgent
    # (life safety, 1 h) and livelihood (24 h) tickets cannot give up a night of their time
    # allowed; a general ticket has days. Equal start and end: no staff quiet hours. The
    # same rule moves a general ticket dispatched at night: its dispatch SMS and its 签收
    # window (so the reminder call) start at the end (service.open_sign_window). The duty
    # dispatcher's calls are 7x24 and never wait.
    staff_quiet_start: ClockTime = "22:00"
    staff_quiet_end: ClockTime = "08:00"
    staff_quiet_overrides: list[Literal["urgent", "livelihood", "general"]] = Field(
        default_factory=lambda: ["urgent", "livelihood"])
    survey_daily_cap: int = 2
    poll_seconds: float = 1.0
    # How often the planner turns ticket state into work items (outbound_tasks rows).
    plan_seconds: float = 2.0
    # Ring time before an unanswered call counts as no answer; wait for each key.
    ring_seconds: float = 30.0
    key_timeout_seconds: float = 8.0
    # The 签收 reminder call is placed this long before the sign window ends, so that a
    # handler who answers and presses 1 signs inside it and counts for the response rate
    # (响应率); placed at the window's end, no keypad sign could ever be on time.
    sign_call_lead_seconds: float = 120.0
    # A claimed item belongs to its worker this long past its last renewal: the worker
    # renews it every third of this while the call or SMS lasts (outbound.worker.renew_lease,
    # the twenty-third round), so a call may last longer; this is how long a crashed
    # worker's call holds its task and its phone's line before recovery settles it. (It
    # said "must exceed the longest call", no longer so: review51.)
    lease_seconds: float = 300.0
    # Calls a worker process has in flight at once. At least 1: calls are claimed only into
    # free call slots, so 0 placed no call and recovered no dead worker's, silently.
    max_parallel: int = Field(default=8, ge=1)
    # SMS a worker process has in flight at once, in slots of their own beside the calls'
    # (outbound.lanes): an SMS is never queued behind calls that hold every call slot for
    # their minutes (sms42). Also the requests at once a webhook gateway sees from a worker.
    sms_parallel: int = Field(default=8, ge=1)
    # How a phone number becomes a SIP target: "{phone}" dials number@registrar
    # (register mode); "sip:{phone}@trunk.example:5060" for a direct trunk. Placeholders
    # (ticketing.phones.dial_forms): {phone} as dialled at home (13912345678, 01065123456,
    # 12345), {national} with the trunk prefix 0 (013912345678, 01065123456), {e164}
    # (+8613912345678).
    sip_uri_template: str = "{phone}"
    # The outbound SIP front end's own port and RTP range, apart from the IVR's inbound one.
    sip_port: int = _port(default=5081)
    sip_rtp_port_low: int = _port(default=21000)
    sip_rtp_port_high: int = _port(default=21499)
    # Prompt voice for generated prompts (espeak-ng), when config/prompts has no recording.
    tts_voice: str = "cmn"
    # SMS retries when the provider fails (seconds after each failure).
    sms_retry_seconds: list[int] = Field(default_factory=lambda: [60, 300])
    # The citizen hears back (docs/outbound.md): an SMS to the caller when the ticket is
    # accepted, when more information is asked of them, and with the answer at closure.
    citizen_sms: bool = True
    # Steps older than this are not texted any more (a late SMS confuses more than it
    # tells; and turning the feature on does not text every past caller).
    citizen_sms_max_age_hours: float = 24.0
    # At most this many citizen SMS to one number per local day (the survey SMS sent that
    # day counted in; sec43). Anyone can put a stranger's mobile in the From of
    # a call in direct SIP mode, and each call filed is a ticket and its receipt: N calls
    # were N SMS to the victim. Over the cap the SMS is not sent (the ticket's trail says
    # so; key 1 and the status page still tell). A number, not a source: a blackout's
    # thousands of callers through one trunk are thousands of numbers, each with its own
    # day; 6 is two tickets' receipt, question and answer in one day. At least 1: the
    # first SMS of a number's day always goes.
    citizen_sms_daily_cap: int = Field(default=6, ge=1)
    # Public address of the status page (/s/<token>) as the citizen's phone reaches it.
    # Empty: twilio.public_base_url when that is set (the same API), else the API's own
    # address (Settings.api_url), which only this machine reaches.
    status_page_base_url: str = ""
    # Shared secret of the SMS gateway's inbound webhook (HMAC-SHA256 of the body in
    # X-Hotline-Signature); empty: the webhook refuses everything (403).
    sms_inbound_secret: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = f"sqlite:///{PROJECT_DIR / 'var' / 'hotline.db'}"
    data_dir: Path = PROJECT_DIR / "var"
    recordings_dir: Path = PROJECT_DIR / "var" / "recordings"
    timezone: str = "Asia/Shanghai"
    # Names this process in call records, outbound claims and logs; several nodes share one
    # database. Empty: the host name.
    node_name: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # The roles without the HTTP API (`hotline serve --role ivr|outbound`) answer /healthz
    # and /metrics (this process's own figures: SIP, ASR warm-up and decoding) here, by
    # the API's rule for who may read them (metrics_token, else loopback clients only).
    # Loopback by default; 0: no listener (docs/scaling.md, "A node without the API").
    status_host: str = "127.0.0.1"
    status_port: int = Field(default=8001, ge=0, le=65535)
    log_json: bool = False
    max_body_bytes: int = 64 * 1024
    # A request body must come within this many seconds of waiting for it (from the app's
    # first read; a request without a body has none to wait for), plus one for every
    # request_body_min_rate bytes received (mod_reqtimeout's body=20,MinRate=500), else 408
    # and the connection is closed (hotline.app.BodyDeadline); 0: no bound.
    request_body_seconds: float = Field(default=20.0, ge=0)
    request_body_min_rate: int = Field(default=500, ge=0)
    rules_file: Path = CONFIG_DIR / "dispatch_rules.toml"
    classification_file: Path = CONFIG_DIR / "classification.toml"
    # What "says too little" is (fillers, minimum content): a ticket held for an operator.
    too_little_file: Path = CONFIG_DIR / "too_little.toml"
    # A learned field (category, urgency, kind, emergency) whose probability is below this
    # flags the ticket 待确认 for an operator. The trained model lives in data_dir/classifier.
    classification_confirm_below: float = 0.5
    # A recogniser's transcript whose words' mean confidence is below this is held for an
    # operator instead of dispatched (ticketing.hearing): below one half, most of its words
    # are more likely wrong than right (a Vosk word's confidence is its posterior), so its
    # category is read from guesses. Not tuned on any data file.
    transcript_trust_below: float = Field(default=0.5, ge=0.0, le=1.0)
    holidays_file: Path = CONFIG_DIR / "holidays.toml"
    # The hotline centre's unit(s), by code: their supervisors (the 督办科) are the centre
    # with its operators and admins (ticketing.actors.Actor.of_the_centre): they may 剔除
    # and lengthen a dispatched ticket's deadline, since no unit's figures rank them. Any
    # other unit, a top-level one too (`hotline unit add` without a parent), is ranked.
    # The demo city's centre is "bj" (hotline.demo).
    centre_units: tuple[str, ...] = ("bj",)
    # District → street (街道/乡镇) → community (社区/村) → estates (小区): how tickets are
    # placed for hot spots, 多诉督办 and 一诉多办 (docs/metrics.md).
    gazetteer_file: Path = CONFIG_DIR / "gazetteer.toml"
    # 反映主体: the suffixes, stop words and generic names a ticket's respondent is read by
    # from the caller's words (ticketing.respondent).
    respondent_file: Path = CONFIG_DIR / "respondent.toml"
    prompts_dir: Path = CONFIG_DIR / "prompts"
    # Recordings older than this many days are deleted once a day (never those of open
    # tickets; each deletion is audited on the ticket). 0 keeps them forever.
    recordings_retention_days: int = 0
    # Signs the web console's session cookies. Empty: a random secret is generated once per
    # install and kept in data_dir/console_secret, so sessions survive restarts and every
    # worker process of one install agrees on it (hotline.console.auth).
    console_secret: str = ""
    # Where the generated secret is kept when console_secret is empty. Empty: data_dir/
    # console_secret. With several nodes, point it at storage they all mount (docker-compose
    # does): otherwise each node makes its own and a session from one is refused by another.
    console_secret_file: Path | None = None
    # Bearer token Prometheus must send for /metrics. Empty: /metrics answers loopback
    # clients only (403 otherwise), never a request relayed by a proxy.
    metrics_token: str = ""
    # /metrics reuses its figures over weeks of tickets (30-day rates, hot spots, 一诉多办,
    # utility dispatch) for this many seconds instead of recomputing them at every scrape;
    # live counts (tickets by state, overdue, calls, backlog) are always fresh. 0: no reuse.
    metrics_figures_ttl_seconds: float = Field(default=60.0, ge=0)
    # Reverse proxies (addresses or networks) whose X-Forwarded-Proto/-For are believed:
    # they decide whether the console cookie is Secure and which client address login
    # attempts are counted against. Empty: nobody's; headers from other peers are ignored.
    trusted_proxies: list[str] = Field(default_factory=list)

    deadlines: DeadlineSettings = DeadlineSettings()
    duplicates: DuplicateSettings = DuplicateSettings()
    escalation: EscalationSettings = EscalationSettings()
    verification: VerificationSettings = VerificationSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    asr: AsrSettings = AsrSettings()
    sip: SipSettings = SipSettings()
    ivr: IvrSettings = IvrSettings()
    twilio: TwilioSettings = TwilioSettings()
    outbound: OutboundSettings = OutboundSettings()

    @field_validator("database_url")
    @classmethod
    def _a_database_we_run_on(cls, url: str) -> str:
        # Anything else failed at the first connection with SQLAlchemy's NoSuchModuleError
        # traceback ("Can't load plugin: sqlalchemy.dialects:foo").
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url.strip()):
            raise ValueError("not a SQLite or PostgreSQL URL: sqlite:///path/to/hotline.db "
                             "or postgresql+psycopg://user:password@host/db")
        return url

    @field_validator("timezone")
    @classmethod
    def _a_time_zone(cls, name: str) -> str:
        # Read at the first ticket's deadline otherwise: a start that looked fine, then a
        # ZoneInfoNotFoundError trace at every call and request.
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{name!r} is not a time zone: an IANA name such as "
                             "Asia/Shanghai") from exc
        return name

    @field_validator("status_host")
    @classmethod
    def _an_address(cls, host: str) -> str:
        # An address, as uvicorn's host is used: a name could resolve to an interface the
        # operator did not mean to open.
        try:
            return str(ipaddress.ip_address(host.strip()))
        except ValueError as exc:
            raise ValueError(f"status_host {host!r} is not an IP address") from exc

    @model_validator(mode="after")
    def _status_port_apart(self) -> Settings:
        # The API and an IVR node's status listener often share a host (one node split
        # into roles, same settings): the second to start would find its port taken.
        if self.status_port and self.status_port == self.port:
            raise ValueError(f"status_port {self.status_port} is the API's port")
        return self

    @model_validator(mode="after")
    def _sip_ports_apart(self) -> Settings:
        # The IVR and the outbound front end bind on the same address (sip.bind_ip): the same
        # port started the IVR and then failed the start with a traceback from the dialer.
        if self.sip.port == self.outbound.sip_port:
            raise ValueError(f"outbound.sip_port {self.outbound.sip_port} is sip.port: the IVR "
                             "and the outbound calls each need their own SIP port")
        return self

    @model_validator(mode="after")
    def _rtp_ranges_apart(self) -> Settings:
        # Both front ends bind RTP ports on the same address (sip.bind_ip), each from its own
        # range: overlapping, a survey call took a port an inbound call wanted (or the other
        # way round), and that call was refused 503 "no free RTP port" with ports to spare.
        # (The outbound range reaches its front end by model_copy, unchecked: checked here.)
        o = self.outbound
        if o.sip_rtp_port_low > o.sip_rtp_port_high:
            raise ValueError(f"outbound.sip_rtp_port_low ({o.sip_rtp_port_low}) is above "
                             f"outbound.sip_rtp_port_high ({o.sip_rtp_port_high})")
        sip = self.sip
        if o.sip_rtp_port_low <= sip.rtp_port_high and sip.rtp_port_low <= o.sip_rtp_port_high:
            raise ValueError(
                f"outbound.sip_rtp_port_low..outbound.sip_rtp_port_high ({o.sip_rtp_port_low}-"
                f"{o.sip_rtp_port_high}) overlaps sip.rtp_port_low..sip.rtp_port_high "
                f"({sip.rtp_port_low}-{sip.rtp_port_high}): the IVR and the outbound calls "
                "each need their own RTP ports")
        return self

    @model_validator(mode="after")
    def _public_urls_default_to_the_api(self) -> Settings:
        # A fixed "http://127.0.0.1:8000" default went stale when only HOTLINE_PORT moved:
        # Twilio's signatures were checked against the wrong URL and SMS links pointed at
        # the wrong port. The status page is served by this same API: a public URL given
        # for Twilio reaches it too, where the API's own address reaches this machine
        # alone (twilio46: citizens texted through Twilio got http://127.0.0.1:8000/s/...).
        if not self.outbound.status_page_base_url:
            self.outbound = self.outbound.model_copy(
                update={"status_page_base_url": self.twilio.public_base_url or self.api_url})
        if not self.twilio.public_base_url:
            self.twilio = self.twilio.model_copy(update={"public_base_url": self.api_url})
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_only(cls, entries: list[str]) -> list[str]:
        # uvicorn's proxy middleware takes an entry it cannot parse as a literal host name
        # and silently trusts nothing (or the wrong thing): refuse it at start-up instead,
        # and hand it networks in the one form it parses ("10.1.2.3/16" → "10.1.0.0/16").
        out = []
        for entry in entries:
            try:
                out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an address or network") from exc
        return out

    @property
    def api_url(self) -> str:
        """The API's base URL as a client on this machine reaches it, from ``host`` and
        ``port``: a wildcard bind (0.0.0.0, ::) is reached on loopback, and an IPv6
        address is bracketed (``http://:::8000`` is no URL)."""
        return f"http://{reachable_host(self.host)}:{self.port}"

    @property
    def node(self) -> str:
        return self.node_name or socket.gethostname()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_toml_file()),
        )


class ConfigError(ValueError):
    """Settings the service cannot start with, each named as the operator wrote it: the
    ``HOTLINE_*`` variable or the key of config/hotline.toml, and why. The CLI prints it
    (no traceback) and exits 2."""


def _toml_file() -> Path:
    return Path(os.environ.get("HOTLINE_CONFIG_FILE", CONFIG_DIR / "hotline.toml"))


def _env_name(loc: tuple[Any, ...]) -> str:
    return "HOTLINE_" + "__".join(str(part).upper() for part in loc)


def _written_as(loc: tuple[Any, ...]) -> str:
    """Where a setting at ``loc`` came from: its variable if one is set, else its key in
    the TOML file (or its default, for a rule between two settings)."""
    key = ".".join(str(part) for part in loc)
    # A variable for the key or for a table holding it (HOTLINE_SIP='{"port": "x"}').
    for depth in range(len(loc), 0, -1):
        name = _env_name(loc[:depth])
        value = os.environ.get(name)
        if value is not None:
            shown = value if len(value) <= 64 else value[:64] + "…"
            return f"{name}={shown!r} ({key})"
    return f"{key} ({_toml_file().name} or its default; variable {_env_name(loc)})"


def _annotation(loc: tuple[Any, ...]) -> Any:
    model: Any = Settings
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        model = fields[part].annotation
    return typing.get_origin(model) or model


def _table(loc: tuple[Any, ...]) -> bool:
    kind = _annotation(loc)
    return kind is dict or (isinstance(kind, type) and issubclass(kind, BaseModel))


def _structured(loc: tuple[Any, ...]) -> bool:
    """Whether the setting at ``loc`` is a list or table, which a variable writes as JSON."""
    return _annotation(loc) in (list, tuple, set) or _table(loc)


def _unreadable_variables() -> list[str]:
    """The HOTLINE_* variables pydantic-settings could not decode: a list or table not
    written as JSON (HOTLINE_SIP__TRUSTED_SOURCES=127.0.0.1)."""
    said = []
    for name, value in sorted(os.environ.items()):
        if not name.startswith("HOTLINE_"):
            continue
        loc = tuple(part.lower() for part in name[len("HOTLINE_"):].split("__"))
        if not _structured(loc):
            continue
        try:
            json.loads(value)
        except ValueError:
            shape = '{"key": "value"}' if _table(loc) else '["value", "value"]'
            said.append(f"{name}={value[:64]!r}: not JSON; a variable writes a list or "
                        f"table as JSON: {name}='{shape}'")
    return said


def load_settings() -> Settings:
    """The settings, or a ConfigError naming every value that is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            # A rule between settings (a model's validator) names its keys itself.
            where = _written_as(loc) if loc and not _table(loc) else ".".join(map(str, loc))
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{where or 'settings'}: {message}")
        raise ConfigError("\n".join(lines)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_toml_file()}: not valid TOML: {exc}") from None
    except SettingsError as exc:
        field = re.search(r'field "(\w+)"', str(exc))
        said = _unreadable_variables() or [
            str(exc) + (f" (HOTLINE_{field.group(1).upper()}...)" if field else "")]
        raise ConfigError("\n".join(said)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
