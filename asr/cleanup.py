"""Mandarin transcript clean-up: spacing, spoken numbers to digits, low-confidence spans.

Vosk's Chinese models emit words separated by spaces and numbers as characters
("我 家 住 五 号 楼 电话 幺 三 八 ..."). A ticket wants "我家住5号楼，电话138...".

Number rules (why each is there):
- runs of >= 3 digit characters are read digit by digit: phone numbers, room numbers,
  house numbers (幺三八 -> 138, 三零二室 -> 302室);
- numbers with place units are evaluated: 两万四千元 -> 24000元, 三十多岁 -> 30多岁,
  including the colloquial 两万四 = 24000, 三千五 = 3500;
- one or two bare digits only become digits before an address/measure word
  (五号楼 -> 5号楼, 三单元 -> 3单元), because elsewhere they are mostly words:
  一起, 一些, 一直, 一样, 一下 ... stay as written;
- words and idioms that contain numerals are protected outright (统一, 万一, 千万, 十分,
  一五一十, ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_DIGITS = {
    "零": 0, "〇": 0, "洞": 0, "幺": 1, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
_DIGIT_CHARS = "零〇幺一二两三四五六七八九"  # 洞 (radio-style zero) only inside long runs
_NUM_CHARS = _DIGIT_CHARS + "十百千万亿"

# Words after which 1-2 bare digits are a number (addresses, amounts, ages, times, counts
# that a ticket cares about). Longest first so 号楼 wins over 号.
_SUFFIXES = sorted(
    [
        "号楼",
        "号院",
        "号线",
        "号",
        "楼",
        "栋",
        "幢",
        "座",
        "单元",
        "层",
        "楼层",
        "室",
        "户",
        "门",
        "排",
        "期",
        "区",
        "街",
        "路",
        "巷",
        "弄",
        "胡同",
        "村",
        "组",
        "元",
        "块",
        "角",
        "毛",
        "岁",
        "年级",
        "周岁",
        "年",
        "月",
        "日",
        "天",
        "小时",
        "分钟",
        "秒",
        "点钟",
        "点",
        "分",
        "公里",
        "千米",
        "米",
        "度",
        "平米",
        "平方",
        "次",
        "遍",
        "辆",
        "台",
        "部",
        "名",
        "位",
        "人",
        "口",
        "趟",
        "站",
        "床",
        "间",
        "套",
    ],
    key=len,
    reverse=True,
)

# Words and set phrases that contain numeral characters but are not numbers.
_PROTECTED = sorted(
    [
        "一起",
        "一些",
        "一直",
        "一样",
        "一定",
        "一下",
        "一般",
        "一切",
        "一旦",
        "一致",
        "一律",
        "一向",
        "一再",
        "一同",
        "一点儿",
        "一会儿",
        "一会",
        "一边",
        "一面",
        "一方面",
        "一时",
        "一生",
        "一心",
        "一共",
        "一度",
        "一带",
        "一贯",
        "一概",
        "一体",
        "一路",
        "一旁",
        "一阵",
        "一番",
        "一连",
        "一口气",
        "一下子",
        "一辈子",
        "一块儿",
        "一模一样",
        "统一",
        "万一",
        "唯一",
        "第一时间",
        "专一",
        "十分",
        "万分",
        "千万",
        "万万",
        "百姓",
        "百货",
        "老百姓",
        "千方百计",
        "一五一十",
        "十全十美",
        "三三两两",
        "七七八八",
        "乱七八糟",
        "七上八下",
        "三心二意",
        "一心一意",
        "五花八门",
        "四面八方",
        "一干二净",
        "十有八九",
        "九牛一毛",
        "一清二楚",
        "数一数二",
        "独一无二",
        "一举两得",
        "两全其美",
        "三番五次",
        "四通八达",
        "不三不四",
        "说三道四",
        "接二连三",
        "两口子",
        "两边",
        "两旁",
        "三亚",
        "万达",
        "百度",
    ],
    key=len,
    reverse=True,
)

_RUN = f"[{_NUM_CHARS}洞]+(?:点[{_DIGIT_CHARS}]+)?"
_TOKEN = re.compile(
    # 十分 is "very" except after 点 (三点十分 = 3:10).
    "(?P<protected>"
    + "|".join("(?<!点)十分" if w == "十分" else re.escape(w) for w in _PROTECTED)
    + ")"
    f"|百分之(?P<percent>{_RUN})"
    f"|(?P<run>{_RUN})"
)
_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_CJK_OR_DIGIT = re.compile(f"[{_CJK}0-9]")


def parse_chinese_integer(text: str) -> int | None:
    """Value of a Chinese numeral with place units (二十三, 两万四千, 一百零五, and the
    colloquial 两万四 = 24000, 三千五 = 3500); None if it is not a well-formed number."""
    if not text:
        return None
    total = section = 0
    digit: int | None = None
    section_unit: int | None = None  # smallest unit so far in this section (must fall)
    last_unit: int | None = None  # most recent unit of any size
    after_zero = False
    for ch in text:
        if ch in _DIGITS:
            if digit is not None:
                return None  # "三四" is a range or a digit string, not one number
            if _DIGITS[ch] == 0:
                after_zero = True
                continue
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if section_unit is not None and unit >= section_unit:
                return None  # 十百, 五百三千
            if digit is None:
                if unit != 10 or not (section == 0 or after_zero):
                    return None
                digit = 1  # 十五 = 15, 一千零十 = 1010
            section += digit * unit
            digit, section_unit, last_unit, after_zero = None, unit, unit, False
        elif ch in _BIG_UNITS:
            big = _BIG_UNITS[ch]
            if digit is not None:
                section += digit
                digit = None
            if section == 0:
                return None  # a bare 万/亿 (万一, 千万 are protected words anyway)
            total = (total + section) * big if big > 10_000 else total + section * big
            section, section_unit, last_unit, after_zero = 0, None, big, False
        else:
            return None
    if digit is not None:
        if last_unit is not None and last_unit >= 100 and not after_zero:
            section += digit * (last_unit // 10)
        else:
            section += digit
    return total + section


def _digit_string(run: str) -> str:
    return "".join(str(_DIGITS[ch]) for ch in run)


_TIME_CONTEXT = ("上午", "下午", "中午", "晚上", "早上", "凌晨", "夜里", "到", "从", "约", "在")


def _convert_run(run: str, after: str, before: str = "") -> str | None:
    """Arabic form of a numeral run in context, or None to leave it as spoken."""
    integer, _, decimal = run.partition("点")
    has_unit = any(ch in _UNITS or ch in _BIG_UNITS for ch in integer)
    if decimal:
        value = parse_chinese_integer(integer) if has_unit else None
        head = (
            str(value) if value is not None else (_digit_string(integer) if not has_unit else None)
        )
        return None if head is None else f"{head}.{_digit_string(decimal)}"
    if not has_unit:
        if "洞" in integer and len(integer) < 3:
            return None
        if len(integer) >= 3:
            return _digit_string(integer)
        suffix = next((s for s in _SUFFIXES if after.startswith(s)), None)
        if suffix is None:
            return None
        if integer == "一" and suffix == "点" and not before.endswith(_TIME_CONTEXT):
            return None  # 快一点, 好一点: "a bit", not one o'clock
        return _digit_string(integer)
    value = parse_chinese_integer(integer)
    if value is None:
        return None
    if integer == "十" and not any(after.startswith(s) for s in _SUFFIXES):
        return None
    return str(value)


def remove_cjk_spaces(text: str) -> str:
    """Drop whitespace whose both neighbours are CJK characters or digits."""
    return _remove_spaces(text)[0]


def _remove_spaces(text: str) -> tuple[str, list[int]]:
    kept: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            prev = text[kept[-1]] if kept else ""
            nxt = next((c for c in text[i + 1 :] if not c.isspace()), "")
            if (prev and nxt and _CJK_OR_DIGIT.match(prev) and _CJK_OR_DIGIT.match(nxt)) or (
                prev and prev.isspace()
            ):
                continue
        kept.append(i)
    return "".join(text[i] for i in kept), kept


def _numbers(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Convert numerals; returns the new text and, per input char, its output span."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = length = 0

    def keep(upto: int) -> None:
        nonlocal pos, length
        for ch in text[pos:upto]:
            out.append(ch)
            spans.append((length, length + 1))
            length += 1
        pos = upto

    for m in _TOKEN.finditer(text):
        keep(m.start())
        after = text[m.end() :]
        replacement: str | None = None
        if m.group("percent"):
            value = _convert_run(m.group("percent"), "元")  # force numeric reading
            replacement = None if value is None else f"{value}%"
        elif m.group("run"):
            replacement = _convert_run(
                m.group("run"), after, text[max(0, m.start() - 2) : m.start()]
            )
        if replacement is None:
            keep(m.end())
            continue
        out.append(replacement)
        spans.extend([(length, length + len(replacement))] * (m.end() - m.start()))
        length += len(replacement)
        pos = m.end()
    keep(len(text))
    return "".join(out), spans


def spoken_numbers_to_digits(text: str) -> str:
    return _numbers(text)[0]


def normalize(text: str) -> str:
    """Full clean-up of one Mandarin transcript string."""
    return spoken_numbers_to_digits(remove_cjk_spaces(text)).strip()


# ------------------------------------------------------------------ confidence marking


class _WordLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def conf(self) -> float: ...


@dataclass(frozen=True)
class Span:
    """A stretch of the cleaned text the recogniser was unsure about."""

    text: str
    start: int  # character offsets in CleanTranscript.text
    end: int
    conf: float


@dataclass(frozen=True)
class CleanTranscript:
    text: str
    low_confidence: list[Span]

    def marked(self, left: str = "【", right: str = "】") -> str:
        """Text with unsure spans bracketed, e.g. for an agent's screen."""
        out, pos = [], 0
        for span in self.low_confidence:
            out += [self.text[pos : span.start], left, span.text, right]
            pos = span.end
        out.append(self.text[pos:])
        return "".join(out)


