"""What the hotline says (zh-CN), and the 8 kHz audio it is played from.

``PROMPTS`` is the catalog: one key per fixed sentence. Every carrier uses it -- the SIP
dialogue plays it as audio, the Twilio webhooks put the same text in ``<Say>`` -- so a
wording change is made here once. The text helpers below build the few sentences that
carry call data (the read-back, the ticket number, the deadline, ticket status).

Audio (``PromptLibrary``, rendered by ``telephony.media.prompts``): a recording placed at
``config/prompts/<key>.wav`` wins; otherwise the text is spoken by espeak-ng (voice
``cmn``), cached under ``data_dir/prompts``. Numbers are never
synthesised as a whole ("一万两千..."): they are joined from digit clips ``digit_0`` ..
``digit_9`` (1 read as 幺, the way phone numbers are read), which a recorded voice can also
replace one by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from telephony.media.prompts import PromptRenderer
from telephony.media.wav import read_wav_pcm16
from ticketing.classify import EMERGENCY_SERVICES
from ticketing.deadlines import Urgency
from ticketing.states import SET_ASIDE_SENTENCE

if TYPE_CHECKING:
    from config.settings import DeadlineSettings, Settings

HOTLINE_NUMBER = "12345"

# --------------------------------------------------------------------------- the catalog
PROMPTS: dict[str, str] = {
    # Callers may speak at once (GB/T 33358: no forced menu before the complaint).
    "greeting": (
        "您好，这里是12345市民服务热线。请在提示音后说出您的诉求，说完请按井号键。"
        "按0转人工服务，按1查询您的工单办理情况。"
    ),
    "beep": "（提示音）",  # a 1 kHz tone, not speech; the text is for display only
    "reprompt_silence": "没有听到您的声音。请在提示音后说出您的诉求，说完请按井号键。",
    "goodbye_silence": "没有听到您的声音。感谢您的来电，如有需要请再次拨打12345，再见。",
    "not_understood": "抱歉，没有听清您的诉求。请在提示音后再说一遍，说完请按井号键。",
    "rerecord": "好的，请在提示音后重新说出您的诉求，说完请按井号键。",
    # The read-back: readback_text() builds "您反映的是供水问题，地址是……。"
    "readback_no_address": "您反映的是{category}问题。",
    "readback_with_address": "您反映的是{category}问题，地址是{address}。",
    "readback_unclassified": "您的诉求已录音。",
    "confirm": "确认请按1，重新录音请按2。",
    "confirm_again": "请按键选择：确认请按1，重新录音请按2。",
    # After the confirm key: two optional choices, then # (or silence) files the ticket.
    "preferences": "需要对您的身份保密请按1，不需要回访请按2，确认请按井号键。",
    "preference_confidential": "已为您选择身份保密。",
    "preference_no_contact": "已为您选择不回访。",
    "ticket_number": "您的诉求已受理，工单编号是",  # followed by the digits
    "deadline": "我们将在{deadline}办理并答复您。",  # deadline_phrase()
    # Instead of the deadline while the words wait for the transcription backlog: the
    # urgency, and so the deadline, comes with them (ivr.decisions.deadline_told). Ends
    # with EMERGENCY_ADVICE (WORDS_NOT_HEARD).
    "transcript_pending": "您的录音已保存，工作人员会根据录音内容为您办理。",
    # Instead of that when the recording could not be fetched from the carrier (Twilio's
    # download failed): nothing of ours holds it yet, so nothing is said of it; the ticket
    # and the caller's number are kept, and where to fetch it again (docs/twilio.md).
    "recording_not_fetched": "您的来电已登记，工作人员会尽快为您办理。",
    "filed_later": "您的诉求已记录，我们稍后会与您联系告知工单编号。",
    "goodbye": "感谢您的来电，再见。",
    "transfer": "正在为您转接人工服务，请稍候。",
    "operator_unavailable": (
        "抱歉，人工坐席暂时无法接通。我们已记录您的回电请求，工作人员会尽快给您回电。再见。"
    ),
    "status_intro": "您最近的工单办理情况如下。",
    "status_count": "您有{count}件工单正在办理。",  # status_count_text()
    # Only the last digits: the caller is known by caller ID alone (ivr.ticket_lookup).
    "status_item": "尾号{number}的工单，{status}。",  # status_item_text(); number as digits
    "status_ticket": "尾号",  # followed by the digits, then the status label
    "status_none": "没有查到您这个号码正在办理的工单。",
    # Closed in the last 30 days: the short answer (ivr.ticket_lookup.told_answer).
    "status_closed_intro": "最近办结的工单如下。",
    "status_closed_item": "尾号{number}的工单已办结，{answer}。",  # status_closed_text()
    "status_closed_tail": "的工单已办结，{answer}。",  # after the digit clips
    # Set aside (剔除) in the last 30 days, as its SMS says it (outbound.citizen_sms), with
    # the listed reason when there is one (status_set_aside_text(); mend85).
    # The words: ticketing.states.SET_ASIDE_SENTENCE ("经审核不予办理").
    "status_set_aside_item": f"尾号{{number}}的工单{SET_ASIDE_SENTENCE}{{because}}。",
    "status_set_aside_tail": f"的工单{SET_ASIDE_SENTENCE}{{because}}。",  # after the digit clips
    "status_set_aside_because": "，原因：{reason}",
    "status_unavailable": "抱歉，暂时无法查询工单办理情况，请稍后再试。",
    # A withheld number: tickets are found by the number the network gives, and none came.
    "status_no_number": "您的来电未显示号码，无法查询工单办理情况。",
    # A number no trusted source vouched for (direct mode: anyone writes any From): the
    # caller keys the ticket number, and hears that one ticket's step (ivr.call_flow).
    "status_ask_ticket": "请输入您的工单号，以井号键结束。",
    "status_ticket_unknown": "没有查到这个工单号。",
    # Past the ticket numbers one caller may key in (ivr.ticket_lookup.KeyedLookups).
    "status_tries_over": "查询次数已达上限，请稍后再拨，或按0转人工服务。",
    # A withheld number: the caller may key one in to be called back (ivr.call_flow).
    "ask_callback_number": (
        "您的来电未显示号码。如需回访，请输入您的手机号码或带区号的固定电话，以井号键结束；"
        "不需要请直接按井号键。"
    ),
    "callback_number_invalid": "您输入的号码有误，请重新输入，以井号键结束。",
    "callback_number_taken": "好的，我们将通过您输入的号码与您联系。",
    "status_done": "如需反映新的诉求，请在提示音后直接说出。",
    "busy": "您好，现在所有线路都忙，请稍后再拨12345。再见。",
    # Our stop (SIGTERM) reaches a caller on the line (ivr.call_flow, ``Dialogue._s_hangup``):
    # the first when what they said is kept (spoken words, filed now or by the next start's
    # recovery), the second when nothing was (the greeting, a status query). No "我们会尽快
    # 办理": untrue after a 直接答复 (its ticket closed), and the drain's seconds are few
    # (mend63). An emergency caller hears ``emergency_failed_N`` instead (``_stop_notice``).
    "stopping_kept": "系统维护暂停服务。您的诉求已记录，如需补充请稍后再拨12345。",
    "stopping": "系统维护，服务即将暂停，请稍后再拨12345。再见。",
    # A question the knowledge base answers: the entry's answer (PromptLibrary.kb_answer)
    # between these two, then key 1 records a 直接答复, 2 (or nothing) files it as today.
    # The intro names the question the answer is for (kb_intro_text: the entry's title),
    # so a caller whose matter was another can tell and press 2.
    "kb_intro": "关于{title}，答复如下。",
    "kb_resolved_ask": "问题解决了请按1，需要转办请按2。",
    "kb_answered": "好的，您的咨询已答复并记录。",
    # After a part of a long answer (ivr.kb_answer.answer_parts) but the last: 3 or no key
    # reads the next part; 1, 2 and 0 mean what they mean after the whole answer.
    "kb_more": "继续收听请按3，问题解决了请按1，需要转办请按2。",
    # kb28: a question that asked one detail hears the sentences that state it first
    # (ivr.kb_answer.answer_reading), then may hear the rest, which 3 or no key reads.
    # "这是关于<title>的答复": a title put as a question (…需要什么条件) names the entry,
    # not the detail said first (mend59); spoken words, not "其余答复如下".
    "kb_detail_intro": "这是关于{title}的答复，先说{detail}：",
    # kb29: a question that asked two details hears each one's sentences, the next after
    # "再说<detail>：".
    "kb_detail_next": "再说{detail}：",
    "kb_detail_more": "听其他内容请按3，问题解决了请按1，需要转办请按2。",
    "kb_rest_intro": "下面是其他内容。",
    # The best entry is likely, not sure: ask first (kb_confirm_text; title without its
    # own end punctuation). 1 reads the answer as above, 2 files the words as today.
    "kb_confirm": "您是想问{title}吗？是请按1，不是请按2。",
}

# Where to call at once, said to every caller whose words no recogniser has heard when the
# call ends: no emergency could be handed over. A caller reporting a fire (the trial's,
# spoken with no model installed, 2026-12-06) was told only that the recording was kept;
# a Twilio caller whose recording could not be fetched, or whose ticket waits for the
# database, heard nothing of it (review34). One sentence, appended to each such prompt.
EMERGENCY_ADVICE = "如遇火灾、治安警情或有人急需救治，请立即拨打119、110或120。"
WORDS_NOT_HEARD = ("transcript_pending", "recording_not_fetched", "filed_later")
for _key in WORDS_NOT_HEARD:
    PROMPTS[_key] += EMERGENCY_ADVICE



def words_pending(*, recording_kept: bool) -> str:
    """The catalog key told, after the ticket's number, to a caller whose words wait for the
    transcription backlog: that staff will act on the recording, only when we hold it
    whole; a Twilio recording whose download failed, or ours cut by a full volume, is not
    "已保存" (a SIP caller so cut was told it was: trial, judge26)."""
    return "transcript_pending" if recording_kept else "recording_not_fetched"


# 三号联动: one fixed sentence per service, so each is made at start-up and plays at once.
EMERGENCY_SERVICES_SPOKEN = tuple(s for s in EMERGENCY_SERVICES if s != "none")
for _s in EMERGENCY_SERVICES_SPOKEN:
    PROMPTS[f"emergency_transfer_{_s}"] = f"您反映的情况紧急，正在为您转接{_s}，请不要挂机。"
    # Neither the service's URI nor the duty operator answered: the caller must dial.
    PROMPTS[f"emergency_failed_{_s}"] = f"抱歉，暂时无法为您转接。请挂机后直接拨打{_s}。"
    # A hand-over only the intake model asked for (no emergency rule named the service): it
    # goes ahead unless the caller presses 2 (ivr.decisions.DECLINE_KEY); a noise complaint
    # read as 110 must not end in "请挂机后直接拨打110".
    PROMPTS[f"emergency_offer_{_s}"] = (f"您反映的情况可能需要{_s}处理，马上为您转接。"
                                        "不需要转接请按2。")

# Phone-style digit reading: 1 is 幺 so it is not confused with 7 (七) on a bad line.
DIGIT_WORDS: dict[str, str] = {
    "0": "零", "1": "幺", "2": "二", "3": "三", "4": "四",
    "5": "五", "6": "六", "7": "七", "8": "八", "9": "九",
}  # fmt: skip
for _d, _w in DIGIT_WORDS.items():
    PROMPTS[f"digit_{_d}"] = _w


def text(key: str, **values: str) -> str:
    """The catalog sentence ``key`` with its ``{placeholders}`` filled."""
    return PROMPTS[key].format(**values) if values else PROMPTS[key]


def digits_text(number: str) -> str:
    """A ticket or phone number as it is read: "2024000123" -> "二零二四零零零幺二三"."""
    return "".join(DIGIT_WORDS.get(c, "") for c in number)


_SPOKEN_AS_DIGITS = re.compile(
    r"(?<!\d)(" + "|".join([HOTLINE_NUMBER, *EMERGENCY_SERVICES_SPOKEN]) + r")(?!\d)")


def speakable(sentence: str) -> str:
    """Text as a speech engine should get it: the hotline and emergency numbers read digit
    by digit (a TTS engine otherwise says 一万两千三百四十五, 一百一十九)."""
    return _SPOKEN_AS_DIGITS.sub(lambda m: digits_text(m.group(1)), sentence)


def deadline_phrase(urgency: str, deadlines: DeadlineSettings) -> str:
    """"1小时内" (urgent), "24小时内" (livelihood), "5个工作日内" (general), from the
    deadline settings the ticket's due time was computed with (``deadlines.due_at``): no
    figures of its own, which would part from the settings' the day those change."""
    if urgency == Urgency.URGENT:
        return f"{_num(deadlines.urgent_hours)}小时内"
    if urgency == Urgency.LIVELIHOOD:
        return f"{_num(deadlines.livelihood_hours)}小时内"
    return f"{deadlines.general_working_days}个工作日内"


def readback_text(category_label: str | None, address: str | None) -> str:
    if not category_label:
        return text("readback_unclassified")
    if address:
        return text("readback_with_address", category=category_label, address=address)
    return text("readback_no_address", category=category_label)


def _title_said(title: str) -> str:
    """An entry's title inside a sentence: without its own end punctuation."""
    return title.strip().rstrip("？?。.！!，, ")


def kb_confirm_text(title: str) -> str:
    return text("kb_confirm", title=_title_said(title))


def kb_intro_text(title: str) -> str:
    """"关于身份证丢了怎么补办，答复如下。": the question an entry's answer is read for."""
    return text("kb_intro", title=_title_said(title))


# The details a question may ask (knowledge.details.DETAILS), as said after "先说": spoken
# words; "多少钱" fits money paid (收费吗) and money received (失业金能领多少钱) alike.
DETAIL_LABELS = {
    "materials": "要带的材料", "duration": "要多长时间", "place": "在哪儿办",
    "online": "能不能在网上办", "cost": "多少钱", "eligibility": "需要什么条件",
    "phone": "电话号码", "whom": "找谁", "whether": "能不能办",
}


def _details_said(details: str | list[str]) -> str:
    """The details one group of sentences states, as said: "在哪儿办和要带的材料"."""
    return "和".join(DETAIL_LABELS[d] for d in ([details] if isinstance(details, str)
                                               else details))