def clean_words(words: Sequence[_WordLike], threshold: float = 0.6) -> CleanTranscript:
    """Join recogniser words, clean them up, and locate the low-confidence ones in the
    cleaned text (a number spoken as several words becomes one span if any was unsure)."""
    raw_parts: list[str] = []
    word_spans: list[tuple[int, int, float]] = []
    offset = 0
    for word in words:
        if raw_parts:
            raw_parts.append(" ")
            offset += 1
        raw_parts.append(word.text)
        word_spans.append((offset, offset + len(word.text), word.conf))
        offset += len(word.text)
    raw = "".join(raw_parts)
    spaced, kept = _remove_spaces(raw)
    cleaned, out_spans = _numbers(spaced)
    raw_to_spaced = {src: i for i, src in enumerate(kept)}

    merged: list[list[float]] = []  # [start, end, conf]
    for start, end, conf in word_spans:
        if conf >= threshold:
            continue
        idx = [raw_to_spaced[i] for i in range(start, end) if i in raw_to_spaced]
        if not idx:
            continue
        s = min(out_spans[i][0] for i in idx)
        e = max(out_spans[i][1] for i in idx)
        if merged and s < merged[-1][1]:  # same converted number
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2] = min(merged[-1][2], conf)
        else:
            merged.append([s, e, conf])
    spans = [Span(cleaned[int(s) : int(e)], int(s), int(e), c) for s, e, c in merged]
    return CleanTranscript(cleaned, spans)