def kb_detail_intro_text(title: str, detail: str | list[str]) -> str:
    """"这是关于第一次办居住证需要什么条件的答复，先说要带的材料：": a part of the answer,
    the part that states what the caller asked (kb29: a sentence may state two)."""
    return text("kb_detail_intro", title=_title_said(title), detail=_details_said(detail))


def kb_detail_next_text(detail: str | list[str]) -> str:
    """"再说要多长时间：": the next detail of a question that asked two (kb29)."""
    return text("kb_detail_next", detail=_details_said(detail))


def status_count_text(count: int) -> str:
    return text("status_count", count=str(count))


def status_item_text(number: str, status_label: str) -> str:
    return text("status_item", number=digits_text(number), status=status_label)


def status_closed_text(number: str, answer: str) -> str:
    return text("status_closed_item", number=digits_text(number), answer=answer)


def set_aside_because(reason: str) -> str:
    """"，原因：非本市事项", or nothing when no listed reason is to be told."""
    return text("status_set_aside_because", reason=reason) if reason else ""


def status_set_aside_text(number: str, reason: str) -> str:
    return text("status_set_aside_item", number=digits_text(number),
                because=set_aside_because(reason))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --------------------------------------------------------------------------- audio
class PromptLibrary:
    """16-bit 8 kHz mono PCM for catalog keys, free text and numbers; thread-safe. Files
    come from the one renderer (``telephony.media.prompts``).

    Audio is kept in memory once made: a prompt is played by every call, and reading a
    WAV from disk per call would put file I/O in front of the first RTP packet.
    """

    def __init__(self, settings: Settings) -> None:
        self.renderer = PromptRenderer(
            recorded_dir=Path(settings.prompts_dir), cache_dir=Path(settings.data_dir) / "prompts",
            voice=settings.sip.prompt_voice, speed=settings.sip.prompt_speed)
        self.renderer.sweep_leftovers()
        self._pcm: dict[str, bytes] = {}

    # ---- public
    def path(self, key: str) -> Path:
        """The WAV (16-bit 8 kHz mono) played for catalog key ``key``."""
        recorded = self.renderer.recorded(key)
        if recorded is not None:
            return recorded
        if key == "beep":
            return self.renderer.tone(key, hz=1000, seconds=0.35)
        # espeak-ng pads every utterance with ~0.3 s of silence; ten digits read from
        # untrimmed clips take twice as long and sound like separate announcements.
        return self.renderer.speech(key, speakable(PROMPTS[key]),
                                    trim=key.startswith("digit_"))

    def pcm(self, key: str) -> bytes:
        return self._remember(f"key:{key}", lambda: self.path(key))

    def say(self, sentence: str, name: str = "say") -> bytes:
        """PCM for a sentence that is not in the catalog (a read-back with an address)."""
        return self._remember(
            f"say:{sentence}", lambda: self.renderer.speech(name, speakable(sentence)),
            keep=len(self._pcm) < 512,  # addresses are unbounded: do not grow forever
        )

    def said(self, sentence: str) -> bytes:
        """PCM for a sentence carrying one call's words (the read-back of the caller's
        category and address, a closed ticket's answer told at key 1): made for this call
        and kept neither on disk nor here (``PromptRenderer.spoken``). ``say`` is for the
        sentences a few values make (a deadline, a count, an entry's title)."""
        return self.renderer.spoken(speakable(sentence))

    def kb_answer(self, entry_id: str, version: int, title: str, answer: str,
                  part: int = 0) -> bytes:
        """A knowledge entry's answer after the intro that names its title
        (:func:`kb_intro_text`), made once per entry and version (an edit, of the title as
        of the answer, is a new version, hence a new file) and then played from the cache to
        every caller. The memo is keyed by the words too: a title or answer changed under
        the same version (a restored database) is never read with the old audio. A long
        answer is read by parts (``ivr.kb_answer.answer_parts``): ``answer`` is then part
        number ``part``, and only the first has the intro."""
        return self.kb_said(entry_id, version, (kb_intro_text(title) if part == 0 else "") + answer,
                            f"p{part}" if part else "")

    def kb_said(self, entry_id: str, version: int, sentence: str, tag: str = "") -> bytes:
        """A part of a knowledge entry's answer as said, its intro included
        (``ivr.kb_answer.Part.said``), cached as :meth:`kb_answer` says; ``tag`` tells
        the parts of an entry's readings apart in the file names."""
        name = f"kb-{entry_id}-v{version}" + (f"-{tag}" if tag else "")
        return self._remember(
            f"kb:{entry_id}:{version}:{sentence}",
            lambda: self.renderer.speech(name, speakable(sentence)),
            keep=len(self._pcm) < 512,  # long answers, many entries: the disk cache has them
        )

    def number(self, number: str) -> bytes:
        """A number read digit by digit from the digit clips (other characters skipped)."""
        return b"".join(self.pcm(f"digit_{c}") for c in number if c in DIGIT_WORDS)

    def warm(self, keys: Iterable[str] | None = None) -> None:
        """Make every catalog prompt now (start-up), not in front of the first caller."""
        for key in keys if keys is not None else PROMPTS:
            if "{" in PROMPTS.get(key, ""):
                continue
            self.pcm(key)

    # ---- internals
    def _remember(self, memo: str, make_path: Callable[[], Path], keep: bool = True) -> bytes:
        pcm = self._pcm.get(memo)
        if pcm is None:
            pcm = read_wav_pcm16(make_path())
            if keep:
                self._pcm[memo] = pcm
        return pcm
